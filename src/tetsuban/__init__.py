"""tetsuban: from a folder of images to a trained, honestly evaluated image classifier.

The public API is what ``__all__`` lists; everything else is internal and may change.

The code is in layers; each imports only from its own and the layers below it (tests/test_layers.py checks this
on the source):

1. Foundation: errors, params, files, progress, classnames, csvcells, cache, parallel, runtime, templating, props.
2. Base: imaging (decoding), store (the database), pipeline (transforms), infer (the ONNX runner), config.
3. The workspace (workspace.py): a project's folder, configuration and store, and the reads every stage shares.
4. The stages, in the order of the data flow; a stage takes a workspace and uses only the stages before it:
   ingest (sources), status, survey (and the property sheet), splits, backbones (embeddings), learn (training),
   active (the labelling loop and labels), agreement, accounts, finetune, deploy (files that run without
   tetsuban), evaluate (and the doctor), export.
   A stage package's entry is ``<stage>/stage.py``.
5. Above the stages: reports (the HTML reports and the contact sheet), commands (what a command does that spans
   stages, with its rules) and project.py (``Project``, the facade).
6. The interfaces: cli (commands only) and console (all it prints), server (the labelling app),
   ``python -m tetsuban``.
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
