"""Turn a batch of prepared items into image rows, labels and outcomes, in one transaction.

The rules, for an item whose content (sha256) the project already has:
- the same file again, or the same archive member, URL or IDX record: ``unchanged``;
- an in-place image whose file vanished or changed, found at a new path: ``relinked`` to that path;
- an in-place image imported again with ``--copy``: ``relinked`` to the copy inside the project;
- otherwise: ``duplicate``, naming where the content came from first.
An import label is applied to an image without a current label. A different label is never overwritten: the
outcome records the conflict, and the label already in the project stays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from sqlalchemy.engine import Connection

from tetsuban.classnames import class_name_problem
from tetsuban.ingest.prepare import Prepared
from tetsuban.store.images import ImageRecord, file_matches, find_by_location, find_by_sha, insert_images, relocate
from tetsuban.store.labels import add_labels, current_labels
from tetsuban.store.runs import Outcome


@dataclass(frozen=True)
class _Decision:
    prepared: Prepared
    outcome: str
    reason: str | None = None
    image_id: int | None = None


def record_batch(conn: Connection, run_id: int, batch: list[Prepared], author: str) -> list[Outcome]:
    """Write one batch; returns the outcome of every item, in order."""
    ready = [p for p in batch if p.reason is None]
    known = find_by_sha(conn, [p.sha256 for p in ready if p.sha256])
    displaced = find_by_location(conn, [p.location for p in ready if p.location and not p.stored])
    first_in_batch: dict[str, Prepared] = {}
    decisions: list[_Decision] = []
    for p in batch:
        if p.reason is not None:
            decisions.append(_Decision(p, "skipped", p.reason))
        elif p.sha256 in known:
            decision = _against_existing(conn, p, known[p.sha256])
            if decision.outcome == "relinked":  # later items in this batch must see the new location
                known[p.sha256] = replace(
                    known[p.sha256], location=p.location or "", stored=p.stored, mtime_ns=p.mtime_ns
                )
            decisions.append(decision)
        elif p.sha256 in first_in_batch:
            decisions.append(_Decision(p, "duplicate", f"same content as {first_in_batch[p.sha256].item}"))
        else:
            first_in_batch[p.sha256] = p  # type: ignore[index]
            old = displaced.get(p.location or "")
            note = p.note if old is None else f"the file changed since it was imported as image {old.id}"
            decisions.append(_Decision(p, "added", note))
    new_ids = insert_images(conn, [_image_row(p, run_id) for p in first_in_batch.values()])
    decisions = [
        d
        if d.image_id is not None or d.outcome == "skipped"
        else _Decision(d.prepared, d.outcome, d.reason, new_ids[d.prepared.sha256])  # type: ignore[index]
        for d in decisions
    ]
    return _apply_labels(conn, decisions, author)


def record_settled(conn: Connection, settled: list[Outcome], author: str) -> list[Outcome]:
    """Apply the import labels of items settled without a worker step (their image ids are known)."""
    decisions = [_Decision(Prepared(o.item, o.label), o.outcome, o.reason, o.image_id) for o in settled]
    return _apply_labels(conn, decisions, author)


def _against_existing(conn: Connection, p: Prepared, rec: ImageRecord) -> _Decision:
    if not p.stored and not rec.stored:
        if rec.location == p.location:
            relocate(conn, rec.id, rec.location, False, p.mtime_ns)
            return _Decision(p, "unchanged", None, rec.id)
        if not file_matches(rec.location, rec.bytes, rec.mtime_ns):
            relocate(conn, rec.id, p.location or "", False, p.mtime_ns)
            return _Decision(p, "relinked", f"moved: was {rec.location}", rec.id)
    if p.stored and not rec.stored:
        relocate(conn, rec.id, p.location or "", True, None)
        return _Decision(p, "relinked", f"copied into the project (was {rec.location})", rec.id)
    if rec.origin == p.item:
        return _Decision(p, "unchanged", None, rec.id)
    return _Decision(p, "duplicate", f"same content as {rec.origin}", rec.id)


def _image_row(p: Prepared, run_id: int) -> dict[str, object]:
    info = p.info
    assert info is not None and p.sha256 is not None and p.location is not None
    return {
        "sha256": p.sha256,
        "location": p.location,
        "stored": p.stored,
        "origin": p.item,
        "bytes": p.size,
        "mtime_ns": p.mtime_ns,
        "width": info.width,
        "height": info.height,
        "format": info.format,
        "mode": info.mode,
        "orientation": info.orientation,
        "frames": info.frames,
        "added_at": time.time(),
        "import_run_id": run_id,
    }


def _apply_labels(conn: Connection, decisions: list[_Decision], author: str) -> list[Outcome]:
    ids = sorted({d.image_id for d in decisions if d.image_id is not None})
    now = {image_id: event.label for image_id, event in current_labels(conn, ids).items()}
    assignments: list[tuple[int, str | None]] = []
    outcomes: list[Outcome] = []
    for d in decisions:
        label, reason = d.prepared.label, d.reason
        problem = None if label is None else class_name_problem(label)
        if problem is not None:
            refused = f"label {label!r:.80} not applied: {problem}"
            reason, label = refused if reason is None else f"{reason}; {refused}", None
        if d.image_id is not None and label is not None:
            held = now.get(d.image_id)
            if held is None:
                assignments.append((d.image_id, label))
                now[d.image_id] = label
            elif held != label:
                conflict = f"label conflict: the project has '{held}', this source says '{label}'; kept '{held}'"
                reason = conflict if reason is None else f"{reason}; {conflict}"
        outcomes.append(Outcome(d.prepared.item, d.outcome, reason, d.image_id, label))
    add_labels(conn, assignments, source="import", author=author)
    return outcomes
