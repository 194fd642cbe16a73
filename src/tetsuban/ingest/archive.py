"""Zip and tar archives (tar, tar.gz, tar.bz2, tar.xz): members are read in a stream and stored in the project.

Nothing is extracted by the member's name, so hostile names (``../../etc/passwd``) cannot reach the file system.
Members are labelled by the ImageFolder rule after dropping one top folder that every member shares.

Memory is bounded whatever the archive holds: a member larger than ``import.max_bytes`` (declared, or found while
inflating) is refused after reading at most that many bytes, a batch closes at ``BATCH_BYTES``, and the batches on
their way to the workers are held to a budget (``ingest.pool.IN_FLIGHT_BYTES``).
"""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TypeVar

from tetsuban.errors import SourceError
from tetsuban.ingest.prepare import BytesTask
from tetsuban.store.runs import Outcome

_Member = TypeVar("_Member", zipfile.ZipInfo, tarfile.TarInfo)
_BATCH = 64
BATCH_BYTES = 32 * 1024 * 1024  # a batch closes past this many member bytes (a bigger member goes alone)


@dataclass(frozen=True)
class ArchiveWork:
    """An archive as a stream of batches; an Outcome in a batch is a member skipped while reading."""

    total: int | None
    batches: Iterator[list[BytesTask | Outcome]]


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, tarfile.TarError):
        return False


def archive_work(path: Path, labels_from_folders: bool, max_bytes: int) -> ArchiveWork:
    """Open the archive at ``path`` and describe its members as work; raises SourceError if it cannot be opened.

    A member larger than ``max_bytes`` is refused with a reason.
    """
    source = str(path.expanduser().resolve())
    if zipfile.is_zipfile(path):
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise SourceError(f"The archive {path} cannot be read: {exc}.") from exc
        members = [m for m in archive.infolist() if not m.is_dir() and _visible(m.filename)]
        top = _common_top([m.filename for m in members])
        read_zip = partial(_zip_member, archive, max_bytes)
        return ArchiveWork(len(members), _zip_batches(archive, read_zip, members, source, top, labels_from_folders))
    if _is_tar(path):
        names = _tar_names(path)
        batches = _tar_batches(path, max_bytes, source, _common_top(names), labels_from_folders)
        return ArchiveWork(len(names), batches)
    raise SourceError(f"{path} is not a zip or tar archive.")


def _zip_batches(
    archive: zipfile.ZipFile,
    read: Callable[[zipfile.ZipInfo, str, str | None], BytesTask | Outcome],
    members: list[zipfile.ZipInfo],
    source: str,
    top: str | None,
    labels_from_folders: bool,
) -> Iterator[list[BytesTask | Outcome]]:
    with archive:
        yield from _batches(members, lambda m: m.filename, read, source, top, labels_from_folders)


def _batches(
    members: Iterable[_Member],
    name_of: Callable[[_Member], str],
    read: Callable[[_Member, str, str | None], BytesTask | Outcome],
    source: str,
    top: str | None,
    labels_from_folders: bool,
) -> Iterator[list[BytesTask | Outcome]]:
    """Read ``members`` into batches of tasks, refusing unsafe names; labels by the ImageFolder rule. A batch closes
    at ``_BATCH`` members or ``BATCH_BYTES`` bytes, whichever comes first."""
    batch: list[BytesTask | Outcome] = []
    held = 0
    for member in members:
        name = name_of(member)
        item = f"{source}::{name}"
        label = _label(name, top) if labels_from_folders else None
        entry = _unsafe_outcome(item, label) if _unsafe(name) else read(member, item, label)
        batch.append(entry)
        held += len(entry.data) if isinstance(entry, BytesTask) else 0
        if len(batch) >= _BATCH or held >= BATCH_BYTES:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def _unsafe_outcome(item: str, label: str | None) -> Outcome:
    return Outcome(item, "skipped", "unsafe member name (absolute, or with '..'): refused", None, label)


def _zip_member(
    archive: zipfile.ZipFile, max_bytes: int, info: zipfile.ZipInfo, item: str, label: str | None
) -> BytesTask | Outcome:
    if info.file_size > max_bytes:
        return _too_large(item, label, f"{info.file_size:,} bytes", max_bytes)
    try:
        with archive.open(info) as handle:
            data = handle.read(max_bytes + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
        return Outcome(item, "skipped", f"cannot read the member: {type(exc).__name__}: {exc}", None, label)
    if len(data) > max_bytes:
        return _too_large(item, label, "it inflates past its declared size", max_bytes)
    return BytesTask(item, label, data)


def _too_large(item: str, label: str | None, found: str, max_bytes: int) -> Outcome:
    reason = f"member too large ({found}; import.max_bytes is {max_bytes:,}): refused"
    return Outcome(item, "skipped", reason, None, label)


def _tar_names(path: Path) -> list[str]:
    """Names of the regular, visible members: one pass over the archive, so labels follow the same rule as zip."""
    try:
        with tarfile.open(path, mode="r:*") as archive:
            return [m.name for m in archive if m.isfile() and _visible(m.name)]
    except (tarfile.TarError, EOFError, OSError):
        return []  # the streaming pass records where the damage is


def _tar_batches(
    path: Path, max_bytes: int, source: str, top: str | None, labels_from_folders: bool
) -> Iterator[list[BytesTask | Outcome]]:
    damage: list[str] = []
    seen = 0

    def members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
        nonlocal seen
        try:
            for member in archive:
                if member.isfile() and _visible(member.name):
                    seen += 1
                    yield member
        except (tarfile.TarError, EOFError, OSError) as exc:
            damage.append(str(exc))

    try:
        with tarfile.open(path, mode="r:*") as archive:
            read = partial(_tar_member, archive, max_bytes)
            yield from _batches(members(archive), lambda m: m.name, read, source, top, labels_from_folders)
    except (tarfile.TarError, EOFError, OSError) as exc:
        damage.append(str(exc))
    if damage:
        yield [Outcome(source, "skipped", f"the archive is damaged after {seen} member(s): {damage[0]}")]


def _tar_member(
    archive: tarfile.TarFile, max_bytes: int, member: tarfile.TarInfo, item: str, label: str | None
) -> BytesTask | Outcome:
    if member.size > max_bytes:
        return _too_large(item, label, f"{member.size:,} bytes", max_bytes)
    try:
        handle = archive.extractfile(member)
        data = b"" if handle is None else handle.read(max_bytes)
    except (tarfile.TarError, EOFError, OSError) as exc:
        return Outcome(item, "skipped", f"cannot read the member: {type(exc).__name__}: {exc}", None, label)
    return BytesTask(item, label, data)


def _visible(name: str) -> bool:
    """Hidden files and folders (and macOS resource forks) are left out silently, as in a folder import."""
    parts = PurePosixPath(name).parts
    return not any((p.startswith(".") and p != "..") or p == "__MACOSX" for p in parts)


def _unsafe(name: str) -> bool:
    """A name that would escape an extraction folder. Nothing is extracted by name, but such a member is refused."""
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts


def _common_top(names: list[str]) -> str | None:
    tops = {PurePosixPath(n).parts[0] for n in names if len(PurePosixPath(n).parts) > 1}
    deep = all(len(PurePosixPath(n).parts) > 2 for n in names)
    return tops.pop() if len(tops) == 1 and deep and names else None


def _label(name: str, top: str | None) -> str | None:
    parts = PurePosixPath(name).parts
    if top is not None:
        parts = parts[1:]
    return parts[0] if len(parts) > 1 else None
