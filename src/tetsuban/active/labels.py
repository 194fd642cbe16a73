"""Labels as people give them: recorded with who, when and how long the image was on screen, never overwritten
(the history keeps every earlier label), with the classes they name."""

from __future__ import annotations

import getpass
from collections.abc import Sequence

from tetsuban.store import class_edits
from tetsuban.store.labels import LabelEvent, add_labels, class_counts, ensure_classes, label_history, labels_since
from tetsuban.workspace import Workspace


def set_labels(
    ws: Workspace,
    assignments: Sequence[tuple[int, str | None]],
    source: str = "human",
    author: str | None = None,
    seconds_on_screen: float | None = None,
) -> None:
    """Record new labels (None clears one); the history keeps every earlier label."""
    with ws.engine.begin() as conn:
        add_labels(conn, list(assignments), source, author or getpass.getuser(), seconds_on_screen)


def history(ws: Workspace, image_id: int | None = None) -> list[LabelEvent]:
    """Every label event (of one image), oldest first."""
    with ws.engine.connect() as conn:
        return label_history(conn, image_id)


def counts(ws: Workspace) -> dict[str, int]:
    """Images per class by their current label (0 for a class no image has now)."""
    with ws.engine.connect() as conn:
        return class_counts(conn)


def given_since(ws: Workspace, since: float) -> int:
    """Labels people gave (imports and clearings aside) since the time ``since`` (seconds since the epoch)."""
    with ws.engine.connect() as conn:
        return labels_since(conn, since)


def add_class(ws: Workspace, name: str) -> None:
    """Add a class before any image has it (labelling adds classes too)."""
    with ws.engine.begin() as conn:
        ensure_classes(conn, {name})


def rename_class(ws: Workspace, old: str, new: str, author: str | None = None) -> int:
    """Rename a class in place; its images get a label event naming ``new``. Returns how many."""
    with ws.engine.begin() as conn:
        return class_edits.rename_class(conn, old, new, author or getpass.getuser())


def merge_classes(ws: Workspace, sources: Sequence[str], into: str, author: str | None = None) -> int:
    """Put the images of ``sources`` into the class ``into`` and retire ``sources``. Returns how many."""
    with ws.engine.begin() as conn:
        return class_edits.merge_classes(conn, sources, into, author or getpass.getuser())


def remove_class(ws: Workspace, name: str, author: str | None = None) -> int:
    """Clear the labels of a class's images (the history keeps them) and retire it. Returns how many."""
    with ws.engine.begin() as conn:
        return class_edits.remove_class(conn, name, author or getpass.getuser())


def images_labelled(ws: Workspace, name: str) -> int:
    """How many images are labelled ``name`` now."""
    with ws.engine.connect() as conn:
        return len(class_edits.images_labelled(conn, name))
