"""What a project holds and what needs attention: counts, recent imports, skipped files, vanished or changed files."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.engine import Engine

from tetsuban.files import file_sha256
from tetsuban.ingest.liveness import run_alive
from tetsuban.store.images import ImageRecord, all_images, image_path
from tetsuban.store.labels import class_counts
from tetsuban.store.runs import Outcome, RunSummary, recent_runs, skipped_items


@dataclass(frozen=True)
class FileProblem:
    """An image whose file is gone (moved or deleted) or whose content changed since import."""

    image_id: int
    path: str
    problem: str  # missing / changed


@dataclass(frozen=True)
class ProjectStatus:
    """A project at a glance."""

    name: str
    root: Path
    images: int
    labelled: int
    per_class: dict[str, int]
    runs: list[RunSummary]
    skipped: list[Outcome]
    problems: list[FileProblem]


def project_status(root: Path, name: str, engine: Engine, recent: int = 5) -> ProjectStatus:
    """Gather the status of the project at ``root``; checks every image's file."""
    with engine.connect() as conn:
        records = all_images(conn)
        per_class = class_counts(conn)
        runs = [_as_seen(root, run) for run in recent_runs(conn, recent)]
        skipped = skipped_items(conn, [r.id for r in runs], limit=200)
    return ProjectStatus(
        name=name,
        root=root,
        images=len(records),
        labelled=sum(per_class.values()),
        per_class=per_class,
        runs=runs,
        skipped=skipped,
        problems=check_files(root, records),
    )


def _as_seen(root: Path, run: RunSummary) -> RunSummary:
    """A run recorded as running whose process has gone (killed, or the machine restarted) is interrupted."""
    if run.status == "running" and not run_alive(root, run.id):
        return replace(run, status="interrupted")
    return run


def check_files(root: Path, records: list[ImageRecord]) -> list[FileProblem]:
    """Images whose file is missing, or whose content differs from what was imported.

    A file whose size and mtime match is taken as unchanged; one whose mtime alone moved is hashed to be sure.
    """
    problems = []
    for record in records:
        path = image_path(root, record)
        try:
            stat = os.stat(path)
        except OSError:
            problems.append(FileProblem(record.id, str(path), "missing"))
            continue
        if stat.st_size != record.bytes or (
            not record.stored and stat.st_mtime_ns != record.mtime_ns and file_sha256(path) != record.sha256
        ):
            problems.append(FileProblem(record.id, str(path), "changed"))
    return problems
