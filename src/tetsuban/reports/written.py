"""The three reports written from a workspace: survey.html, simulation.html and a model's report.html. Above the
stages, so each gathers what it shows from the stages that own it (the evaluation's extras from the survey's
property sheet, the loop's learning curve, the model's embeddings and Grad-CAM)."""

from __future__ import annotations

from pathlib import Path

from tetsuban.active.stage import Simulation, learning_curve
from tetsuban.backbones.stage import stored_embeddings
from tetsuban.errors import TetsubanError
from tetsuban.evaluate.analysis import nearest_training, slices, suspect_labels
from tetsuban.evaluate.gradcam import miss_maps
from tetsuban.evaluate.run import Evaluation
from tetsuban.evaluate.stage import Scored, model_embeddings
from tetsuban.learn.artifact import Artifact
from tetsuban.learn.card import SvmHeadCard
from tetsuban.progress import ProgressFn
from tetsuban.reports.evaluation_report import (
    Extras,
    embedding_map,
    more_labels,
    worst_misses,
    write_evaluation_report,
)
from tetsuban.reports.simulation_report import write_simulation_report
from tetsuban.reports.survey_report import write_survey_report
from tetsuban.survey.lookalikes import LOOK_ALIKE, SAME_PICTURE, similar_pairs
from tetsuban.survey.sheet import all_property_values
from tetsuban.survey.stage import near_duplicates_of, survey_table, surveyed
from tetsuban.workspace import Workspace


def survey_report(ws: Workspace, out: str | Path | None = None) -> Path:
    """Write survey.html (into the project folder unless ``out`` says where) and return its path."""
    path = ws.root / "survey.html" if out is None else Path(out).expanduser()
    vectors = stored_embeddings(ws)
    every, mutual = similar_pairs(vectors, min(LOOK_ALIKE, SAME_PICTURE))  # one pass over all pairs serves both
    pairs = near_duplicates_of(ws, surveyed(ws), [p for p in mutual if p[2] >= SAME_PICTURE])
    look_alikes = [p for p in every if p[2] >= LOOK_ALIKE] if vectors else None
    return write_survey_report(path, ws.config.name, survey_table(ws), pairs, look_alikes)


def simulation_report(ws: Workspace, simulation: Simulation, out: str | Path | None = None) -> Path:
    """Write simulation.html (into the project folder unless ``out`` says where) and return its path."""
    path = ws.root / "simulation.html" if out is None else Path(out).expanduser()
    return write_simulation_report(path, ws.config.name, simulation.curves, simulation.setup)


def evaluation_report(
    ws: Workspace, scored: Scored, out: str | Path | None = None, on_progress: ProgressFn | None = None
) -> Path:
    """Write the model's report.html (into its folder unless ``out`` says where) and return its path;
    ``on_progress`` hears of each of its steps (:data:`REPORT_STEPS`)."""
    path = scored.artifact.folder / "report.html" if out is None else Path(out).expanduser()
    extras = evaluation_extras(ws, scored.evaluation, scored.artifact, on_progress)
    written = write_evaluation_report(path, ws.config.name, scored.evaluation, scored.previous, extras)
    _report_step(on_progress, REPORT_STEPS)
    return written


REPORT_STEPS = 4  # the learning curve, the embeddings, Grad-CAM of the worst misses, the page


def _report_step(on_progress: ProgressFn | None, done: int) -> None:
    if on_progress is not None:
        on_progress(done, REPORT_STEPS)


def evaluation_extras(
    ws: Workspace, evaluation: Evaluation, artifact: Artifact, on_progress: ProgressFn | None = None
) -> Extras:
    """Property slices, suspect test labels, the learning curve's estimate (when one can be drawn), the map of the
    training and test images' embeddings, support vectors, the worst misses' nearest training images and their
    Grad-CAM maps; ``on_progress`` hears of each of the report's steps."""
    _report_step(on_progress, 0)
    try:
        more = more_labels(learning_curve(ws))
    except TetsubanError:
        more = None
    _report_step(on_progress, 1)
    labels, splits, records = ws.labelled(), ws.splits(), ws.images()
    train_ids = [i for i in labels if splits.get(i) == "train"]
    wanted = train_ids + [item.image_id for item in evaluation.items]
    vectors = model_embeddings(ws, artifact, wanted, records, compute=True)
    _report_step(on_progress, 2)
    svm = artifact.card.head if isinstance(artifact.card.head, SvmHeadCard) else None
    by_sha = {r.sha256: r for r in records}
    by_id = {r.id: r for r in records}
    support = {
        name: [
            (by_sha[sha].id, ws.image_path(by_sha[sha]), labels.get(by_sha[sha].id, "?"))
            for sha in shas
            if sha in by_sha
        ]
        for name, shas in (svm.support_vectors if svm else {}).items()
    }
    worst = worst_misses(evaluation)
    near = nearest_training([evaluation.items[n].image_id for n in worst], vectors, {i: labels[i] for i in train_ids})
    maps = miss_maps(artifact, evaluation, worst)
    _report_step(on_progress, 3)
    return Extras(
        slices(evaluation, all_property_values(ws)),
        suspect_labels(evaluation),
        more,
        embedding_map(evaluation, vectors, labels, {i: ws.image_path(by_id[i]) for i in vectors if i in by_id}),
        support or None,
        dict(svm.support_vector_counts) if svm else None,
        {i: [(n, ws.image_path(by_id[n.image_id])) for n in found] for i, found in near.items()},
        maps,
    )
