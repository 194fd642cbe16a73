"""Labels to CSV: one row per image with its current label, or every label event with ``history``."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from tetsuban.csvcells import safe_row
from tetsuban.files import write_atomic
from tetsuban.store.images import all_images, image_path
from tetsuban.store.labels import LabelEvent, current_labels, label_history
from tetsuban.store.splits import current_splits

EXPORT_COLUMNS = ("path", "sha256", "label", "source", "author", "time", "split")


def export_labels(root: Path, engine: Engine, out: Path, history: bool = False) -> int:
    """Write the labels CSV to ``out`` atomically; returns the number of data rows.

    Without ``history``: every image, its current label (empty when it has none) and how that label came about.
    With ``history``: every label event, oldest first, including cleared labels (empty label).
    The ``split`` column is the image's current split (empty before ``split``).
    """
    with engine.connect() as conn:
        records = {r.id: r for r in all_images(conn)}
        split_of = current_splits(conn)
        events: list[tuple[int, LabelEvent | None]]
        if history:
            events = [(e.image_id, e) for e in label_history(conn)]
        else:
            latest = current_labels(conn)
            events = [(image_id, latest.get(image_id)) for image_id in records]
    rows = [[*_row(str(image_path(root, records[i])), records[i].sha256, e), split_of.get(i, "")] for i, e in events]
    _write_csv(out, rows)
    return len(rows)


def _row(path: str, sha256: str, event: LabelEvent | None) -> list[str]:
    if event is None:
        return [path, sha256, "", "", "", ""]
    when = datetime.fromtimestamp(event.created_at, UTC).isoformat(timespec="seconds")
    return [path, sha256, event.label or "", event.source, event.author, when]


def _write_csv(out: Path, rows: list[list[str]]) -> None:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(safe_row(row) for row in rows)
    write_atomic(out, text.getvalue().encode("utf-8"))
