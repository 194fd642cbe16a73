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
from typing import Protocol

import numpy as np

from tetsuban.backbones.onnx_export import ExportedBackbone
from tetsuban.errors import ConfigError
from tetsuban.learn.artifact import Artifact, write_artifact
from tetsuban.learn.card import (
    BackboneCard,
    DataCard,
    HeadCard,
    KnnHeadCard,
    LogisticHeadCard,
    ModelCard,
    SvmHeadCard,
)
from tetsuban.learn.head import C_GRID, DEFAULT_C, LinearHead, fit_linear_head
from tetsuban.learn.knn import SHARPNESS, KnnHead, fit_knn_head
from tetsuban.learn.svm import DEFAULT_SVM_C, SHOWN_PER_CLASS, fit_svm_head
from tetsuban.learn.validate import Validation, choose_c, score_held_out, validate
from tetsuban.params import check_choice
from tetsuban.pipeline.spec import Pipeline

HEADS: tuple[str, ...] = (LogisticHeadCard.kind, SvmHeadCard.kind, KnnHeadCard.kind)  # what --head chooses
_VERSIONED = ("tetsuban", "numpy", "scikit-learn", "onnx", "onnxruntime", "timm", "torch")


@dataclass(frozen=True)
class TrainingData:
    """The labelled images a head learns from: content hashes, labels and embeddings (N, D), row for row."""

    shas: Sequence[str]
    labels: Sequence[str]
    embeddings: np.ndarray


class Labelled(Protocol):
    """Labelled images named by content hash, row for row: what a model card describes of its data."""

    @property
    def shas(self) -> Sequence[str]: ...

    @property
    def labels(self) -> Sequence[str]: ...


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
    head_kind: str = "logistic",
) -> TrainReport:
    """Fit the probe (C given, else searched when ``search_c``, else the default), validate it, write it.

    With ``held_out`` (the validation split), C is chosen and the head scored on it; otherwise by k-fold on ``data``.
    ``head_kind`` "svm" fits a linear SVM instead (see :mod:`tetsuban.learn.svm`).
    """
    check_choice("head", head_kind, HEADS)
    if head_kind == "svm":
        return _train_svm(models_dir, data, backbone, pipeline, c, search_c, seed, held_out)
    if head_kind == "knn":
        if c is not None or search_c:
            raise ConfigError("--c and --search-c are for the logistic and SVM heads; the kNN head has no C.")
        return _train_knn(models_dir, data, backbone, pipeline, seed, held_out)
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
    said = LogisticHeadCard(chosen, "given" if c is not None else (_searched_on(held_out) if search_c else "default"))
    card = model_card(
        models_dir, head, said, validation, data, held_out, backbone, pipeline, seed, time.perf_counter() - started
    )
    artifact = write_artifact(models_dir / card.id, backbone, head, card)
    return TrainReport(artifact, chosen, validation, time.perf_counter() - started)


def model_card(
    models_dir: Path,
    head: LinearHead | KnnHead,
    said: HeadCard,
    validation: Validation,
    data: Labelled,
    held_out: Labelled | None,
    backbone: ExportedBackbone,
    pipeline: Pipeline,
    seed: int,
    seconds: float,
) -> ModelCard:
    """The card of a model made now with ``head`` in ``seconds``, the head described as ``said``: its id, time,
    classes, validation, data, backbone, pipeline and versions."""
    created = datetime.now(UTC)
    data_hash = labels_sha256(data.shas, data.labels)
    return ModelCard(
        id=_model_id(models_dir, created, data_hash),
        created_at=created.isoformat(timespec="seconds"),
        classes=tuple(head.classes),
        head=said,
        validation=validation,
        label_counts=dict(sorted(Counter(data.labels).items())),
        data=DataCard(
            len(data.shas),
            data_hash,
            0 if held_out is None else len(held_out.shas),
            None if held_out is None else labels_sha256(held_out.shas, held_out.labels),
        ),
        backbone=BackboneCard(
            backbone.name, backbone.key, backbone.weights_sha256, backbone.input_size, taps=backbone.taps
        ),
        pipeline=pipeline,
        preprocess_hash=pipeline.preprocess_hash(),
        versions=_versions(),
        seed=seed,
        train_seconds=round(seconds, 3),
    )


def _train_svm(
    models_dir: Path,
    data: TrainingData,
    backbone: ExportedBackbone,
    pipeline: Pipeline,
    c: float | None,
    search_c: bool,
    seed: int,
    held_out: TrainingData | None,
) -> TrainReport:
    """The linear SVM head: scored on the validation split (there is no k-fold for it); its support vectors in the
    card, by content hash, the closest to the boundary first."""
    if search_c:
        raise ConfigError("--search-c chooses C for the logistic head; give the SVM's C with --c.")
    started = time.perf_counter()
    chosen = DEFAULT_SVM_C if c is None else c
    fit = fit_svm_head(
        data.embeddings, data.labels, chosen, None if held_out is None else (held_out.embeddings, held_out.labels)
    )
    if held_out is not None:
        validation = score_held_out(fit.head, held_out.embeddings, held_out.labels)
    else:
        note = "no validation split (tetsuban split makes one); the SVM is not cross-validated"
        validation = Validation("none", 0, len(data.labels), None, None, {}, note)
    said = SvmHeadCard(
        chosen,
        "given" if c is not None else "default",
        fit.temperature,
        "validation split" if held_out is not None else "none (1)",
        {name: len(rows) for name, rows in fit.support.items()},
        {name: tuple(data.shas[i] for i in rows[:SHOWN_PER_CLASS]) for name, rows in fit.support.items()},
    )
    card = model_card(
        models_dir, fit.head, said, validation, data, held_out, backbone, pipeline, seed, time.perf_counter() - started
    )
    artifact = write_artifact(models_dir / card.id, backbone, fit.head, card)
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


def _train_knn(
    models_dir: Path,
    data: TrainingData,
    backbone: ExportedBackbone,
    pipeline: Pipeline,
    seed: int,
    held_out: TrainingData | None,
) -> TrainReport:
    """The k-nearest-neighbours head: the training embeddings go into the graph; scored on the validation split."""
    started = time.perf_counter()
    head = fit_knn_head(data.embeddings, data.labels)
    if held_out is not None:
        validation = score_held_out(head, held_out.embeddings, held_out.labels)
    else:
        note = "no validation split (tetsuban split makes one); the kNN head is not cross-validated"
        validation = Validation("none", 0, len(data.labels), None, None, {}, note)
    said = KnnHeadCard(head.k, "cosine", f"softmax({SHARPNESS:g} x similarity) over the k nearest", len(data.labels))
    card = model_card(
        models_dir, head, said, validation, data, held_out, backbone, pipeline, seed, time.perf_counter() - started
    )
    artifact = write_artifact(models_dir / card.id, backbone, head, card)
    return TrainReport(artifact, float("nan"), validation, time.perf_counter() - started)
