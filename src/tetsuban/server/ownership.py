"""Whose label is whose: the rules every write of the app passes.

- An image leased to someone else (handed to them by a queue, not yet labelled, lease not expired) is theirs to
  label: no one else writes to it meanwhile.
- A label another person gave is theirs: an annotator changes it only when the image was handed to them for a
  second opinion (they hold its lease); reviewers and admins may change any.
- Undoing a label puts back the one it replaced, whoever gave it (under that person's name): an undo never leaves
  an image without the label another person gave it, and a reviewer who undoes a change gets the old label back.
"""

from __future__ import annotations

from dataclasses import dataclass

from tetsuban.accounts import at_least
from tetsuban.server.state import Viewer
from tetsuban.store.labels import LabelEvent


@dataclass(frozen=True)
class Refusal:
    """Why a write is refused, with the HTTP status that says so."""

    status: int
    detail: str


def write_refusal(viewer: Viewer, image_id: int, holder: str | None, author: str | None) -> Refusal | None:
    """Why ``viewer`` may not write to ``image_id`` now (``holder``: its lease's holder; ``author``: who gave its
    current label), or None when they may."""
    if holder is not None and holder != viewer.name:
        return Refusal(409, f"Image {image_id} is with {holder} now (leased to them); take the next one.")
    if author is not None and author != viewer.name and holder != viewer.name and not at_least(viewer.role, "reviewer"):
        return Refusal(
            403,
            f"The label of image {image_id} is {author}'s; a reviewer may change it, or you when the app hands it "
            "to you for a second opinion.",
        )
    return None


def label_before(history: list[LabelEvent]) -> LabelEvent | None:
    """The event whose label stood before the image's current one (it comes back when the current one is undone);
    None when the image had none before it."""
    if len(history) < 2 or history[-1].label is None:
        return None
    before = history[-2]
    return None if before.label is None else before
