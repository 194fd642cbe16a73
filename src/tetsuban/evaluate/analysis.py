"""Looking closer at a model's test results: accuracy per property slice (dark against bright, tilted against
not, ...) and the test labels that look wrong.

The model never saw the test images, so its probabilities on them are out of sample, as confident learning
needs: a test label the model confidently contradicts is listed for a second look, since a wrong test label
misleads every figure of the report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tetsuban.active.label_issues import confident_classes, label_issue_mask
from tetsuban.evaluate.run import Evaluation
from tetsuban.props import Value

UNSET = "(not set)"


@dataclass(frozen=True)
class Slice:
    """The test images with one value of one property, and the model's accuracy on them."""

    prop: str
    value: str
    images: int
    accuracy: float


@dataclass(frozen=True)
class SuspectLabel:
    """A test label the model confidently contradicts."""

    image_id: int
    given: str
    suggested: str
    given_probability: float
    suggested_probability: float


def slices(evaluation: Evaluation, properties: Mapping[str, Mapping[int, Value]]) -> list[Slice]:
    """Per property and value, the test images that have it and the model's accuracy on them; a property whose
    test images all share one value tells nothing and is left out."""
    correct = evaluation.metrics.correct
    found: list[Slice] = []
    for name, values in sorted(properties.items()):
        groups: dict[str, list[int]] = defaultdict(list)
        for n, item in enumerate(evaluation.items):
            value = values.get(item.image_id)
            groups[UNSET if value is None else _shown(value)].append(n)
        if len(groups) < 2:
            continue
        for value, rows in sorted(groups.items()):
            found.append(Slice(name, value, len(rows), float(correct[rows].mean())))
    return found


def _shown(value: Value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def suspect_labels(evaluation: Evaluation) -> list[SuspectLabel]:
    """Test labels that look wrong (confident learning on the model's probabilities), most doubtful first. Labels
    of classes the model does not know are left out: the model has no say on them."""
    column = {name: k for k, name in enumerate(evaluation.classes)}
    rows = [n for n, item in enumerate(evaluation.items) if item.label in column]
    if not rows:
        return []
    given = np.array([column[evaluation.items[n].label] for n in rows])
    probabilities = evaluation.probabilities[rows].astype(np.float64)
    guess = confident_classes(given, probabilities)
    flagged = np.flatnonzero(label_issue_mask(given, probabilities, guess))
    found = [
        SuspectLabel(
            evaluation.items[rows[i]].image_id,
            evaluation.classes[given[i]],
            evaluation.classes[guess[i]],
            float(probabilities[i, given[i]]),
            float(probabilities[i, guess[i]]),
        )
        for i in flagged
    ]
    return sorted(found, key=lambda s: (s.given_probability, s.image_id))


@dataclass(frozen=True)
class Neighbour:
    """A labelled training image near a test image: its id, label and cosine similarity."""

    image_id: int
    label: str
    similarity: float


def nearest_training(
    queries: list[int], vectors: Mapping[int, np.ndarray], training: Mapping[int, str], k: int = 3
) -> dict[int, list[Neighbour]]:
    """For each query image (with a vector), its ``k`` most similar labelled training images by cosine."""
    pool = [i for i in training if i in vectors]
    asked = [i for i in queries if i in vectors]
    if not pool or not asked:
        return {}
    base = np.stack([vectors[i] for i in pool]).astype(np.float64)
    base /= np.linalg.norm(base, axis=1, keepdims=True) + 1e-12
    found: dict[int, list[Neighbour]] = {}
    for image_id in asked:
        query = vectors[image_id].astype(np.float64)
        similarity = base @ (query / (np.linalg.norm(query) + 1e-12))
        top = np.argsort(-similarity, kind="stable")[:k]
        found[image_id] = [Neighbour(pool[t], training[pool[t]], float(similarity[t])) for t in top]
    return found
