"""The survey table: one row per image with what the store knows of it and what its pixels say; CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, fields
from pathlib import Path

from tetsuban.csvcells import safe_cell
from tetsuban.files import write_atomic
from tetsuban.store.images import ImageRecord
from tetsuban.survey.properties import PixelStats

PIXEL_COLUMNS = tuple(f.name for f in fields(PixelStats) if f.name not in ("fingerprint", "edge_hash"))  # matching only
COLUMNS = (
    "image_id",
    "path",
    "label",
    "width",
    "height",
    "aspect",
    "megapixels",
    "format",
    "bytes",
    "orientation",
    *PIXEL_COLUMNS,
)
Row = dict[str, object]


def survey_rows(
    records: Sequence[ImageRecord],
    stats: Mapping[str, PixelStats],
    labels: Mapping[int, str],
    path_of: Callable[[ImageRecord], Path],
) -> list[Row]:
    """One row per record, in record order; pixel properties are None for an image not surveyed (yet)."""
    empty: dict[str, object] = dict.fromkeys(PIXEL_COLUMNS)
    rows = []
    for r in records:
        pixels = stats.get(r.sha256)
        rows.append(
            {
                "image_id": r.id,
                "path": str(path_of(r)),
                "label": labels.get(r.id),
                "width": r.width,
                "height": r.height,
                "aspect": round(r.width / r.height, 4),
                "megapixels": round(r.width * r.height / 1e6, 4),
                "format": r.format,
                "bytes": r.bytes,
                "orientation": r.orientation,
                **(empty if pixels is None else {k: v for k, v in asdict(pixels).items() if k in empty}),
            }
        )
    return rows


def write_survey_csv(rows: Sequence[Row], out: Path) -> int:
    """Write the rows (all of COLUMNS) to ``out`` atomically; returns the number of rows."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else safe_cell(v)) for k, v in row.items()} for row in rows)
    write_atomic(out, buffer.getvalue().encode("utf-8"))
    return len(rows)


def write_survey_parquet(rows: Sequence[Row], out: Path) -> int:
    """Write the rows to a Parquet file (written aside, then renamed into place); returns the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {name: [row[name] for row in rows] for name in COLUMNS}
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.part")
    pq.write_table(pa.table(columns), partial)
    partial.replace(out)
    return len(rows)
