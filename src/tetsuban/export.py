"""Labels to CSV: one row per image with its current label, or every label event with ``history``; and the labels
that look wrong, in their ranking."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from tetsuban.active.label_issues import LabelIssue
from tetsuban.csvcells import safe_row
from tetsuban.files import write_atomic
from tetsuban.store.images import all_images, image_path
from tetsuban.store.labels import LabelEvent, current_labels, label_history
from tetsuban.store.splits import current_splits

EXPORT_COLUMNS = ("path", "sha256", "label", "source", "author", "time", "split")
ISSUE_COLUMNS = (
    "rank",
    "image_id",
    "path",
    "label",
    "suggested",
    "p_suggested",
    "p_wrong",
    "p_label_model",
    "p_suggested_model",
)


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
    _write_csv(out, EXPORT_COLUMNS, rows)
    return len(rows)


def write_label_issues(out: Path, issues: Sequence[tuple[int, Path, LabelIssue]]) -> int:
    """Write the labels that look wrong, in their ranking, to ``out`` atomically; returns the number of rows."""
    rows = [
        [
            str(rank),
            str(image_id),
            str(path),
            issue.given,
            issue.suggested,
            f"{issue.suggested_calibrated:.4f}",
            f"{issue.wrong_probability:.4f}",
            f"{issue.given_probability:.4f}",
            f"{issue.suggested_probability:.4f}",
        ]
        for rank, (image_id, path, issue) in enumerate(issues, start=1)
    ]
    _write_csv(out, ISSUE_COLUMNS, rows)
    return len(rows)


def _row(path: str, sha256: str, event: LabelEvent | None) -> list[str]:
    if event is None:
        return [path, sha256, "", "", "", ""]
    when = datetime.fromtimestamp(event.created_at, UTC).isoformat(timespec="seconds")
    return [path, sha256, event.label or "", event.source, event.author, when]


def _write_csv(out: Path, header: Sequence[str], rows: list[list[str]]) -> None:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(safe_row(row) for row in rows)
    write_atomic(out, text.getvalue().encode("utf-8"))
