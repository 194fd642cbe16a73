"""``tetsuban export``: a model folder written as a file that runs without tetsuban, in the format asked for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tetsuban.deploy.quantize import quantized_graph
from tetsuban.deploy.standalone import write_standalone
from tetsuban.deploy.web import check_runtime, runtime_folder, write_site
from tetsuban.errors import ConfigError, ProjectError
from tetsuban.learn.artifact import Artifact, load_artifact

FORMATS = ("onnx-standalone", "web")
QUANTIZATIONS = ("none", "int8")


@dataclass(frozen=True)
class ExportReport:
    """What was written: the format, the quantization, the file, its size."""

    format: str
    quantize: str
    output: Path
    bytes: int


def check_export(format: str, quantize: str) -> None:
    """A ConfigError naming the choices for a format or quantization tetsuban does not write."""
    if format not in FORMATS:
        raise ConfigError(f"The export format must be one of {', '.join(FORMATS)}. Got {format!r}.")
    if quantize not in QUANTIZATIONS:
        raise ConfigError(f"--quantize must be one of {', '.join(QUANTIZATIONS)}. Got {quantize!r}.")


def export_model(
    model: str | Path | Artifact,
    format: str,
    output: str | Path,
    quantize: str = "none",
    calibration: Sequence[Path] = (),
) -> ExportReport:
    """Write the model of folder ``model`` in ``format`` (one of :data:`FORMATS`) to ``output``; with ``quantize``
    int8, its convolutions in int8, calibrated on the images ``calibration`` (the project's training images)."""
    check_export(format, quantize)
    artifact = model if isinstance(model, Artifact) else load_artifact(model)
    out = Path(output).expanduser()
    if format == "onnx-standalone" and out.is_dir():
        raise ProjectError(f"{out} is a folder; name the file to write, for example {out / 'model.onnx'}.")
    if format == "web":
        check_runtime(runtime_folder())  # before int8's calibration, not after it
    inner = quantized_graph(artifact, calibration) if quantize == "int8" else None
    if format == "web":
        site = write_site(artifact, out, inner)
        return ExportReport(format, quantize, site, sum(f.stat().st_size for f in site.iterdir()))
    written = write_standalone(artifact, out, inner)
    return ExportReport(format, quantize, written, written.stat().st_size)
