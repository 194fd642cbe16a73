"""A model on the test split: every labelled test image through the model artifact itself (the exact path that
prediction takes), its probabilities kept beside the model so that comparisons need not run it again.

The test split is never used for training or for choosing anything (C is chosen on val), so these figures are
the honest ones. A test file that cannot be read is listed, not counted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from tetsuban.errors import FileRefused, ProjectError
from tetsuban.evaluate.metrics import Metrics, score
from tetsuban.files import read_bounded, write_atomic
from tetsuban.learn.artifact import Artifact
from tetsuban.learn.predict import predict_files
from tetsuban.progress import ProgressFn

MAX_SAVED_BYTES = 512 * 1024 * 1024  # saved test probabilities larger than this are not read back: run again

PREDICTIONS_NAME = "test_predictions.json"


@dataclass(frozen=True)
class ScoredImage:
    """A labelled test image: its id, file and label."""

    image_id: int
    path: Path
    label: str


@dataclass(frozen=True)
class Evaluation:
    """A model's probabilities (N, K in ``classes`` order) on the test images it could read, and its metrics."""

    model_id: str
    classes: tuple[str, ...]
    items: tuple[ScoredImage, ...]
    probabilities: np.ndarray
    failed: tuple[tuple[str, str], ...]  # (file, reason)
    test_hash: str

    @cached_property  # read by the report, the comparison, the slices and the map: scored once
    def metrics(self) -> Metrics:
        return score([item.label for item in self.items], self.probabilities, self.classes)


def set_hash(items: list[ScoredImage]) -> str:
    """Which test set: a hash of its image ids and labels, so that stale predictions are never reused."""
    text = "\n".join(f"{item.image_id}\t{item.label}" for item in sorted(items, key=lambda i: i.image_id))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def evaluate_artifact(
    artifact: Artifact, items: list[ScoredImage], workers: int = 0, on_progress: ProgressFn | None = None
) -> Evaluation:
    """Run ``artifact`` on the test ``items`` (or reuse its stored run on the same test set)."""
    if not items:
        raise ProjectError(
            "No labelled image is in the test split. Split first (tetsuban split), then label test images "
            "(the app's 'validation and test' queue)."
        )
    model_id = artifact.card.id
    wanted = set_hash(items)
    stored = _load(artifact.folder / PREDICTIONS_NAME, wanted, items, model_id, artifact.classes)
    if stored is not None:
        return stored
    predictions = predict_files(artifact, [item.path for item in items], len(artifact.classes), workers, on_progress)
    column = {name: k for k, name in enumerate(artifact.classes)}
    kept, rows, failed = [], [], []
    for item, prediction in zip(items, predictions, strict=True):
        if prediction.error is not None:
            failed.append((str(item.path), prediction.error))
            continue
        row = np.zeros(len(artifact.classes), np.float32)
        for name, probability in prediction.top:
            row[column[name]] = probability
        kept.append(item)
        rows.append(row)
    probabilities = np.stack(rows) if rows else np.zeros((0, len(artifact.classes)), np.float32)
    found = Evaluation(model_id, artifact.classes, tuple(kept), probabilities, tuple(failed), wanted)
    _save(artifact.folder / PREDICTIONS_NAME, found)
    return found


def _save(path: Path, evaluation: Evaluation) -> None:
    data = {
        "test_hash": evaluation.test_hash,
        "classes": list(evaluation.classes),
        "image_ids": [item.image_id for item in evaluation.items],
        "probabilities": np.round(evaluation.probabilities, 6).tolist(),
        "failed": [list(f) for f in evaluation.failed],
    }
    write_atomic(path, json.dumps(data).encode("utf-8"))


def _load(
    path: Path, wanted: str, items: list[ScoredImage], model_id: str, classes: tuple[str, ...]
) -> Evaluation | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(read_bounded(path, MAX_SAVED_BYTES).decode("utf-8"))
        if data.get("test_hash") != wanted or tuple(data.get("classes", ())) != classes:
            return None
        by_id = {item.image_id: item for item in items}
        kept = tuple(by_id[i] for i in data["image_ids"])
        probabilities = np.asarray(data["probabilities"], np.float32).reshape(len(kept), len(classes))
        failed = tuple((str(f[0]), str(f[1])) for f in data["failed"])
    except (OSError, FileRefused, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None  # damaged, or not what it claims (a model folder may come from anyone): run again
    return Evaluation(model_id, classes, kept, probabilities, failed, wanted)
