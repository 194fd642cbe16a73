"""report.html for a model on the test split: headline figures, per-class scores, the confusion matrix,
calibration with a reliability diagram, the top losses as images, accuracy per property slice, suspect test
labels, what more labels would buy, and the comparison with the model before."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tetsuban.active.curve import LearningCurve, Reach
from tetsuban.errors import ImageError
from tetsuban.evaluate.analysis import Neighbour, Slice, SuspectLabel
from tetsuban.evaluate.compare import Comparison
from tetsuban.evaluate.gradcam import ClassMap
from tetsuban.evaluate.metrics import CalibrationBin
from tetsuban.evaluate.run import Evaluation
from tetsuban.files import write_atomic
from tetsuban.imaging.decode import decode, resize_max_side
from tetsuban.reports.inline import array_uri, figure_uri, plain_text, thumbnail_uri
from tetsuban.templating import report_templates

TOP_LOSSES = 24
NEIGHBOUR_SIDE = 40
CAM_SIDE = 112
MAP_THUMBNAILS = 30
MAP_THUMB_SIDE = 22


@dataclass(frozen=True)
class Loss:
    """A test image the model got most wrong: its thumbnail, true label (with its probability) and prediction."""

    image_id: int
    thumbnail: str | None
    label: str
    label_probability: float
    predicted: str
    predicted_probability: float


def worst_misses(evaluation: Evaluation, count: int = TOP_LOSSES) -> list[int]:
    """Rows of the misclassified test images with the lowest probability for their true label, worst first."""
    column = {name: k for k, name in enumerate(evaluation.classes)}
    probabilities = evaluation.probabilities
    truth = np.array(
        [probabilities[n, column[i.label]] if i.label in column else 0.0 for n, i in enumerate(evaluation.items)]
    )
    predicted = probabilities.argmax(axis=1)
    wrong = [n for n, item in enumerate(evaluation.items) if evaluation.classes[predicted[n]] != item.label]
    return sorted(wrong, key=lambda n: (truth[n], n))[:count]


def top_losses(evaluation: Evaluation, count: int = TOP_LOSSES) -> list[Loss]:
    """The worst misses (:func:`worst_misses`) with their thumbnails and probabilities."""
    column = {name: k for k, name in enumerate(evaluation.classes)}
    probabilities = evaluation.probabilities
    found = []
    for n in worst_misses(evaluation, count):
        item = evaluation.items[n]
        best = int(probabilities[n].argmax())
        own = float(probabilities[n, column[item.label]]) if item.label in column else 0.0
        found.append(
            Loss(
                item.image_id,
                thumbnail_uri(item.path),
                item.label,
                own,
                evaluation.classes[best],
                float(probabilities[n, best]),
            )
        )
    return found


def reliability_uri(bins: tuple[CalibrationBin, ...]) -> str:
    """Accuracy against confidence per bin (bars), with the diagonal a calibrated model would follow."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2, 3.6), dpi=100)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], color="#999", linewidth=1, linestyle="--", label="calibrated")
    axes.bar(
        [(b.low + b.high) / 2 for b in bins],
        [b.accuracy for b in bins],
        width=[b.high - b.low for b in bins],
        color="#4a6fa5",
        edgecolor="white",
        label="accuracy in bin",
    )
    axes.plot([b.confidence for b in bins], [b.accuracy for b in bins], "o", color="#c44", markersize=3)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence (top probability)", fontsize=9)
    axes.set_ylabel("accuracy", fontsize=9)
    axes.legend(fontsize=8, loc="upper left")
    axes.tick_params(labelsize=8)
    figure.tight_layout()
    return figure_uri(figure)


@dataclass(frozen=True)
class MoreLabels:
    """What the learning curve (validation accuracy against training labels) says more labels would buy."""

    labels: int
    accuracy: float
    doubled: tuple[float, float, float]  # (low, fitted, high) accuracy at twice the labels
    reach: Reach  # what the curve says of the target


@dataclass(frozen=True)
class Extras:
    """The report's closer looks: property slices, suspect test labels, the learning curve's estimate, and the
    embedding map (a PNG data URI)."""

    slices: list[Slice]
    suspects: list[SuspectLabel]
    more: MoreLabels | None
    map_uri: str | None = None
    support: dict[str, list[tuple[int, Path, str]]] | None = None  # an SVM's support vectors (id, file, label)
    support_counts: dict[str, int] | None = None
    neighbours: dict[int, list[tuple[Neighbour, Path]]] | None = None  # nearest training images of a test image
    cams: dict[int, list[ClassMap]] | None = None  # Grad-CAM of a miss's predicted and true class (fine-tuned)


