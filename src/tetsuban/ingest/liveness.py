"""Whether an import run's process is still alive: the run holds an exclusive lock on a file of its own while it
works, and the kernel lets go of the lock when the process ends, however it ends (kill -9 included). A run recorded
as running whose lock is free was interrupted."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def lock_path(project_dir: Path, run_id: int) -> Path:
    return project_dir / ".cache" / "runs" / f"import-{run_id}.lock"


@contextmanager
def holding_run(project_dir: Path, run_id: int) -> Iterator[None]:
    """Hold run ``run_id``'s lock for the block; the file goes when the run ends normally."""
    path = lock_path(project_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def run_alive(project_dir: Path, run_id: int) -> bool:
    """Whether a process still holds run ``run_id``'s lock."""
    try:
        fd = os.open(lock_path(project_dir, run_id), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
