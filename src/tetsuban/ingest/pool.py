"""Run the worker step over batches in a process pool, in order, with a bounded number in flight."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial

from tetsuban.ingest.prepare import PrepareContext, Prepared, Task, prepare_batch


def worker_count(configured: int) -> int:
    """``configured`` workers, or one per core when it is 0."""
    return configured if configured > 0 else (os.cpu_count() or 1)


def _pool_context() -> multiprocessing.context.BaseContext:
    """Workers come from a fork server: forking the calling process, whose libraries (OpenCV, BLAS) may hold
    thread-pool locks, can deadlock the child; the server is a clean, single-threaded process."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tetsuban.ingest.prepare"])
    return context


def _init_worker() -> None:
    import cv2

    # Ctrl-C reaches the whole process group: the parent stops the import and shuts the pool down, so a worker
    # must not die mid-task with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)  # workers are the parallelism; OpenCV's own threads would fight them for the cores


def prepare_batches(
    ctx: PrepareContext, batches: Iterable[Sequence[Task]], workers: int, in_process: bool = False
) -> Iterator[list[Prepared]]:
    """Yield the prepared results of each batch, in the order the batches came.

    With ``in_process`` (small imports, where starting processes costs more than it saves) or one worker, the
    batches run here. Otherwise at most ``2 * workers`` batches are in flight, so that a large archive is never
    read into memory whole.
    """
    if in_process or workers <= 1:
        for batch in batches:
            yield prepare_batch(ctx, batch)
        return
    work = partial(prepare_batch, ctx)
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_init_worker) as pool:
        pending: deque[Future[list[Prepared]]] = deque()
        try:
            for batch in batches:
                pending.append(pool.submit(work, batch))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
