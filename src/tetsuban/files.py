"""Files read and written safely.

Writes are atomic: a temporary file in the target's folder, renamed into place; a crash leaves the old file. Reads
are bounded and only of regular files: a name can lead to /dev/zero (endless), a FIFO (a read that never ends) or
a file larger than memory, and none of these may take the process with it.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from tetsuban.errors import FileRefused


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or the new, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_regular_file(path: Path | str, limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file at ``path`` (following links) and its status, read only up to ``limit``.

    Raises FileRefused for anything that is not a regular file, or that holds more than ``limit`` bytes; OSError
    when it cannot be opened. A FIFO is opened without waiting for a writer, then refused.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise FileRefused(f"not a regular file ({_kind(status.st_mode)}): refused unread")
        if status.st_size > limit:
            raise FileRefused(f"{status.st_size:,} bytes, larger than the limit of {limit:,}: refused unread")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileRefused(f"it grew past the limit of {limit:,} bytes while read: refused")
    return data, status


def read_bounded(path: Path | str, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them (see read_regular_file)."""
    return read_regular_file(path, limit)[0]


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a plain file"
