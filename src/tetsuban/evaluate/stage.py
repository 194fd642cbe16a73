"""The evaluation stage: a model scored on the labelled test images (and compared with the model before it, or
with another), the doctor's checks that keep that score honest, and a model's sanity on trivial cases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tetsuban.backbones.stage import embed_with, stored_embeddings
from tetsuban.errors import ProjectError
from tetsuban.evaluate.compare import Comparison, compare_evaluations
from tetsuban.evaluate.doctor import Finding, diagnose
from tetsuban.evaluate.models import model_before, test_images
from tetsuban.evaluate.run import Evaluation, ScoredImage, evaluate_artifact
from tetsuban.evaluate.sanity import agreement_check, overfit_check, shuffle_check, standalone_check
from tetsuban.finetune.network import load_network, network_embeddings, network_weights
from tetsuban.learn.artifact import Artifact, load_artifact
from tetsuban.progress import ProgressFn
from tetsuban.status import project_status
from tetsuban.store.embeddings import load_embeddings
from tetsuban.store.images import ImageRecord
from tetsuban.survey.lookalikes import SAME_PICTURE, look_alike_pairs
from tetsuban.survey.stage import near_duplicates_by_kind, surveyed
from tetsuban.workspace import Workspace


@dataclass(frozen=True)
class Scored:
    """A model's evaluation, and (the id of the model before it, the comparison with it) when there is one."""

    artifact: Artifact
    evaluation: Evaluation
    previous: tuple[str, Comparison] | None


def test_set(ws: Workspace) -> list[ScoredImage]:
    """The labelled images of the test split, by image id."""
    records = ws.images()
    return test_images(records, ws.labelled(), ws.splits(), {r.id: ws.image_path(r) for r in records})


def evaluate_model(ws: Workspace, model: str | Path, workers: int = 0, on_progress: ProgressFn | None = None) -> Scored:
    """Score ``model`` on the labelled test images, and the model made before it (when there is one) on the same."""
    artifact = load_artifact(model)
    items = test_set(ws)
    evaluation = evaluate_artifact(artifact, items, workers, on_progress)
    before = model_before(artifact.folder.parent, artifact)
    previous = None
    if before is not None:
        earlier = evaluate_artifact(before, items, workers)
        previous = (earlier.model_id, compare_evaluations(earlier, evaluation))
    return Scored(artifact, evaluation, previous)


def compare_models(ws: Workspace, a: str | Path, b: str | Path, workers: int = 0) -> Comparison:
    """Model ``b`` against model ``a`` on the same test images: accuracies, difference, paired bootstrap CI."""
    items = test_set(ws)
    first = evaluate_artifact(load_artifact(a), items, workers)
    second = evaluate_artifact(load_artifact(b), items, workers)
    return compare_evaluations(first, second)


def doctor(ws: Workspace, model: str | Path | None = None, on_progress: ProgressFn | None = None) -> list[Finding]:
    """Checks for an honest evaluation: files, leakage across splits, class balance, test images per class; with
    ``model``, also its sanity on trivial cases (:func:`model_sanity`, whose steps ``on_progress`` hears of)."""
    measured = surveyed(ws)
    paths = {r.id: str(ws.image_path(r)) for r in ws.images()}
    vectors = stored_embeddings(ws)
    same_picture = look_alike_pairs(vectors, SAME_PICTURE, mutual=True)
    pairs, by_model = near_duplicates_by_kind(ws, measured, same_picture) if measured else (None, [])
    problems = project_status(ws.root, ws.config.name, ws.engine).problems
    findings = diagnose(problems, ws.labelled(), ws.splits(), pairs, paths, bool(vectors), by_model)
    if model is None:
        return findings
    return findings + model_sanity(ws, load_artifact(model_folder(ws, model)), on_progress=on_progress)


def model_folder(ws: Workspace, model: str | Path) -> Path:
    """The folder ``model`` names: as given when it exists or is absolute, else relative to the project
    (``models/<id>``, as a model's card and the docs write it)."""
    path = Path(model).expanduser()
    return path if path.is_absolute() or path.exists() else ws.root / path


SANITY_STEPS = 5  # the embeddings, then the four checks


def model_sanity(
    ws: Workspace, artifact: Artifact, checked: int = 16, on_progress: ProgressFn | None = None
) -> list[Finding]:
    """The model's sanity checks (overfit 20 images, chance on shuffled labels, prediction embedding images as
    training did, the exported standalone graph predicting as the model does) on the embeddings training used (its
    backbone and preprocess). A fine-tuned model's embeddings are its own (computed here when missing), and
    prediction is checked against its network in torch."""
    step = on_progress or (lambda done, total: None)
    step(0, SANITY_STEPS)
    labels, splits = ws.labelled(), ws.splits()
    train_ids = [i for i in labels if splits.get(i, "train") == "train"]
    val_ids = [i for i in labels if splits.get(i) == "val"]
    records = ws.images()
    finetuned = network_weights(artifact) is not None
    found = model_embeddings(ws, artifact, train_ids + val_ids, records, compute=finetuned)
    train_ids = [i for i in train_ids if i in found]
    val_ids = [i for i in val_ids if i in found]
    if len(train_ids) < 2:
        raise ProjectError("The model's training images have no cached embeddings here. Run tetsuban embed.")
    train = np.stack([found[i] for i in train_ids])
    val = np.stack([found[i] for i in val_ids]) if val_ids else np.zeros((0, train.shape[1]))
    by_id = {r.id: r for r in records}
    files = [ws.image_path(by_id[i]) for i in train_ids[:checked]]
    reference = train[: len(files)]
    if finetuned:
        computed = network_embeddings(load_network(artifact), artifact, files)
        reference = np.stack([computed.get(row, np.zeros(train.shape[1])) for row in range(len(files))])
    step(1, SANITY_STEPS)
    overfit = overfit_check(train, [labels[i] for i in train_ids])
    step(2, SANITY_STEPS)
    shuffled = shuffle_check(train, [labels[i] for i in train_ids], val, [labels[i] for i in val_ids])
    step(3, SANITY_STEPS)
    agreed = agreement_check(artifact, files, reference)
    step(4, SANITY_STEPS)
    exported = standalone_check(artifact, files)
    step(5, SANITY_STEPS)
    return [overfit, shuffled, agreed, exported]


def model_embeddings(
    ws: Workspace,
    artifact: Artifact,
    image_ids: Sequence[int],
    records: Sequence[ImageRecord],
    compute: bool = False,
) -> dict[int, np.ndarray]:
    """The cached embeddings of ``image_ids`` under the model's backbone and preprocessing (those it has); with
    ``compute``, those missing are computed first by the model's own graph (a fine-tuned model's are its own)."""
    shas = {r.id: r.sha256 for r in records}
    wanted = [i for i in image_ids if i in shas]
    if compute:
        embed_with(ws, records, artifact.as_backbone(), artifact.pipeline, None, wanted)
    with ws.engine.connect() as conn:
        found = load_embeddings(
            conn,
            artifact.card.backbone.key,
            artifact.card.preprocess_hash,
            [shas[i] for i in wanted],
        )
    return {i: found[shas[i]] for i in wanted if shas[i] in found}
