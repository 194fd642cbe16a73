"""The split stage: assign train, val or test to every image that has none, stratified by label (and a property,
when asked) and keeping groups of near-duplicates together; the test set, once made, is frozen.

The groups come from the caller: the survey's near-duplicates, with the embeddings' same-picture pairs when there
are embeddings. The split reads no embedding itself.
"""

from __future__ import annotations

import getpass
from collections.abc import Hashable, Mapping, Sequence

from tetsuban.errors import ProjectError
from tetsuban.splits.assign import SplitItem, SplitPlan, assign_splits
from tetsuban.store.splits import SplitEvent, add_splits, current_splits, reset_splits, split_history
from tetsuban.survey.sheet import property_values
from tetsuban.workspace import Workspace


def split_images(
    ws: Workspace,
    plan: SplitPlan,
    groups: Mapping[int, Hashable],
    seed: int = 0,
    author: str | None = None,
    by: str | None = None,
) -> SplitEvent:
    """Assign a split to every image that has none, stratified by label and keeping each group of ``groups``
    (image id -> group key) together; with ``by``, the shares hold within each class and value of that property
    too. Images with a split keep it; the shares must be those the splits were made with."""
    with ws.engine.connect() as conn:
        existing = current_splits(conn)
        history = split_history(conn)
    check_same_shares(history, plan)
    labels = ws.labelled()
    extra = {} if by is None else property_values(ws, by)
    items = [
        SplitItem(r.id, f"{labels.get(r.id, '(unlabelled)')}|{extra.get(r.id)}", groups.get(r.id, ("image", r.id)))
        for r in ws.images()
    ]
    assigned = assign_splits(items, existing, plan, seed)
    with ws.engine.begin() as conn:
        return add_splits(conn, assigned, author or getpass.getuser(), plan.test, plan.val, seed)


def history(ws: Workspace) -> list[SplitEvent]:
    """Every split assignment and reset, oldest first."""
    with ws.engine.connect() as conn:
        return split_history(conn)


def reset(ws: Workspace, author: str | None = None) -> SplitEvent:
    """Clear every split (the test set included), recording who did it; the next split starts afresh."""
    with ws.engine.begin() as conn:
        return reset_splits(conn, author or getpass.getuser())


def splits_in_force(events: Sequence[SplitEvent]) -> SplitEvent | None:
    """The assignment whose shares and seed are in force: the first since the last reset that assigned images
    (None before the first split, and after a reset)."""
    made: SplitEvent | None = None
    for event in events:
        if event.kind == "reset":
            made = None
        elif made is None and event.images > 0:
            made = event
    return made


def plan_in_force(events: Sequence[SplitEvent]) -> tuple[SplitPlan, int] | None:
    """The shares and seed of the splits in force, which images split later follow (None before the first split)."""
    made = splits_in_force(events)
    return None if made is None else (SplitPlan(made.test or 0.0, made.val or 0.0), made.seed or 0)


def check_same_shares(events: Sequence[SplitEvent], plan: SplitPlan) -> None:
    """Refuse shares other than those of the splits in force (the first assignment since the last reset)."""
    made = splits_in_force(events)
    if made is not None and (made.test, made.val) != (plan.test, plan.val):
        raise ProjectError(
            f"The splits were made with test {made.test} and val {made.val}; new images follow those shares. "
            f"Got test {plan.test} and val {plan.val}. To change them, reset the splits (tetsuban split --reset), "
            "which puts every image, test images included, up for assignment again."
        )
