"""Preprocessing and augmentation: transforms, pipelines, fitting, serialization and preview."""

from __future__ import annotations

from tetsuban.pipeline.spec import Pipeline, default_pipeline
from tetsuban.pipeline.transforms import TRANSFORMS, Transform

__all__ = ["TRANSFORMS", "Pipeline", "Transform", "default_pipeline"]
