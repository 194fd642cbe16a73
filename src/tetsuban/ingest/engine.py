"""One import run: record its start, write prepared batches as they come, record how it ended.

Each batch is its own transaction, so a killed import keeps every batch it committed, and running the same
import again skips what is already there and completes the rest.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from tetsuban.config import ProjectConfig
from tetsuban.ingest.liveness import holding_run
from tetsuban.ingest.pool import prepare_batches
from tetsuban.ingest.prepare import FileTask, PrepareContext, Prepared, Task
from tetsuban.ingest.record import record_batch, record_settled
from tetsuban.interrupts import interrupts_deferred
from tetsuban.parallel import worker_count
from tetsuban.progress import ProgressFn
from tetsuban.store.images import file_matches, find_by_location
from tetsuban.store.runs import Outcome, finish_run, record_outcomes, run_counts, skipped_items, start_run

EarlyFn = Callable[[list[Outcome]], None]
"""Records outcomes of items settled without a worker step (a file unchanged since the last import)."""

# Fewer items than this are prepared in the calling process: starting workers would cost more than it saves.
IN_PROCESS_BELOW = 32


@dataclass(frozen=True)
class ImportTarget:
    """Where an import writes: the project folder, its database and its settings."""

    project_dir: Path
    engine: Engine
    config: ProjectConfig
    author: str = field(default_factory=getpass.getuser)

    def context(self) -> PrepareContext:
        limits = self.config.imports
        return PrepareContext(str(self.project_dir), limits.max_pixels, limits.max_bytes)


@dataclass(frozen=True)
class ImportReport:
    """How an import run went."""

    run_id: int
    source: str
    status: str
    counts: dict[str, int]
    skipped: list[Outcome]

    @property
    def seen(self) -> int:
        """Items this run looked at."""
        return sum(self.counts.values())


def run_import(
    target: ImportTarget,
    source: str,
    kind: str,
    options: Mapping[str, object],
    produce: Callable[[EarlyFn], Iterator[list[Prepared]]],
    total: int | None,
    on_progress: ProgressFn | None = None,
) -> ImportReport:
    """Run an import whose prepared batches come from ``produce``; see the module docstring."""
    with interrupts_deferred(), target.engine.begin() as conn:
        run_id = start_run(conn, source, kind, options, target.author)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if on_progress is not None:
            on_progress(done, total)

    def early(outcomes: list[Outcome]) -> None:
        with interrupts_deferred(), target.engine.begin() as conn:
            record_outcomes(conn, run_id, record_settled(conn, outcomes, target.author))
        advance(len(outcomes))

    status = "interrupted"
    try:
        with holding_run(target.project_dir, run_id):  # while it is held, status shows the run as running
            for batch in produce(early):
                with interrupts_deferred(), target.engine.begin() as conn:
                    record_outcomes(conn, run_id, record_batch(conn, run_id, batch, target.author))
                advance(len(batch))
            status = "finished"
    finally:
        with interrupts_deferred(), target.engine.begin() as conn:
            finish_run(conn, run_id, status)
    with target.engine.connect() as conn:
        return ImportReport(run_id, source, status, run_counts(conn, run_id), skipped_items(conn, [run_id], 10_000))


def pooled(
    target: ImportTarget,
    batches: Iterable[Sequence[Task]],
    total: int | None,
) -> Callable[[EarlyFn], Iterator[list[Prepared]]]:
    """A ``produce`` for run_import that skips unchanged in-place files and prepares the rest in worker processes."""

    def produce(early: EarlyFn) -> Iterator[list[Prepared]]:
        def remaining() -> Iterator[list[Task]]:
            for batch in batches:
                named, refused = _refuse_unstorable_names(batch)
                keep, settled = _skip_unchanged_files(target.engine, named)
                if refused or settled:
                    early(refused + settled)
                if keep:
                    yield keep

        in_process = total is not None and total < IN_PROCESS_BELOW
        workers = worker_count(target.config.imports.workers)
        yield from prepare_batches(target.context(), remaining(), workers, in_process=in_process)

    return produce


def _refuse_unstorable_names(batch: Sequence[Task]) -> tuple[list[Task], list[Outcome]]:
    """Split off files whose path (or folder label) is not valid UTF-8: the store keeps text, so each is skipped with
    its name shown printable (undecodable bytes as \\xNN) and the rest of the import goes on."""
    keep: list[Task] = []
    refused: list[Outcome] = []
    for task in batch:
        if isinstance(task, FileTask) and not (_storable(task.path) and _storable(task.label or "")):
            reason = (
                "the file name is not valid UTF-8, which the project cannot store: rename the file and import again"
            )
            refused.append(Outcome(printable_name(task.path), "skipped", reason, None, None))
        else:
            keep.append(task)
    return keep, refused


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_name(path: str) -> str:
    """``path`` as text the store can keep: bytes that are not UTF-8 (held as surrogates) shown as \\xNN."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def _skip_unchanged_files(engine: Engine, batch: Sequence[Task]) -> tuple[list[Task], list[Outcome]]:
    """Split off in-place files whose size and mtime match their record: no need to read or hash them again."""
    files = {t.path: t for t in batch if isinstance(t, FileTask) and not t.copy}
    if not files:
        return list(batch), []
    with engine.connect() as conn:
        records = find_by_location(conn, list(files))
    keep: list[Task] = []
    settled: list[Outcome] = []
    for task in batch:
        rec = records.get(task.path) if isinstance(task, FileTask) and task.path in files else None
        if isinstance(task, FileTask) and rec is not None and file_matches(task.path, rec.bytes, rec.mtime_ns):
            settled.append(Outcome(task.path, "unchanged", None, rec.id, task.label))
        else:
            keep.append(task)
    return keep, settled


def file_batch_size(total: int, workers: int) -> int:
    """Files per batch: about eight batches per worker, so that big files spread evenly; 64 at most."""
    return max(1, min(64, total // (8 * max(1, workers))))


def batched(tasks: Iterable[Task], size: int) -> Iterator[list[Task]]:
    """Group ``tasks`` into lists of at most ``size``."""
    batch: list[Task] = []
    for task in tasks:
        batch.append(task)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
