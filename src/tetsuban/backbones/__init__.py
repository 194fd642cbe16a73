"""Pretrained backbones: the registry by name and where each one's weights come from.

Nothing here imports torch until a model is built (``import tetsuban`` stays light).
"""

from __future__ import annotations

from tetsuban.backbones.registry import BACKBONES, BackboneSpec, backbone_spec, build_torch

__all__ = ["BACKBONES", "BackboneSpec", "backbone_spec", "build_torch"]
