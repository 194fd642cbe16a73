"""The labelling loop's stage: the workspace's embedded images as the loop sees them, what to label next, the
running loop with its recorder, its stored suggestions and retrains, label issues, the learning curve and the
simulator of strategies on labels already given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tetsuban.active.curve import LearningCurve
from tetsuban.active.data import ActiveData, curve_of, label_issues, loop_for, next_images, simulation_inputs
from tetsuban.active.heads import DEFAULT_HEAD, HEADS, check_head
from tetsuban.active.label_issues import DEFAULT_FOLDS, LabelIssue, LabelIssues
from tetsuban.active.loop import LabelLoop
from tetsuban.active.record import SNAPSHOT_SECONDS, LoopRecorder
from tetsuban.active.registry import DEFAULT_STRATEGY, check_strategies, strategy_named
from tetsuban.active.simulate import Curve, simulate_all
from tetsuban.backbones.stage import backbone, embed, embeddings
from tetsuban.errors import ConfigError, ProjectError
from tetsuban.params import check_int
from tetsuban.progress import ProgressFn
from tetsuban.store.labels import label_history
from tetsuban.store.loop_state import Retrain, load_snapshot, retrain_history
from tetsuban.workspace import Workspace


@dataclass(frozen=True)
class RunningLoop:
    """A labelling loop, the image id of each of its rows, and what records it into the store."""

    loop: LabelLoop
    image_ids: np.ndarray
    recorder: LoopRecorder

    def flush(self) -> None:
        """Store the latest probabilities and queue now."""
        self.recorder.flush(self.loop.snapshot)


@dataclass(frozen=True)
class Simulation:
    """The simulator's curves and its setup (step, seeds, test and pool sizes), for the report."""

    curves: list[Curve]
    setup: dict[str, int]


def active_data(ws: Workspace, on_progress: ProgressFn | None = None) -> ActiveData:
    """Every image that has an embedding (computing those missing first), with its label, split and the time it
    was first labelled: what the loop, label issues, the learning curve and the simulator work on."""
    embed(ws, on_progress)
    records = ws.images()
    vectors = embeddings(ws, [r.id for r in records])
    ids = [r.id for r in records if r.id in vectors]
    if not ids:
        raise ProjectError("No image has an embedding. Import images, then run tetsuban embed.")
    return with_labels(ws, np.asarray(ids, np.int64), np.stack([vectors[i] for i in ids]))


def with_labels(ws: Workspace, image_ids: np.ndarray, vectors: np.ndarray) -> ActiveData:
    """The images ``image_ids`` with their embeddings ``vectors`` (row for row, as a running loop holds them) and
    their labels, splits and first labels' times as the store has them now."""
    ids = [int(i) for i in image_ids]
    labels, splits = ws.labelled(), ws.splits()
    with ws.engine.connect() as conn:
        first: dict[int, float] = {}
        for event in label_history(conn):
            first.setdefault(event.image_id, event.created_at)
    return ActiveData(
        np.asarray(image_ids, np.int64),
        vectors,
        tuple(labels.get(i) for i in ids),
        tuple(splits.get(i) for i in ids),
        tuple(first.get(i) if i in labels else None for i in ids),
    )


def next_to_label(
    ws: Workspace,
    count: int = 20,
    strategy: str = DEFAULT_STRATEGY,
    seed: int = 0,
    on_embed: ProgressFn | None = None,
    head: str = DEFAULT_HEAD,
) -> list[int]:
    """Image ids to label next, by ``strategy`` with the loop's ``head``, from the unlabelled train images (never
    val or test)."""
    check_int("count", count, 1, 100_000)
    strategy_named(strategy)  # a wrong name fails before any work
    check_head(head)
    return next_images(active_data(ws, on_embed), strategy, count, seed, head)


def holdout_to_label(ws: Workspace, count: int = 20, seed: int = 0) -> list[int]:
    """Up to ``count`` unlabelled val and test images in a random order fixed by ``seed``: the loop never queues
    them, so they stay samples of the data; the validation and the evaluation need them labelled."""
    check_int("count", count, 1, 100_000)
    labelled = ws.labelled()
    held = sorted(i for i, split in ws.splits().items() if split in ("val", "test") and i not in labelled)
    order = np.random.default_rng(seed).permutation(len(held))
    return [held[k] for k in order[:count]]


