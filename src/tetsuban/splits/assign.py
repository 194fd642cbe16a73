"""Split assignment: train / val / test, stratified by class, grouped, and frozen once made.

Pure: it takes the images (each with its stratum and group) and the assignments that exist, and returns the
assignments of the images that have none. Existing assignments never move; an image whose group already has a
split joins it, so near-duplicates never straddle splits; the rest are placed group by group, within each stratum,
into the split furthest below its target share.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tetsuban.errors import ConfigError
from tetsuban.params import check_float

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitPlan:
    """Target shares of the test and validation splits; train gets the rest."""

    test: float = 0.2
    val: float = 0.1

    def __post_init__(self) -> None:
        check_float("test", self.test, 0.0, 0.9)
        check_float("val", self.val, 0.0, 0.9)
        if self.test + self.val >= 1.0:
            raise ConfigError(
                f"The test and val shares must leave some images to train on. Got {self.test} + {self.val}."
            )

    @property
    def shares(self) -> dict[str, float]:
        return {"train": 1.0 - self.test - self.val, "val": self.val, "test": self.test}


@dataclass(frozen=True)
class SplitItem:
    """One image: its id, the stratum it is balanced within (its class, or class and property), and its group."""

    image_id: int
    stratum: str
    group: Hashable


def assign_splits(
    items: Sequence[SplitItem], existing: Mapping[int, str], plan: SplitPlan, seed: int = 0
) -> dict[int, str]:
    """The split of every item without one in ``existing``; see the module docstring."""
    rng = np.random.default_rng(seed)
    members: dict[Hashable, list[SplitItem]] = defaultdict(list)
    for item in items:
        members[item.group].append(item)
    counts: dict[str, Counter[str]] = defaultdict(Counter)  # stratum -> split -> images
    for item in items:
        if item.image_id in existing:
            counts[item.stratum][existing[item.image_id]] += 1
    assigned: dict[int, str] = {}
    free: dict[str, list[list[SplitItem]]] = defaultdict(list)  # stratum -> groups with no split yet
    for group in members.values():
        taken = [existing[i.image_id] for i in group if i.image_id in existing]
        new = [i for i in group if i.image_id not in existing]
        if taken:
            split = Counter(taken).most_common(1)[0][0]  # a group joins the split it already has
            for item in new:
                assigned[item.image_id] = split
                counts[item.stratum][split] += 1
        elif new:
            free[_majority(new)].append(new)
    shares = plan.shares
    for stratum in sorted(free):
        groups = free[stratum]
        order = rng.permutation(len(groups))
        total = sum(counts[stratum].values()) + sum(len(g) for g in groups)
        for index in sorted(order, key=lambda k: -len(groups[k])):  # big groups first, ties in random order
            split = max(SPLITS, key=lambda s: (shares[s] * total - counts[stratum][s], shares[s]))
            for item in groups[index]:
                assigned[item.image_id] = split
                counts[item.stratum][split] += 1
    return assigned


def _majority(group: Sequence[SplitItem]) -> str:
    tally = Counter(i.stratum for i in group)
    return min(tally, key=lambda s: (-tally[s], s))
