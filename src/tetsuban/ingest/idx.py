"""IDX files (the MNIST format, optionally gzip-compressed): uint8 image arrays with a matching labels file."""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tetsuban.errors import FileRefused, SourceError
from tetsuban.files import read_bounded
from tetsuban.ingest.prepare import PixelsTask

_UBYTE = 0x08
MAX_IDX_BYTES = 512 * 1024**2  # an IDX file (inflated) past this is refused; 60,000 fashion-mnist images are 47 MB
_CHUNK = 1000


@dataclass(frozen=True)
class IdxWork:
    """An IDX images file (and its labels) as batches of pixels."""

    total: int
    batches: Iterator[list[PixelsTask]]


def _gunzip(data: bytes, limit: int) -> bytes:
    """``data`` inflated, refused past ``limit`` bytes (a small gzip file can inflate to any size)."""
    inflater = zlib.decompressobj(wbits=31)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise FileRefused(f"it inflates past {limit:,} bytes")
    return out


def read_idx(path: Path) -> np.ndarray:
    """The array in an IDX file; raises SourceError for anything but a whole uint8 IDX file."""
    try:
        raw = read_bounded(path, MAX_IDX_BYTES)
        if raw[:2] == b"\x1f\x8b":
            raw = _gunzip(raw, MAX_IDX_BYTES)
    except FileNotFoundError as exc:
        raise SourceError(f"The IDX file {path} does not exist. Check the path.") from exc
    except (OSError, EOFError, zlib.error, FileRefused) as exc:
        raise SourceError(f"The IDX file {path} cannot be read: {exc}.") from exc
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise SourceError(f"{path} is not an IDX file (it does not start with two zero bytes).")
    dtype, ndim = raw[2], raw[3]
    if dtype != _UBYTE:
        raise SourceError(f"The IDX file {path} holds data type 0x{dtype:02x}; only unsigned bytes (0x08) are images.")
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise SourceError(f"The IDX file {path} has a broken header.")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != expected:
        raise SourceError(
            f"The IDX file {path} should hold {expected:,} bytes of data for shape {shape}, "
            f"but holds {len(raw) - header:,}: it is truncated or damaged."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def is_idx(path: Path) -> bool:
    """Whether ``path`` starts like an IDX file (gzip-compressed or not)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
        if head[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as handle:
                head = handle.read(4)
    except (OSError, EOFError):
        return False
    return len(head) == 4 and head[:2] == b"\x00\x00" and head[2] == _UBYTE and head[3] in (3, 4)


def idx_work(images: Path, labels: Path | None, class_names: Sequence[str] | None) -> IdxWork:
    """Batches of pixels from ``images``, labelled from ``labels`` (named by ``class_names`` when given)."""
    pixels = read_idx(images)
    if pixels.ndim not in (3, 4) or (pixels.ndim == 4 and pixels.shape[3] != 3):
        raise SourceError(f"The IDX file {images} has shape {pixels.shape}; images need (N, H, W) or (N, H, W, 3).")
    names = _label_names(images, pixels.shape[0], labels, class_names)
    source = str(images.expanduser().resolve())

    def batches() -> Iterator[list[PixelsTask]]:
        for start in range(0, pixels.shape[0], _CHUNK):
            stop = min(start + _CHUNK, pixels.shape[0])
            yield [PixelsTask(source, start, pixels[start:stop], tuple(names[start:stop]))]

    return IdxWork(int(pixels.shape[0]), batches())


def _label_names(images: Path, count: int, labels: Path | None, class_names: Sequence[str] | None) -> list[str | None]:
    if labels is None:
        return [None] * count
    values = read_idx(labels)
    if values.ndim != 1 or values.shape[0] != count:
        raise SourceError(
            f"The labels file {labels} holds {values.shape} values, but {images} holds {count} "
            "images: they must be one label per image."
        )
    if class_names is None:
        return [str(int(v)) for v in values]
    top = int(values.max(initial=0))
    if top >= len(class_names):
        raise SourceError(
            f"The labels file {labels} uses label {top}, but only {len(class_names)} class names were "
            "given. Give one name per label value, in order."
        )
    return [class_names[int(v)] for v in values]
