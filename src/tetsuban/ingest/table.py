"""CSV files: a path (or URL) column and an optional label column; relative paths are read from the CSV's folder."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from tetsuban.csvcells import unquote_cell
from tetsuban.errors import FileRefused, SourceError
from tetsuban.files import read_bounded
from tetsuban.ingest.prepare import FileTask
from tetsuban.store.runs import Outcome

PATH_COLUMNS = ("path", "file", "filename", "filepath", "image", "url", "location")
LABEL_COLUMNS = ("label", "class", "category")


@dataclass(frozen=True)
class UrlItem:
    """An image to fetch."""

    url: str
    label: str | None


@dataclass(frozen=True)
class CsvRows:
    """A CSV file read into work: files, URLs, and rows that could not be used."""

    files: list[FileTask]
    urls: list[UrlItem]
    bad_rows: list[Outcome]


MAX_TABLE_BYTES = 1024**3  # a CSV of image paths larger than this is refused unread


def read_csv(path: Path, copy: bool) -> CsvRows:
    """Read ``path`` (a regular file of at most MAX_TABLE_BYTES); raises SourceError when it has no path column or
    cannot be read as text."""
    try:
        text = read_bounded(path, MAX_TABLE_BYTES).decode("utf-8-sig")
        with io.StringIO(text, newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            columns = [c for c in (reader.fieldnames or [])]
            path_col = _pick(columns, PATH_COLUMNS)
            if path_col is None:
                raise SourceError(
                    f"The CSV {path} has no path column (looked for {', '.join(PATH_COLUMNS)}); its columns are: "
                    f"{', '.join(columns) or '(none)'}. Name the column with the image paths or URLs 'path'."
                )
            label_col = _pick(columns, LABEL_COLUMNS)
            rows = list(reader)
    except FileNotFoundError as exc:
        raise SourceError(f"The CSV file {path} does not exist. Check the path.") from exc
    except FileRefused as exc:
        raise SourceError(f"The CSV file {path} cannot be read: {exc}.") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(f"The CSV file {path} is not UTF-8 text ({exc.reason}). Save it as UTF-8.") from exc
    except csv.Error as exc:
        raise SourceError(f"The CSV file {path} cannot be parsed: {exc}.") from exc
    return _to_work(path, rows, path_col, label_col, copy)


def _to_work(
    path: Path, rows: list[dict[str, str | None]], path_col: str, label_col: str | None, copy: bool
) -> CsvRows:
    base = path.expanduser().resolve().parent
    files: list[FileTask] = []
    urls: list[UrlItem] = []
    bad: list[Outcome] = []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        where = unquote_cell((row.get(path_col) or "").strip())
        label = unquote_cell((row.get(label_col) or "").strip()) or None if label_col else None
        if not where:
            bad.append(Outcome(f"{path}:{number}", "skipped", f"row {number} has an empty '{path_col}'", None, label))
        elif where.lower().startswith(("http://", "https://")):
            urls.append(UrlItem(where, label))
        else:
            files.append(FileTask(str((base / Path(where).expanduser()).resolve()), label, copy))
    return CsvRows(files, urls, bad)


def _pick(columns: list[str], wanted: tuple[str, ...]) -> str | None:
    lowered = {c.strip().lower(): c for c in columns}
    return next((lowered[w] for w in wanted if w in lowered), None)
