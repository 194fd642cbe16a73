"""Predict with a model artifact: a folder, a CSV of paths or one image in, a CSV of labels and top-k out.

Prediction decodes and preprocesses with exactly the pipeline stored in the artifact. A file that cannot be read
is a row with its reason in the ``error`` column, never the end of the run.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tetsuban.csvcells import safe_row
from tetsuban.errors import SourceError
from tetsuban.files import write_atomic
from tetsuban.infer import InferenceJob, Inferred, infer
from tetsuban.ingest.folder import walk_files
from tetsuban.ingest.kinds import CSV_SUFFIXES
from tetsuban.ingest.table import read_csv
from tetsuban.learn.artifact import PROBABILITIES_NAME, Artifact, load_artifact
from tetsuban.parallel import worker_count
from tetsuban.params import check_int
from tetsuban.pipeline.inputs import check_model_input
from tetsuban.progress import ProgressFn


@dataclass(frozen=True)
class PredictReport:
    """Where the predictions went, how many images were predicted and how many could not be."""

    output: Path
    predicted: int
    failed: int
    seconds: float


@dataclass(frozen=True)
class Prediction:
    """One input's result: its classes by probability (top k), or why it has none."""

    path: str
    top: list[tuple[str, float]]
    error: str | None = None


def predict(
    model: str | Path | Artifact,
    source: str | Path,
    output: str | Path,
    k: int = 3,
    workers: int = 0,
    on_progress: ProgressFn | None = None,
) -> PredictReport:
    """Predict every image of ``source`` (folder, CSV with a path column, or one image) into the CSV ``output``."""
    started = time.perf_counter()
    artifact = model if isinstance(model, Artifact) else load_artifact(model)
    check_int("k", k, 1, 100)
    files, errors = _inputs(Path(source).expanduser())
    results = predict_files(artifact, files, k, workers, on_progress)
    rows = results + [Prediction(path, [], reason) for path, reason in errors]
    out = Path(output).expanduser()
    write_atomic(out, _csv_text(rows, min(k, len(artifact.classes))).encode("utf-8"))
    failed = sum(r.error is not None for r in rows)
    return PredictReport(out, len(rows) - failed, failed, time.perf_counter() - started)


def predict_files(
    artifact: Artifact, files: Sequence[Path], k: int = 3, workers: int = 0, on_progress: ProgressFn | None = None
) -> list[Prediction]:
    """The top ``k`` classes of each file, in order; unreadable files come back with their reason."""
    classes = np.asarray(artifact.classes)
    found: list[Prediction] = []
    for batch in run_model(artifact, files, (PROBABILITIES_NAME,), workers):
        for result in batch:
            path = str(files[result.key])
            if result.outputs is None:
                found.append(Prediction(path, [], result.error or "not predicted"))
                continue
            probs = result.outputs[PROBABILITIES_NAME]
            order = np.argsort(-probs, kind="stable")[:k]
            found.append(Prediction(path, [(str(classes[i]), float(probs[i])) for i in order]))
        if on_progress is not None:
            on_progress(len(found), len(files))
    return found


def run_model(
    artifact: Artifact, files: Sequence[Path], outputs: tuple[str, ...], workers: int = 0
) -> Iterator[list[Inferred]]:
    """The artifact's graph run on ``files`` as prediction runs it: each file decoded and preprocessed by the
    pipeline stored in the artifact, batch by batch in order (each result's key is the file's index)."""
    pipeline = artifact.pipeline
    check_model_input(pipeline, artifact.input_size)
    job = InferenceJob(artifact.model_path, pipeline.to_dict(), outputs)
    yield from infer(job, list(enumerate(files)), worker_count(workers))


def _inputs(source: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """The image files named by ``source``, and the entries that cannot be predicted with their reasons."""
    if source.is_dir():
        return list(walk_files(source.resolve())), []
    if not source.exists():
        raise SourceError(f"{source} does not exist. Give a folder of images, a CSV with a path column, or an image.")
    if source.suffix.lower() in CSV_SUFFIXES:
        rows = read_csv(source, copy=False)
        errors = [(o.item, o.reason or "unusable row") for o in rows.bad_rows]
        errors += [(u.url, "a URL: import it into a project first (tetsuban import)") for u in rows.urls]
        return [Path(t.path) for t in rows.files], errors
    return [source.resolve()], []


def _csv_text(rows: Sequence[Prediction], k: int) -> str:
    header = ["path", "label", "probability"]
    for rank in range(2, k + 1):
        header += [f"label_{rank}", f"probability_{rank}"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*header, "error"])
    for row in rows:
        cells: list[str] = [row.path]
        for rank in range(k):
            label, prob = row.top[rank] if rank < len(row.top) else ("", None)
            cells += [label, "" if prob is None else f"{prob:.6f}"]
        writer.writerow(safe_row([*cells, row.error or ""]))
    return buffer.getvalue()
