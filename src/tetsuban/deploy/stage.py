"""``tetsuban export``: a model folder written as a file that runs without tetsuban, in the format asked for."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tetsuban.deploy.standalone import write_standalone
from tetsuban.errors import ConfigError, ProjectError
from tetsuban.learn.artifact import Artifact, load_artifact

FORMATS = ("onnx-standalone",)


@dataclass(frozen=True)
class ExportReport:
    """What was written: the format, the file, its size."""

    format: str
    output: Path
    bytes: int


def export_model(model: str | Path | Artifact, format: str, output: str | Path) -> ExportReport:
    """Write the model of folder ``model`` in ``format`` (one of :data:`FORMATS`) to ``output``."""
    if format not in FORMATS:
        raise ConfigError(f"The export format must be one of {', '.join(FORMATS)}. Got {format!r}.")
    artifact = model if isinstance(model, Artifact) else load_artifact(model)
    out = Path(output).expanduser()
    if out.is_dir():
        raise ProjectError(f"{out} is a folder; name the file to write, for example {out / 'model.onnx'}.")
    written = write_standalone(artifact, out)
    return ExportReport(format, written, written.stat().st_size)
