"""Ordered map over batches in worker processes that start cleanly and share the cores politely.

Workers come from a fork server: forking the calling process, whose libraries (OpenCV, BLAS, ONNX Runtime) may
hold thread-pool locks, can deadlock the child; the server is a clean, single-threaded process. Each worker runs
one thread of OpenCV (the workers are the parallelism) and ignores SIGINT: Ctrl-C reaches the whole process group,
the parent stops the work and shuts the pool down, so a worker must not die mid-task with a traceback of its own.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import select
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from tetsuban.cluster import cluster_map, current as current_cluster

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class Budget(Generic[In]):
    """A cap on what the items in flight may weigh together: ``weigh(item)`` against ``limit``."""

    weigh: Callable[[In], int]
    limit: int


def worker_count(configured: int) -> int:
    """``configured`` workers, or one per core when it is 0."""
    return configured if configured > 0 else (os.cpu_count() or 1)


def ordered_map(
    work: Callable[[In], Out],
    items: Iterable[In],
    workers: int,
    preload: Sequence[str] = (),
    setup: Callable[..., None] | None = None,
    setup_args: tuple[object, ...] = (),
    in_flight_per_worker: int = 2,
    budget: Budget | None = None,
) -> Iterator[Out]:
    """Yield ``work(item)`` for each item, in the order the items came, computed by ``workers`` processes.

    ``work`` and ``setup`` must be importable module-level functions; ``setup(*setup_args)`` runs once in each
    worker before its first item (to open a model, say). ``preload`` names modules the fork server imports once.
    At most ``in_flight_per_worker * workers`` items are in flight, so a long stream is never held in memory whole;
    with ``budget``, also no more than its limit of their weight (bytes, say), though one item always may go.
    With one worker everything runs here, ``setup`` included. Within :func:`cluster.on_cluster` the items go to
    the Ray cluster instead, whatever ``workers`` says.
    """
    cluster = current_cluster()
    if cluster is not None:
        yield from cluster_map(cluster, work, items, setup, setup_args)
        return
    if workers <= 1:
        if setup is not None:
            setup(*setup_args)
        for item in items:
            yield work(item)
        return
    context = _pool_context(preload)
    initargs = (os.getpid(), setup, setup_args)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init, initargs=initargs) as pool:
        pending: deque[tuple[Future[Out], int]] = deque()
        held = 0
        try:
            for item in items:
                weight = 0 if budget is None else budget.weigh(item)
                while pending and budget is not None and held + weight > budget.limit:
                    future, done_weight = pending.popleft()
                    held -= done_weight
                    yield future.result()
                pending.append((pool.submit(work, item), weight))
                held += weight
                if len(pending) >= in_flight_per_worker * workers:
                    future, done_weight = pending.popleft()
                    held -= done_weight
                    yield future.result()
            while pending:
                yield pending.popleft()[0].result()
        finally:
            for future, _ in pending:
                future.cancel()


def _pool_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    return context


def exit_with(pid: int) -> None:
    """End this worker the moment process ``pid`` (the main process) ends, however it ends (kill -9 included).

    A fork server's workers hold the pipe that keeps the fork server alive, and the fork server is their parent, so
    neither notices the main process go: each worker watches it itself, from a daemon thread.
    """
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd here (not Linux): look every second instead
        threading.Thread(target=_poll_until_gone, args=(pid,), daemon=True, name="exit-with-main").start()
        return
    threading.Thread(target=_wait_until_gone, args=(handle,), daemon=True, name="exit-with-main").start()


def _wait_until_gone(handle: int) -> None:
    select.select([handle], [], [])  # a process's pidfd becomes readable when it ends
    os._exit(1)


def _poll_until_gone(pid: int) -> None:
    while True:
        time.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass


def _init(main: int, setup: Callable[..., None] | None, setup_args: tuple[object, ...]) -> None:
    import cv2

    exit_with(main)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)
    if setup is not None:
        setup(*setup_args)
