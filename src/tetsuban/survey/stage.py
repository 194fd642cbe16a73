"""The survey stage: every image's pixel properties (cached by content), recoloured copies among them, the survey
table, and the near-duplicates the survey links (with the same-picture pairs the embeddings found, when given)."""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from tetsuban.parallel import worker_count
from tetsuban.progress import ProgressFn
from tetsuban.store.survey import load_survey, recolour_checked
from tetsuban.survey.compute import SURVEY_VERSION, SurveyReport, survey_records
from tetsuban.survey.duplicates import groups_of
from tetsuban.survey.links import check_recolours, links_by_kind
from tetsuban.survey.properties import PixelStats
from tetsuban.survey.recolour import RECOLOUR_VERSION
from tetsuban.survey.table import Row, survey_rows, write_survey_csv, write_survey_parquet
from tetsuban.workspace import Workspace

SamePicture = Sequence[tuple[int, int, float]]
"""(image id, image id, cosine) pairs the embeddings say are the same picture (mutual nearest neighbours)."""


def survey(ws: Workspace, on_progress: ProgressFn | None = None, on_compare: ProgressFn | None = None) -> SurveyReport:
    """Compute the pixel properties of every image not surveyed yet (cached by content), then compare the candidate
    pairs of colour images not compared yet for a recolouring. ``on_progress`` hears (images done, images),
    ``on_compare`` (pairs compared, pairs to compare)."""
    workers = worker_count(ws.config.imports.workers)
    records = ws.images()
    report = survey_records(ws.engine, ws.root, records, workers, on_progress)
    started = time.perf_counter()
    pairs = check_recolours(ws.engine, ws.root, records, SURVEY_VERSION, workers, on_compare)
    return replace(report, pairs_checked=pairs, seconds=report.seconds + time.perf_counter() - started)


def survey_table(ws: Workspace) -> list[Row]:
    """One row per image: file facts, current label and pixel properties (None where not surveyed)."""
    with ws.engine.connect() as conn:
        stats = load_survey(conn, SURVEY_VERSION)
    return survey_rows(ws.images(), stats, ws.labelled(), ws.image_path)


def export_survey(ws: Workspace, out: str | Path) -> int:
    """Write the survey table to a CSV file, or Parquet when ``out`` ends in .parquet; returns the row count."""
    return write_table(survey_table(ws), out)


def write_table(rows: list[Row], out: str | Path) -> int:
    """Write survey ``rows`` to a CSV file, or Parquet when ``out`` ends in .parquet; returns the row count."""
    path = Path(out).expanduser()
    if path.suffix.lower() == ".parquet":
        return write_survey_parquet(rows, path)
    return write_survey_csv(rows, path)


def surveyed(ws: Workspace) -> dict[int, PixelStats]:
    """The survey's measurements of each surveyed image, by image id."""
    with ws.engine.connect() as conn:
        stats = load_survey(conn, SURVEY_VERSION)
    return {r.id: stats[r.sha256] for r in ws.images() if r.sha256 in stats}


def near_duplicates_of(
    ws: Workspace, measured: Mapping[int, PixelStats], same_picture: SamePicture
) -> list[tuple[int, int, int]]:
    """(image id, image id, perceptual-hash bits apart) of the images in ``measured`` that are the same picture:
    hashes within 4 bits and 16x16 fingerprints correlating at 0.99 or more, one a recolouring of the other
    (survey/recolour.py), or a pair of ``same_picture``."""
    by_pixels, by_model = near_duplicates_by_kind(ws, measured, same_picture)
    return sorted(by_pixels + by_model)


def near_duplicates_by_kind(
    ws: Workspace, measured: Mapping[int, PixelStats], same_picture: SamePicture
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """:func:`near_duplicates_of` in two lists: the pairs the pixels prove, and those only ``same_picture`` adds."""
    with ws.engine.connect() as conn:
        checked = recolour_checked(conn, RECOLOUR_VERSION)
    return links_by_kind(measured, {r.id: r.sha256 for r in ws.images()}, checked, same_picture)


def duplicate_groups(ws: Workspace, same_picture: SamePicture) -> dict[int, Hashable]:
    """Each image's group of near-duplicates (connected components of :func:`near_duplicates_of` over every
    surveyed image), by image id."""
    pairs = near_duplicates_of(ws, surveyed(ws), same_picture)
    return dict(groups_of((r.id for r in ws.images()), pairs))
