"""What a file is, by its name: one rule for every import, so that a file that reads as two kinds (a JPEG with a
zip appended) is always taken as the kind its name says, and the other reading is only ever mentioned."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

CSV_SUFFIXES = (".csv", ".tsv")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def kind_by_name(path: Path) -> str | None:
    """ "csv" or "archive" when the name says so, else None (an image, or an IDX file, whose names say nothing)."""
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(ARCHIVE_SUFFIXES):
        return "archive"
    return None


def archive_reading(data: bytes) -> str | None:
    """ "a zip archive" or "a tar archive" when ``data`` also reads as one, else None."""
    stream = io.BytesIO(data)
    if zipfile.is_zipfile(stream):
        return "a zip archive"
    try:
        stream.seek(0)
        with tarfile.open(fileobj=stream, mode="r:") as archive:
            return "a tar archive" if archive.next() is not None else None
    except (tarfile.TarError, EOFError, OSError):
        return None
