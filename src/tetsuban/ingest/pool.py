"""Run the import's worker step over batches in a process pool, in order, with a bounded number in flight."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import partial

from tetsuban.ingest.prepare import BytesTask, PixelsTask, PrepareContext, Prepared, Task, prepare_batch
from tetsuban.parallel import Budget, ordered_map

IN_FLIGHT_BYTES = 256 * 1024 * 1024
"""Bytes held in batches on their way to the workers (archive members, downloads, IDX pixels), whatever the source
holds; a single item larger than this still goes, alone, and its size is capped by ``import.max_bytes``."""


def prepare_batches(
    ctx: PrepareContext, batches: Iterable[Sequence[Task]], workers: int, in_process: bool = False
) -> Iterator[list[Prepared]]:
    """Yield the prepared results of each batch, in the order the batches came.

    With ``in_process`` (small imports, where starting processes costs more than it saves) or one worker, the
    batches run here.
    """
    preload = ("tetsuban.ingest.prepare",)
    budget = Budget(batch_bytes, IN_FLIGHT_BYTES)
    yield from ordered_map(partial(prepare_batch, ctx), batches, 1 if in_process else workers, preload, budget=budget)


def batch_bytes(batch: Sequence[Task]) -> int:
    """The bytes a batch carries in memory (a file named by its path carries none)."""
    return sum(task_bytes(task) for task in batch)


def task_bytes(task: Task) -> int:
    if isinstance(task, BytesTask):
        return len(task.data)
    if isinstance(task, PixelsTask):
        return int(task.pixels.nbytes)
    return 0
