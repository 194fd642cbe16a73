"""Train the linear probe on cached embeddings of the labelled images and write it as a model artifact."""

from __future__ import annotations

import hashlib
import platform
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from tetsuban.backbones.onnx_export import ExportedBackbone
from tetsuban.learn.artifact import Artifact, write_artifact
from tetsuban.learn.head import C_GRID, DEFAULT_C, fit_linear_head
from tetsuban.learn.validate import Validation, choose_c, score_held_out, validate
from tetsuban.pipeline.spec import Pipeline

_VERSIONED = ("tetsuban", "numpy", "scikit-learn", "onnx", "onnxruntime", "timm", "torch")


@dataclass(frozen=True)
class TrainingData:
    """The labelled images a head learns from: content hashes, labels and embeddings (N, D), row for row."""

    shas: Sequence[str]
    labels: Sequence[str]
    embeddings: np.ndarray


@dataclass(frozen=True)
class TrainReport:
    """The artifact written, and how the head was chosen and validated."""

    artifact: Artifact
    c: float
    validation: Validation
    seconds: float


def train_probe(
    models_dir: Path,
    data: TrainingData,
    backbone: ExportedBackbone,
    pipeline: Pipeline,
    c: float | None = None,
    search_c: bool = False,
    seed: int = 0,
    held_out: TrainingData | None = None,
) -> TrainReport:
    """Fit the probe (C given, else searched when ``search_c``, else the default), validate it, write it.

    With ``held_out`` (the validation split), C is chosen and the head scored on it; otherwise by k-fold on ``data``.
    """
    started = time.perf_counter()
    if c is not None or not search_c:
        chosen = c if c is not None else DEFAULT_C
    elif held_out is not None:
        chosen = choose_c_on(data, held_out)
    else:
        chosen = choose_c(data.embeddings, data.labels, seed=seed)
    head = fit_linear_head(data.embeddings, data.labels, chosen)
    if held_out is not None:
        validation = score_held_out(head, held_out.embeddings, held_out.labels)
    else:
        validation = validate(data.embeddings, data.labels, chosen, seed)
    created = datetime.now(UTC)
    data_hash = labels_sha256(data.shas, data.labels)
    card = {
        "id": _model_id(models_dir, created, data_hash),
        "created_at": created.isoformat(timespec="seconds"),
        "classes": list(head.classes),
        "head": {
            "kind": "logistic_regression",
            "C": chosen,
            "C_from": "given" if c is not None else (_searched_on(held_out) if search_c else "default"),
            "class_weight": "balanced",
            "standardized": True,
        },
        "validation": validation.to_dict(),
        "label_counts": dict(sorted(Counter(data.labels).items())),
        "data": {
            "images": len(data.shas),
            "labels_sha256": data_hash,
            "validation_images": 0 if held_out is None else len(held_out.shas),
            "validation_labels_sha256": None if held_out is None else labels_sha256(held_out.shas, held_out.labels),
        },
        "backbone": {
            "name": backbone.name,
            "key": backbone.key,
            "weights_sha256": backbone.weights_sha256,
            "input_size": backbone.input_size,
        },
        "pipeline": pipeline.to_dict(),
        "preprocess_hash": pipeline.preprocess_hash(),
        "versions": _versions(),
        "seed": seed,
    }
    card["train_seconds"] = round(time.perf_counter() - started, 3)
    artifact = write_artifact(models_dir / str(card["id"]), backbone, head, card)
    return TrainReport(artifact, chosen, validation, time.perf_counter() - started)


def choose_c_on(data: TrainingData, held_out: TrainingData) -> float:
    """The C of the grid whose head scores the best balanced accuracy on ``held_out`` (the smaller on a tie)."""
    scored = []
    for c in sorted(C_GRID):
        head = fit_linear_head(data.embeddings, data.labels, c)
        scored.append((score_held_out(head, held_out.embeddings, held_out.labels).balanced_accuracy or 0.0, -c))
    return -max(scored)[1]


def _searched_on(held_out: TrainingData | None) -> str:
    return "search on k-fold" if held_out is None else "search on the validation split"


def labels_sha256(shas: Sequence[str], labels: Sequence[str]) -> str:
    """Names the training data: sha256 over the sorted lines ``image-sha256 label``."""
    lines = sorted(f"{s} {label}" for s, label in zip(shas, labels, strict=True))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _model_id(models_dir: Path, created: datetime, data_hash: str) -> str:
    base = f"{created:%Y%m%d-%H%M%S}-{data_hash[:6]}"
    candidate, n = base, 1
    while (models_dir / candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
