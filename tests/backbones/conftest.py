"""The default backbone exported once per test session (into the session's cache)."""

from __future__ import annotations

import pytest

from tetsuban.backbones.onnx_export import ExportedBackbone, export_backbone


@pytest.fixture(scope="session")
def lite0_onnx() -> ExportedBackbone:
    return export_backbone("efficientnet_lite0")