def embedding_map(
    evaluation: Evaluation,
    vectors: Mapping[int, np.ndarray],
    labels: Mapping[int, str],
    paths: Mapping[int, Path] | None = None,
) -> str | None:
    """The model's view of the data: training images (dots) and test images (rings; a cross where the model is
    wrong) on the first two principal components of their embeddings, coloured by label; with ``paths``, some of
    the images themselves (the misses first, then a spread of the rest) framed in their label's colour."""
    from matplotlib.figure import Figure

    test = {item.image_id for item in evaluation.items}
    wrong = {item.image_id for item, ok in zip(evaluation.items, evaluation.metrics.correct, strict=True) if not ok}
    ids = [i for i in vectors if i in labels]
    if len(ids) < 3:
        return None
    points = principal_plane(np.stack([vectors[i] for i in ids]))
    names = sorted({labels[i] for i in ids})
    colours = {name: f"C{k % 10}" for k, name in enumerate(names)}
    figure = Figure(figsize=(8.4, 5.6), dpi=100)
    axes = figure.add_subplot()
    for name in names:
        for kind, marker, size in (("train", "o", 6), ("test", "o", 22)):
            rows = [n for n, i in enumerate(ids) if labels[i] == name and (i in test) == (kind == "test")]
            if rows:
                face = colours[name] if kind == "train" else "none"
                axes.scatter(
                    points[rows, 0],
                    points[rows, 1],
                    s=size,
                    marker=marker,
                    facecolors=face,
                    edgecolors=colours[name],
                    linewidths=0.8,
                    alpha=0.7,
                    label=plain_text(name) if kind == "train" else None,
                )
    missed = [n for n, i in enumerate(ids) if i in wrong]
    if missed:
        axes.scatter(
            points[missed, 0],
            points[missed, 1],
            s=40,
            marker="x",
            color="black",
            linewidths=1.2,
            label="test image the model gets wrong",
            zorder=5,  # above the thumbnails
        )
    if paths:
        rows = spread_rows(points, [n for n, i in enumerate(ids) if i in wrong], MAP_THUMBNAILS)
        _place_thumbnails(axes, points, [(ids[n], n) for n in rows], paths, {i: colours[labels[i]] for i in ids})
    axes.set_title("embeddings, first two principal components (dots: train, rings: test)", fontsize=9)
    axes.tick_params(labelsize=7)
    axes.legend(fontsize=7, markerscale=1.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    figure.tight_layout()
    return figure_uri(figure)


def spread_rows(points: np.ndarray, first: Sequence[int], count: int) -> list[int]:
    """Up to ``count`` rows of ``points`` (N, 2): ``first`` (up to a third of them), then each next row the one
    farthest from those chosen, so that the picks cover the map."""
    chosen = list(dict.fromkeys(first))[: count // 3]
    if not chosen and len(points):
        chosen = [int(np.argmin(np.linalg.norm(points - points.mean(axis=0), axis=1)))]
    if not len(points):
        return []
    distance = np.min(np.linalg.norm(points[:, None, :] - points[chosen][None, :, :], axis=2), axis=1)
    while len(chosen) < min(count, len(points)):
        far = int(np.argmax(distance))
        if distance[far] <= 0:
            break
        chosen.append(far)
        distance = np.minimum(distance, np.linalg.norm(points - points[far], axis=1))
    return chosen


def _place_thumbnails(
    axes: Any,
    points: np.ndarray,
    picks: Sequence[tuple[int, int]],
    paths: Mapping[int, Path],
    colours: Mapping[int, str],
) -> None:
    """Each picked image (id, row) as a small picture at its point, framed in its label's colour."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    for image_id, row in picks:
        if image_id not in paths:
            continue
        try:
            rgb = decode(paths[image_id], max_side=MAP_THUMB_SIDE)
        except (ImageError, OSError):
            continue
        frame = {"edgecolor": colours[image_id], "linewidth": 1.2}
        box = AnnotationBbox(OffsetImage(rgb, zoom=1.0), tuple(points[row]), pad=0.15, bboxprops=frame, zorder=3)
        axes.add_artist(box)


def principal_plane(x: np.ndarray) -> np.ndarray:
    """(N, 2): ``x`` centred and projected on its first two principal components."""
    centred = x.astype(np.float64) - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def more_labels(curve: LearningCurve, target: float = 0.95) -> MoreLabels:
    return MoreLabels(curve.current, curve.accuracy[-1], curve.expected(2 * curve.current), curve.reach(target))


def write_evaluation_report(
    out: Path,
    project_name: str,
    evaluation: Evaluation,
    previous: tuple[str, Comparison] | None,
    extras: Extras | None = None,
) -> Path:
    """Render the report of ``evaluation`` (and its comparison with the model ``previous`` names) into ``out``."""
    metrics = evaluation.metrics
    extras = extras or Extras([], [], None)
    paths = {item.image_id: item.path for item in evaluation.items}
    environment = report_templates()
    peak = int(metrics.confusion.max()) or 1
    html = environment.get_template("evaluation.html.j2").render(
        name=project_name,
        model=evaluation.model_id,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        metrics=metrics,
        failed=evaluation.failed,
        peak=peak,
        reliability=reliability_uri(metrics.calibration),
        losses=top_losses(evaluation),
        previous=previous,
        slices=extras.slices,
        suspects=[(s, thumbnail_uri(paths[s.image_id])) for s in extras.suspects[:TOP_LOSSES]],
        suspect_count=len(extras.suspects),
        more=extras.more,
        map_uri=extras.map_uri,
        support={
            name: [(i, thumbnail_uri(path), label) for i, path, label in shown]
            for name, shown in (extras.support or {}).items()
        },
        support_counts=extras.support_counts or {},
        neighbours={
            image_id: [(n, thumbnail_uri(path, NEIGHBOUR_SIDE)) for n, path in near]
            for image_id, near in (extras.neighbours or {}).items()
        },
        cams={
            image_id: [(m.class_name, m.found, array_uri(resize_max_side(m.overlay, CAM_SIDE))) for m in maps]
            for image_id, maps in (extras.cams or {}).items()
        },
    )
    write_atomic(out, html.encode("utf-8"))
    return out
