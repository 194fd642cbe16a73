"""The work done per item in worker processes: read, hash, inspect, and copy into the project when asked.

Everything here is picklable and free of database access, so that it runs in a process pool; the results go
back to the parent, which alone writes to the store.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tetsuban.errors import FileRefused, ImageError
from tetsuban.files import read_regular_file
from tetsuban.imaging.decode import ImageInfo, inspect_image
from tetsuban.ingest.kinds import archive_reading
from tetsuban.store.images import blob_relpath, write_blob


@dataclass(frozen=True)
class PrepareContext:
    """What every worker needs to know."""

    project_dir: str
    max_pixels: int
    max_bytes: int


@dataclass(frozen=True)
class FileTask:
    """A file on disk, referenced in place or copied into the project."""

    path: str
    label: str | None
    copy: bool


@dataclass(frozen=True)
class BytesTask:
    """Bytes from an archive member or a download; always stored in the project."""

    item: str
    label: str | None
    data: bytes


@dataclass(frozen=True)
class PixelsTask:
    """Raw uint8 pixels (IDX): ``pixels`` is (N, H, W) or (N, H, W, 3); item i is ``f"{source}#{start + i}"``."""

    source: str
    start: int
    pixels: np.ndarray
    labels: tuple[str | None, ...]


Task = FileTask | BytesTask | PixelsTask


@dataclass(frozen=True)
class Prepared:
    """One item after its worker step: an image ready to record, or a reason it was skipped."""

    item: str
    label: str | None
    sha256: str | None = None
    info: ImageInfo | None = None
    location: str | None = None
    stored: bool = False
    size: int = 0
    mtime_ns: int | None = None
    reason: str | None = None
    note: str | None = None  # about an item added all the same (it also reads as an archive)


def prepare_batch(ctx: PrepareContext, batch: Sequence[Task]) -> list[Prepared]:
    """Run the worker step over a batch; never raises for a bad item."""
    results: list[Prepared] = []
    for task in batch:
        if isinstance(task, FileTask):
            results.append(_prepare_file(ctx, task))
        elif isinstance(task, BytesTask):
            results.append(prepare_bytes(ctx, task.item, task.label, task.data))
        else:
            results.extend(_prepare_pixels(ctx, task))
    return results


def sha256_hex(data: bytes) -> str:
    """The content address of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _prepare_file(ctx: PrepareContext, task: FileTask) -> Prepared:
    try:
        data, stat = read_regular_file(task.path, ctx.max_bytes)
    except FileRefused as exc:
        return Prepared(task.path, task.label, reason=str(exc))
    except OSError as exc:
        return Prepared(task.path, task.label, reason=f"cannot read the file: {exc.strerror or exc}")
    if not task.copy:
        try:
            info = inspect_image(data, ctx.max_pixels)
        except ImageError as exc:
            return Prepared(task.path, task.label, reason=_with_other_reading(str(exc), data))
        return Prepared(
            task.path,
            task.label,
            sha256=sha256_hex(data),
            info=info,
            location=task.path,
            stored=False,
            size=len(data),
            mtime_ns=stat.st_mtime_ns,
            note=_other_reading_note(data),
        )
    return prepare_bytes(ctx, task.path, task.label, data)


def prepare_bytes(ctx: PrepareContext, item: str, label: str | None, data: bytes) -> Prepared:
    try:
        info = inspect_image(data, ctx.max_pixels)
    except ImageError as exc:
        return Prepared(item, label, reason=_with_other_reading(str(exc), data))
    sha = sha256_hex(data)
    relpath = blob_relpath(sha, info.format)
    try:
        write_blob(Path(ctx.project_dir), relpath, data)
    except OSError as exc:
        return Prepared(item, label, reason=f"cannot write the copy into the project: {exc.strerror or exc}")
    note = _other_reading_note(data)
    return Prepared(item, label, sha256=sha, info=info, location=relpath, stored=True, size=len(data), note=note)


def _other_reading_note(data: bytes) -> str | None:
    """For an image that is also an archive: it was taken as the image its name says, and that is said."""
    other = archive_reading(data)
    return None if other is None else f"also reads as {other}: imported as the image its name says, never unpacked"


def _with_other_reading(reason: str, data: bytes) -> str:
    """A refused image that reads as an archive: say how to import it as one."""
    other = archive_reading(data)
    return reason if other is None else f"{reason}; it reads as {other}: give it an archive's name to import it"


def _prepare_pixels(ctx: PrepareContext, task: PixelsTask) -> list[Prepared]:
    results = []
    for offset, (pixels, label) in enumerate(zip(task.pixels, task.labels, strict=True)):
        results.append(prepare_bytes(ctx, f"{task.source}#{task.start + offset}", label, encode_png(pixels)))
    return results


def encode_png(pixels: np.ndarray) -> bytes:
    """Lossless PNG bytes of a grey (H, W) or RGB (H, W, 3) uint8 array; the same array always gives the same bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