def label_loop(
    ws: Workspace,
    strategy: str = DEFAULT_STRATEGY,
    retrain_every: int = 20,
    queue_size: int = 40,
    background: bool = True,
    snapshot_seconds: float = SNAPSHOT_SECONDS,
    recording: bool = True,
    head: str = DEFAULT_HEAD,
) -> RunningLoop:
    """A running labelling loop over the workspace's embedded images, with the image id of each of its rows.

    It learns from the labelled train images and queues unlabelled train images; each retrain is recorded
    (:func:`retrains`), and its probabilities and queue once the loop is quiet for a few seconds or at the latest
    every ``snapshot_seconds`` (0: after every retrain; see :func:`suggestions`; ``flush`` writes the latest).
    Give it new labels with ``loop.label(row, label)`` after they are stored. ``recording`` False: nothing is
    recorded until ``recorder.active`` is set (another process on the store retrains and records).
    """
    data = active_data(ws)
    val_rows = {int(data.image_ids[row]): int(row) for row in np.flatnonzero(data.mask("val"))}
    recorder = LoopRecorder(ws.engine, backbone(ws).key, data.image_ids, val_rows, snapshot_seconds)
    recorder.active = recording
    recorded = retrains(ws)  # a restarted loop goes on numbering its retrains
    last = recorded[-1].generation if recorded else 0
    loop = loop_for(data, strategy, retrain_every, queue_size, background, recorder, first_generation=last, head=head)
    return RunningLoop(loop, data.image_ids, recorder)


def suggestions(ws: Workspace) -> dict[int, tuple[str, float]]:
    """The loop's latest suggestion for each image: (most probable class, its probability); empty before the loop's
    first head."""
    with ws.engine.connect() as conn:
        stored = load_snapshot(conn)
    if stored is None:
        return {}
    best = stored.probabilities.argmax(axis=1)
    return {
        int(image_id): (stored.classes[k], float(stored.probabilities[row, k]))
        for row, (image_id, k) in enumerate(zip(stored.image_ids, best, strict=True))
    }


def retrains(ws: Workspace) -> list[Retrain]:
    """Each retrain of the labelling loop so far: labels learnt from and validation accuracy then."""
    with ws.engine.connect() as conn:
        return retrain_history(conn)


def doubtful_labels(
    ws: Workspace, folds: int = DEFAULT_FOLDS, seed: int = 0, on_embed: ProgressFn | None = None
) -> LabelIssues[tuple[int, LabelIssue]]:
    """(image id, issue) for the labels that look wrong, most doubtful first (confident learning on out-of-fold
    probabilities), and how many to expect wrong."""
    return label_issues(active_data(ws, on_embed), folds, seed)


def learning_curve(
    ws: Workspace, seed: int = 0, on_embed: ProgressFn | None = None, on_progress: ProgressFn | None = None
) -> LearningCurve:
    """Validation accuracy against training labels, in labelling order, with a fitted power law."""
    return curve_of(active_data(ws, on_embed), seed, on_progress)


def learning_curve_of(ws: Workspace, image_ids: np.ndarray, vectors: np.ndarray, seed: int = 0) -> LearningCurve:
    """:func:`learning_curve` over embeddings already at hand (a running loop's), with the labels stored now."""
    return curve_of(with_labels(ws, image_ids, vectors), seed)


def simulate(
    ws: Workspace,
    strategies: Sequence[str],
    budget: int,
    step: int,
    seeds: int,
    on_progress: ProgressFn | None = None,
    on_embed: ProgressFn | None = None,
    heads: Sequence[str] = (DEFAULT_HEAD,),
    queue: int | None = None,
) -> Simulation:
    """Run the labelling loop against the known labels of the labelled images, per strategy, head and seed,
    ``step`` labels per retrain out of a queue of ``queue`` (None: ``step``), scoring on the test split."""
    check_strategies(strategies)  # a wrong name fails before any work
    if not heads:
        raise ConfigError(f"Name at least one head of the loop to simulate: {', '.join(HEADS)}.")
    for head in heads:
        check_head(head)
    queued = step if queue is None else check_int("queue", queue, step, 1_000_000)  # before the embedding
    x, labels, test = simulation_inputs(active_data(ws, on_embed))
    budget = min(budget, int((~test).sum()))
    curves = simulate_all(x, labels, test, strategies, budget, step, seeds, on_progress, heads, queued)
    pool, tested = int((~test).sum()), int(test.sum())
    setup = {"step": step, "queue": queued, "seeds": seeds, "test_images": tested, "pool_images": pool}
    return Simulation(curves, setup)
