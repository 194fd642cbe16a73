"""tetsuban: from a folder of images to a trained, honestly evaluated image classifier.

The public API is what ``__all__`` lists; everything else is internal and may change.
"""

from __future__ import annotations

from tetsuban.backbones.embedder import EmbedReport
from tetsuban.config import ProjectConfig
from tetsuban.errors import (
    ConfigError,
    ImageError,
    ProjectError,
    SchemaError,
    SourceError,
    TetsubanError,
)
from tetsuban.imaging.decode import ImageInfo, decode, inspect_image
from tetsuban.ingest.engine import ImportReport
from tetsuban.learn.artifact import Artifact, load_artifact
from tetsuban.learn.predict import PredictReport, predict
from tetsuban.learn.train import TrainReport
from tetsuban.project import Project
from tetsuban.status import ProjectStatus

__version__ = "0.1.0"

__all__ = [
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
    "TrainReport",
    "__version__",
    "decode",
    "inspect_image",
    "load_artifact",
    "predict",
]
