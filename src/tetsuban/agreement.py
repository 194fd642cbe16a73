"""How far annotators agree: from the label history, each person's latest label of each image, compared on the
images that two or more people labelled (Cohen's kappa per pair of people)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from tetsuban.store.labels import LabelEvent

_PEOPLE = ("human", "model-accepted")  # imported labels are nobody's judgement here


@dataclass(frozen=True)
class PairAgreement:
    """Two people on the images both labelled: how many, how many alike, and kappa (None when undefined)."""

    first: str
    second: str
    images: int
    agreed: int
    kappa: float | None

    @property
    def share(self) -> float:
        return self.agreed / self.images if self.images else 0.0


@dataclass(frozen=True)
class Agreement:
    """Images labelled by two or more people, those on which all agree, and each pair of people."""

    images: int
    unanimous: int
    pairs: tuple[PairAgreement, ...]
    disputed: tuple[int, ...]  # image ids on which people differ


def latest_by_person(events: Sequence[LabelEvent]) -> dict[int, dict[str, str]]:
    """Each image's latest label per person (a cleared label drops theirs), from events oldest first."""
    found: dict[int, dict[str, str]] = {}
    for event in events:
        if event.source not in _PEOPLE:
            continue
        by_person = found.setdefault(event.image_id, {})
        if event.label is None:
            by_person.pop(event.author, None)
        else:
            by_person[event.author] = event.label
    return found


def agreement(events: Sequence[LabelEvent]) -> Agreement:
    """Agreement among the people in a label history (oldest first)."""
    shared = {i: people for i, people in latest_by_person(events).items() if len(people) >= 2}
    unanimous = [i for i, people in shared.items() if len(set(people.values())) == 1]
    names = sorted({name for people in shared.values() for name in people})
    pairs = []
    for first, second in combinations(names, 2):
        both = [(p[first], p[second]) for p in shared.values() if first in p and second in p]
        if both:
            pairs.append(_pair(first, second, both))
    disputed = tuple(sorted(set(shared) - set(unanimous)))
    return Agreement(len(shared), len(unanimous), tuple(pairs), disputed)


def _pair(first: str, second: str, both: list[tuple[str, str]]) -> PairAgreement:
    agreed = sum(a == b for a, b in both)
    n = len(both)
    left, right = Counter(a for a, _ in both), Counter(b for _, b in both)
    chance = sum(left[c] * right[c] for c in left) / (n * n)
    kappa = None if chance >= 1.0 else (agreed / n - chance) / (1.0 - chance)
    return PairAgreement(first, second, n, agreed, kappa)
