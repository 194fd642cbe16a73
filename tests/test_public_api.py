"""The public surface is small and deliberate, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import tetsuban

PUBLIC = {
    "Artifact",
    "ConfigError",
    "EmbedReport",
    "ImageError",
    "ImageInfo",
    "ImportReport",
    "PredictReport",
    "Project",
    "ProjectConfig",
    "ProjectError",
    "ProjectStatus",
    "SchemaError",
    "SourceError",
    "TetsubanError",
    "__version__",
    "TrainReport",
    "decode",
    "inspect_image",
    "load_artifact",
    "predict",
}


def test_all_is_exactly_the_public_api() -> None:
    assert set(tetsuban.__all__) == PUBLIC
    for name in tetsuban.__all__:
        assert hasattr(tetsuban, name), name


def test_every_error_derives_from_the_root() -> None:
    for name in PUBLIC:
        value = getattr(tetsuban, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, tetsuban.TetsubanError), name


def test_import_does_not_import_torch() -> None:
    heavy = "('torch', 'timm', 'onnxruntime', 'onnx', 'sklearn')"
    code = f"import sys, tetsuban; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
