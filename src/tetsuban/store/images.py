"""Image records and their blobs (content-addressed copies inside the project)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tetsuban.errors import ContentChanged
from tetsuban.files import read_regular_file, write_atomic
from tetsuban.store.schema import images

BLOB_DIR = "blobs"
_EXTENSIONS = {
    "JPEG": "jpg",
    "PNG": "png",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tif",
    "WEBP": "webp",
    "PPM": "ppm",
}


@dataclass(frozen=True)
class ImageRecord:
    """One row of the images table."""

    id: int
    sha256: str
    location: str
    stored: bool
    origin: str
    bytes: int
    mtime_ns: int | None
    width: int
    height: int
    format: str
    mode: str
    orientation: int
    frames: int
    added_at: float
    import_run_id: int | None


def blob_relpath(sha256: str, image_format: str) -> str:
    """Where the project keeps a copy of content ``sha256``, relative to the project folder (sharded twice)."""
    ext = _EXTENSIONS.get(image_format, "bin")
    return f"{BLOB_DIR}/{sha256[:2]}/{sha256[2:4]}/{sha256}.{ext}"


def write_blob(project_dir: Path, relpath: str, data: bytes) -> None:
    """Write ``data`` to ``project_dir/relpath`` atomically; content-addressed, so an existing blob is kept."""
    target = project_dir / relpath
    if not target.exists():
        write_atomic(target, data)


def image_path(project_dir: Path, record: ImageRecord) -> Path:
    """The file that holds an image's bytes."""
    return project_dir / record.location if record.stored else Path(record.location)


def file_matches(path: str, size: int, mtime_ns: int | None) -> bool:
    """Whether the file at ``path`` still has the size and mtime recorded for it (taken as unchanged, unhashed)."""
    try:
        stat = os.stat(path)
    except OSError:
        return False
    return stat.st_size == size and stat.st_mtime_ns == mtime_ns


def read_as_imported(path: Path, record: ImageRecord) -> bytes:
    """The bytes of ``record``'s file, only if they are still the content that was imported: the size must match,
    and the sha256 too unless the mtime is the recorded one. Read once, so what was checked is what is returned.

    Raises ContentChanged (or FileRefused, OSError) otherwise: a file swapped for a link to another file is refused.
    """
    data, status = read_regular_file(path, record.bytes)
    if len(data) != record.bytes:
        raise ContentChanged(f"{path} has {len(data):,} bytes, not the {record.bytes:,} imported: re-import it")
    unchanged = record.mtime_ns is not None and status.st_mtime_ns == record.mtime_ns
    if not unchanged and hashlib.sha256(data).hexdigest() != record.sha256:
        raise ContentChanged(f"{path} no longer holds the image that was imported: re-import it")
    return data


def readable_records(
    project_dir: Path, records: Iterable[ImageRecord]
) -> tuple[list[ImageRecord], list[tuple[str, str]]]:
    """The records whose files still look as imported (size and mtime), and (file, reason) for the others."""
    readable: list[ImageRecord] = []
    gone: list[tuple[str, str]] = []
    for record in records:
        if record.stored or file_matches(record.location, record.bytes, record.mtime_ns):
            readable.append(record)
        else:
            gone.append((str(image_path(project_dir, record)), "missing or changed since import: import it again"))
    return readable, gone


def insert_images(conn: Connection, rows: list[dict[str, object]]) -> dict[str, int]:
    """Insert image rows; return their ids by sha256."""
    if not rows:
        return {}
    result = conn.execute(sa.insert(images).returning(images.c.id, images.c.sha256), rows)
    return {sha: image_id for image_id, sha in result}


def find_by_sha(conn: Connection, shas: Iterable[str]) -> dict[str, ImageRecord]:
    """The records among ``shas`` that the project already has."""
    wanted = list(set(shas))
    found: dict[str, ImageRecord] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in conn.execute(sa.select(images).where(images.c.sha256.in_(chunk))):
            record = ImageRecord(**row._asdict())
            found[record.sha256] = record
    return found


def find_by_location(conn: Connection, locations: Iterable[str]) -> dict[str, ImageRecord]:
    """In-place records by absolute path, among ``locations``."""
    wanted = list(set(locations))
    found: dict[str, ImageRecord] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = sa.select(images).where(images.c.location.in_(chunk), images.c.stored.is_(False))
        for row in conn.execute(query):
            record = ImageRecord(**row._asdict())
            found[record.location] = record
    return found


def relocate(conn: Connection, image_id: int, location: str, stored: bool, mtime_ns: int | None) -> None:
    """Point an image at a new file holding the same content."""
    conn.execute(
        sa.update(images).where(images.c.id == image_id).values(location=location, stored=stored, mtime_ns=mtime_ns)
    )


def all_images(conn: Connection) -> list[ImageRecord]:
    """Every image record, in id order."""
    return [ImageRecord(**row._asdict()) for row in conn.execute(sa.select(images).order_by(images.c.id))]


def image_count(conn: Connection) -> int:
    """How many images the project has."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(images)).scalar_one())
