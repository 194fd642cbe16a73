"""Run the import's worker step over batches in a process pool, in order, with a bounded number in flight."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import partial

from tetsuban.ingest.prepare import PrepareContext, Prepared, Task, prepare_batch
from tetsuban.parallel import ordered_map


def prepare_batches(
    ctx: PrepareContext, batches: Iterable[Sequence[Task]], workers: int, in_process: bool = False
) -> Iterator[list[Prepared]]:
    """Yield the prepared results of each batch, in the order the batches came.

    With ``in_process`` (small imports, where starting processes costs more than it saves) or one worker, the
    batches run here.
    """
    preload = ("tetsuban.ingest.prepare",)
    yield from ordered_map(partial(prepare_batch, ctx), batches, 1 if in_process else workers, preload)
