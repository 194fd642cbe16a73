"""Images in object storage: `tetsuban import PROJECT s3://bucket/photos/` (or gs://, az://, any fsspec URL whose
package is installed: s3fs, gcsfs, adlfs).

The prefix is listed once (every object below it, hidden ones left out; the first sub-folder names the class, as for
a folder); each object is known by its URL, its ETag and its size, so that an import run again fetches only objects
that are new or changed (a new ETag or size is a new item; an unchanged one is reported unchanged at once). Objects
are fetched concurrently in threads, each read bounded by ``[import] max_bytes`` and checked against the listed
size (an object replaced while the import ran is reported, not half-read), and stored in the project as blobs: from
then on the app serves them by id like any image, and nothing needs the bucket.

The file system object is made here for this one import (fsspec's instance cache is skipped) and used only by its
threads: an object holding connections and an event loop must never cross a fork.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tetsuban.errors import SourceError
from tetsuban.ingest.prepare import PrepareContext, Prepared, prepare_bytes
from tetsuban.store.runs import Outcome

LOCAL_SCHEMES = frozenset({"", "file", "http", "https"})
_CHUNK = 64


def is_remote(source: str) -> bool:
    """Whether ``source`` names object storage (a URL with a scheme fsspec reads, not a path or an http URL)."""
    return "://" in source and urlsplit(source).scheme.lower() not in LOCAL_SCHEMES


@dataclass(frozen=True)
class RemoteObject:
    """One object to import: its URL, its version (ETag, or what the store has instead) and size, its label."""

    url: str
    version: str
    size: int
    label: str | None

    @property
    def item(self) -> str:
        """How the import records it: a new version or size is a new item, so a changed object is fetched again."""
        return f"{self.url} (etag {self.version}, {self.size} bytes)"


def open_remote(url: str) -> tuple[Any, str]:
    """(file system, path within it) for ``url``, made for this import alone; a SourceError says what is missing."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url, skip_instance_cache=True)
    except (ImportError, ValueError) as error:
        scheme = urlsplit(url).scheme
        raise SourceError(
            f"Cannot read {scheme}:// URLs here: {error}. Install the file system's package (s3fs for s3://, gcsfs "
            "for gs://, adlfs for az://)."
        ) from None
    return fs, path


def list_objects(fs: Any, root: str, labels_from_folders: bool) -> list[RemoteObject]:
    """Every object below ``root`` in a stable order, hidden ones (a name part starting with '.') left out."""
    base = root.rstrip("/")
    try:
        found = fs.find(base, detail=True)
    except FileNotFoundError:
        raise SourceError(
            f"Nothing is stored at {fs.unstrip_protocol(base)}. Check the bucket and the prefix."
        ) from None
    except PermissionError as error:
        raise SourceError(f"Not allowed to list {fs.unstrip_protocol(base)}: {error}") from None
    objects = []
    for path in sorted(found):
        info = found[path]
        relative = path[len(base) :].lstrip("/").split("/") if path.startswith(base) else [path]
        if info.get("type") == "directory" or any(part.startswith(".") for part in relative):
            continue
        label = relative[0] if labels_from_folders and len(relative) > 1 else None
        objects.append(RemoteObject(fs.unstrip_protocol(path), _version(info), int(info.get("size") or 0), label))
    return objects


def _version(info: dict[str, Any]) -> str:
    """The object's ETag (S3, Azure), or the store's own content tag, or its modification time; quotes removed."""
    for key in ("ETag", "etag", "md5Hash", "crc32c", "mtime", "LastModified", "last_modified"):
        if info.get(key):
            return str(info[key]).strip('"')
    return "unknown"


def too_large(objects: list[RemoteObject], max_bytes: int) -> list[Outcome]:
    """The objects over ``max_bytes`` by their listing, as skipped outcomes (they are never fetched)."""
    return [
        Outcome(
            o.item,
            "skipped",
            f"too large: {o.size:,} bytes, the limit is {max_bytes:,} (import.max_bytes)",
            None,
            o.label,
        )
        for o in objects
        if o.size > max_bytes
    ]


def fetch_objects(
    ctx: PrepareContext, fs: Any, objects: list[RemoteObject], concurrency: int
) -> Iterator[list[Prepared]]:
    """Fetch and prepare ``objects`` in ``concurrency`` threads; results in the order of ``objects``, a chunk at a
    time."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:

        def one(obj: RemoteObject) -> Prepared:
            try:
                data = fs.cat_file(obj.url, start=0, end=obj.size + 1)  # one byte past the listing tells a change
            except (OSError, ValueError) as error:
                return Prepared(obj.item, obj.label, reason=f"cannot fetch: {type(error).__name__}: {error}")
            if len(data) != obj.size:
                return Prepared(
                    obj.item, obj.label, reason="changed while importing (its size is not the listed one): import again"
                )
            return prepare_bytes(ctx, obj.item, obj.label, data)

        for start in range(0, len(objects), _CHUNK):
            yield list(pool.map(one, objects[start : start + _CHUNK]))
