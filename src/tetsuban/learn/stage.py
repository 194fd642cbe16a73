"""The training stage: a linear probe (logistic or SVM) on the labelled train images' embeddings, validated on the
val images, saved as a model folder under ``models/``; test images are never used."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tetsuban.backbones.stage import backbone, embed_with, embeddings_with
from tetsuban.errors import ProjectError
from tetsuban.learn.train import TrainingData, TrainReport, train_probe
from tetsuban.progress import ProgressFn
from tetsuban.workspace import Workspace

MODELS_DIR = "models"


def models_dir(ws: Workspace) -> Path:
    """Where the workspace's trained models go, one folder each."""
    return ws.root / MODELS_DIR


def train(
    ws: Workspace,
    c: float | None = None,
    search_c: bool = False,
    seed: int = 0,
    on_progress: ProgressFn | None = None,
    head: str = "logistic",
) -> TrainReport:
    """Train the linear probe (``head`` "logistic", or "svm") into ``models/<id>/``, embedding the images not
    cached yet.

    With splits, the head learns from the labelled train images and is validated (and C chosen) on the val images;
    test images are never used. Without splits, every labelled image is used and cross-validated.
    """
    labels = ws.labelled()
    train_ids, val_ids = train_and_val(ws, labels)
    records, graph, pipeline = ws.images(), backbone(ws), ws.pipeline()  # each read or hashed once
    report = embed_with(ws, records, graph, pipeline, on_progress, train_ids + val_ids)
    vectors = embeddings_with(ws, records, graph, pipeline, train_ids + val_ids)
    missing = [i for i in train_ids + val_ids if i not in vectors]
    if missing:
        reasons = "; ".join(f"{path}: {why}" for path, why in report.failed[:3])
        raise ProjectError(
            f"{len(missing)} labelled image(s) have no embedding ({reasons}). "
            "Fix or re-import those files (tetsuban status lists them), or clear their labels."
        )
    shas = {r.id: r.sha256 for r in records}

    def data(ids: Sequence[int]) -> TrainingData:
        return TrainingData([shas[i] for i in ids], [labels[i] for i in ids], np.stack([vectors[i] for i in ids]))

    held_out = data(val_ids) if val_ids else None
    return train_probe(models_dir(ws), data(train_ids), graph, pipeline, c, search_c, seed, held_out, head)


def train_and_val(ws: Workspace, labels: Mapping[int, str]) -> tuple[list[int], list[int]]:
    """The labelled images a model learns from (the train split; every one before splits exist) and those it is
    validated on (the val split); test images are never among them."""
    if not labels:
        raise ProjectError("No image is labelled yet. Label some images (or import labelled ones) first.")
    splits = ws.splits()
    train_ids = [i for i in labels if splits.get(i) == "train"] if splits else list(labels)
    if not train_ids:
        raise ProjectError("No labelled image is in the train split. Label more images, or split again.")
    return train_ids, [i for i in labels if splits.get(i) == "val"]
