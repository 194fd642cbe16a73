"""What the loop works on: every embedded image of a project with its label, split and when it was first labelled,
and the questions asked of it (what next, which labels look wrong, what more labels would buy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tetsuban.active.curve import LearningCurve, learning_curve
from tetsuban.active.heads import DEFAULT_HEAD
from tetsuban.active.label_issues import DEFAULT_FOLDS, LabelIssue, LabelIssues, find_label_issues
from tetsuban.active.loop import LabelLoop, Snapshot
from tetsuban.active.registry import strategy_named
from tetsuban.errors import ProjectError
from tetsuban.progress import ProgressFn


@dataclass(frozen=True)
class ActiveData:
    """Row for row: image ids (N,), embeddings (N, D), current labels, splits, and the time of each image's first
    label event (None for unlabelled images)."""

    image_ids: np.ndarray
    embeddings: np.ndarray
    labels: tuple[str | None, ...]
    splits: tuple[str | None, ...]
    first_labelled: tuple[float | None, ...]

    def mask(self, split: str) -> np.ndarray:
        return np.array([s == split for s in self.splits], bool)

    @property
    def labelled(self) -> np.ndarray:
        return np.array([label is not None for label in self.labels], bool)


def next_images(data: ActiveData, strategy: str, count: int, seed: int = 0, head: str = DEFAULT_HEAD) -> list[int]:
    """Image ids to label next: chosen by ``strategy`` among the unlabelled images of the train split, with the head
    fitted on the labelled train images. Val and test images are never queued: they are labelled in random order,
    so that they stay samples of the data."""
    loop = loop_for(data, strategy, retrain_every=count, queue_size=count, background=False, seed=seed, head=head)
    return [int(data.image_ids[i]) for i in loop.next_images(count)]


def loop_for(
    data: ActiveData,
    strategy: str,
    retrain_every: int,
    queue_size: int,
    background: bool,
    on_publish: Callable[[Snapshot], None] | None = None,
    seed: int = 0,
    first_generation: int = 0,
    head: str = DEFAULT_HEAD,
) -> LabelLoop:
    """A loop over ``data`` that queues unlabelled train images and learns from the labelled train images, with
    ``head`` (a name in active.heads.HEADS)."""
    train = data.mask("train")
    if not train.any():
        raise ProjectError("No image is in the train split. Make the splits first: tetsuban split")
    known = [label if in_train else None for label, in_train in zip(data.labels, train, strict=True)]
    return LabelLoop(
        data.embeddings,
        train,
        strategy_named(strategy),
        retrain_every,
        queue_size,
        seed,
        background=background,
        labels=known,
        on_publish=on_publish,
        first_generation=first_generation,
        head=head,
    )


def label_issues(data: ActiveData, folds: int = DEFAULT_FOLDS, seed: int = 0) -> LabelIssues[tuple[int, LabelIssue]]:
    """(image id, issue) for each label that looks wrong among all labelled images (the test split too: a wrong
    test label misleads the evaluation), most doubtful first, and how many to expect wrong."""
    rows = np.flatnonzero(data.labelled)
    labels = [str(data.labels[i]) for i in rows]
    found = find_label_issues(data.embeddings[rows], labels, folds, seed)
    return LabelIssues([(int(data.image_ids[rows[issue.index]]), issue) for issue in found.issues], found.wrong)


def curve_of(data: ActiveData, seed: int = 0, on_progress: ProgressFn | None = None) -> LearningCurve:
    """The learning curve of the labelled train images in labelling order, scored on the labelled val images; what
    it says of a target counts the train split's images, labelled or not, as the labels there could be."""
    labelled, in_train = data.labelled, data.mask("train")
    train = np.flatnonzero(labelled & in_train)
    order = train[np.argsort([data.first_labelled[i] or 0.0 for i in train], kind="stable")]
    val = np.flatnonzero(labelled & data.mask("val"))
    return learning_curve(
        data.embeddings[order],
        [str(data.labels[i]) for i in order],
        data.embeddings[val],
        [str(data.labels[i]) for i in val],
        seed,
        train_images=int(in_train.sum()),
        on_progress=on_progress,
    )


def simulation_inputs(data: ActiveData) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(embeddings, labels, test mask) of the labelled images, for the simulator; the test split is the test."""
    rows = np.flatnonzero(data.labelled)
    test = data.mask("test")[rows]
    if not test.any():
        raise ProjectError(
            "The simulator scores on the test split, and no labelled image is in it. Make the "
            "splits first: tetsuban split"
        )
    if test.all():
        raise ProjectError("Every labelled image is in the test split: nothing is left to label in the simulation.")
    return data.embeddings[rows], [str(data.labels[i]) for i in rows], test


def val_accuracy(
    classes: tuple[str, ...], probabilities: np.ndarray, rows: dict[int, int], labels: dict[int, str]
) -> float | None:
    """Share of the labelled val images (``labels`` by image id; ``rows`` maps image ids to probability rows) whose
    most probable class is their label; None when none is labelled. A class the head never saw counts as a miss."""
    scored = [i for i in labels if i in rows]
    if not scored:
        return None
    best = probabilities[[rows[i] for i in scored]].argmax(axis=1)
    return float(np.mean([classes[k] == labels[i] for k, i in zip(best, scored, strict=True)]))
