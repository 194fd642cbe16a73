"""Sanity checks of a model on trivial cases, each passing or failing with its numbers:

- the head can overfit 20 training images (if it cannot, the features or the labels are broken);
- with shuffled labels it does no better than chance on the validation images (if it does, something leaks);
- the embeddings the model computes from the image files (prediction's path) equal those training used (the
  project's cache): preprocessing at training and at prediction time agree.

The fourth check, no test image a near-duplicate of a training image, is the doctor's leakage check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tetsuban.backbones.onnx_export import EMBEDDING_NAME
from tetsuban.deploy.agreement import graph_agreement
from tetsuban.deploy.standalone import standalone_model
from tetsuban.evaluate.doctor import Finding
from tetsuban.learn.artifact import Artifact
from tetsuban.learn.head import fit_linear_head
from tetsuban.learn.predict import run_model
from tetsuban.learn.validate import score_held_out

OVERFIT_IMAGES = 20
OVERFIT_C = 1e4  # next to no regularization: the head should learn the 20 by heart
SHUFFLE_MARGIN = 0.1  # over the majority class's share, at most
AGREE_COSINE = 0.999


def overfit_check(embeddings: np.ndarray, labels: Sequence[str], seed: int = 0) -> Finding:
    """A head fitted on 20 training images (at least two classes) gets all 20 right."""
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(labels))[:OVERFIT_IMAGES]
    chosen = [labels[i] for i in rows]
    if len(set(chosen)) < 2:
        return Finding("overfit", "warn", "The training images picked have one class; nothing to overfit.")
    head = fit_linear_head(embeddings[rows], chosen, OVERFIT_C)
    accuracy = float(score_held_out(head, embeddings[rows], chosen).accuracy or 0.0)
    if accuracy >= 1.0:
        return Finding("overfit", "pass", f"The head learns {len(rows)} training images by heart (accuracy 1.000).")
    return Finding(
        "overfit",
        "fail",
        f"The head fits {len(rows)} training images to accuracy {accuracy:.3f} only, where it should reach 1.000.",
        "Identical images with different labels, or embeddings that do not tell the images apart: look at the "
        "survey's duplicates and the pipeline's preview.",
    )


def shuffle_check(
    train: np.ndarray, train_labels: Sequence[str], val: np.ndarray, val_labels: Sequence[str], seed: int = 0
) -> Finding:
    """A head fitted on shuffled training labels scores at chance on the validation images."""
    if not len(val_labels):
        return Finding("shuffled labels", "warn", "No labelled validation image to score shuffled labels on.")
    shuffled = list(np.random.default_rng(seed).permutation(np.asarray(train_labels)))
    if len(set(shuffled)) < 2:
        return Finding("shuffled labels", "warn", "The training images have one class; nothing to shuffle.")
    head = fit_linear_head(train, shuffled)
    accuracy = float(score_held_out(head, val, val_labels).accuracy or 0.0)
    chance = max(Counter(val_labels).values()) / len(val_labels)
    numbers = f"accuracy {accuracy:.3f} on {len(val_labels)} validation images against chance {chance:.3f}"
    if accuracy <= chance + SHUFFLE_MARGIN:
        return Finding("shuffled labels", "pass", f"With shuffled labels the head is at chance: {numbers}.")
    return Finding(
        "shuffled labels",
        "fail",
        f"With shuffled labels the head still beats chance: {numbers}.",
        "Validation images that are near-duplicates of training images, or labels readable from something other "
        "than the picture: run tetsuban survey and tetsuban doctor.",
    )


def agreement_check(artifact: Artifact, files: Sequence[Path], cached: np.ndarray, workers: int = 1) -> Finding:
    """The model's embeddings of ``files`` (prediction's path) against the cached ones training used (row for row)."""
    computed: dict[int, np.ndarray] = {}
    for batch in run_model(artifact, files, (EMBEDDING_NAME,), workers):
        for result in batch:
            if result.outputs is not None:
                computed[result.key] = result.outputs[EMBEDDING_NAME]
    if not computed:
        return Finding("preprocessing", "warn", "None of the images checked could be read.")
    rows = sorted(computed)
    a = np.stack([computed[i] for i in rows]).astype(np.float64)
    b = cached[rows].astype(np.float64)
    cosine = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
    worst = float(cosine.min())
    numbers = f"lowest cosine {worst:.5f} over {len(rows)} images, largest difference {np.abs(a - b).max():.2e}"
    if worst >= AGREE_COSINE:
        return Finding("preprocessing", "pass", f"Prediction embeds the images as training did: {numbers}.")
    return Finding(
        "preprocessing",
        "fail",
        f"Prediction embeds the images differently from training: {numbers}.",
        "The pipeline changed since the embeddings were cached, or the model's card holds another pipeline: embed "
        "again and retrain.",
    )


def standalone_check(artifact: Artifact, files: Sequence[Path], workers: int = 1) -> Finding:
    """The standalone graph (``tetsuban export --format onnx-standalone``) against the model itself on ``files``:
    the same most probable class, but where the model's two most probable are a near tie."""
    refusals = artifact.pipeline.graph_refusals()
    if refusals:
        return Finding(
            "standalone graph",
            "warn",
            "The model cannot be exported as one ONNX graph: " + "; ".join(refusals) + ".",
            "Only tetsuban can run it; to export it, train with a pipeline without those steps.",
        )
    found = graph_agreement(artifact, standalone_model(artifact).SerializeToString(), files, workers)
    if not found.images:
        return Finding("standalone graph", "warn", "None of the images checked could be read.")
    numbers = (
        f"the same class for {found.same} of {found.images} images"
        + (f", the runner-up of a near tie for {found.near_ties}" if found.near_ties else "")
        + f"; largest probability difference {found.largest_difference:.4f}"
    )
    if not found.different:
        return Finding("standalone graph", "pass", f"The exported graph predicts as the model does: {numbers}.")
    return Finding(
        "standalone graph",
        "fail",
        f"The exported graph predicts otherwise than the model for {found.different} images: {numbers}.",
        "Report it with the model's card.json: the graph's preprocessing should compute what the pipeline does.",
    )
