"""Surveying a project: every image once, cached by content, exported whole."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.conftest import write_fashion_images
from tests.run_cli import tetsuban
from tetsuban import Project
from tetsuban.survey.table import COLUMNS


def test_survey_once_then_from_the_cache_and_export(
    project: Project, emoji_sample: Path, fashion_dir: Path, tmp_path: Path
) -> None:
    project.import_folder(emoji_sample)
    project.import_folder(write_fashion_images(fashion_dir, tmp_path / "fashion", 30))
    first = project.survey()
    assert (first.total, first.cached, first.computed, first.failed) == (70, 0, 70, [])
    again = project.survey()
    assert (again.cached, again.computed) == (70, 0)
    rows = project.survey_table()
    assert len(rows) == 70 and all(r["brightness"] is not None for r in rows)
    grey = {r["path"] for r in rows if r["greyscale"]}
    assert grey == {r["path"] for r in rows if "fashion" in str(r["path"])}  # the photos are grey, the emoji not
    out = tmp_path / "survey.csv"
    assert project.export_survey(out) == 70
    with out.open(encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert tuple(exported[0]) == COLUMNS
    assert {r["label"] for r in exported} >= {"smileys", "people", "Trouser"}
    assert all(float(r["megapixels"]) > 0 and len(r["phash"]) == 16 for r in exported)


def test_vanished_files_are_reported_and_the_rest_surveyed(project: Project, emoji_sample: Path) -> None:
    project.import_folder(emoji_sample)
    gone = sorted(emoji_sample.rglob("*.png"))[0]
    gone.unlink()
    report = project.survey()
    assert report.computed == 39 and [path for path, _ in report.failed] == [str(gone)]
    assert "missing or changed" in report.failed[0][1]


def test_survey_from_the_command_line(tmp_path: Path, pets: Path) -> None:
    result = tetsuban("survey", pets, "--csv", tmp_path / "s.csv")
    assert "40 images: 0 surveyed before, 40 now, 0 failed" in result.stdout
    assert "0 greyscale" in result.stdout and "Surveying" in result.stderr
    assert (tmp_path / "s.csv").read_text(encoding="utf-8").count("\n") == 41
    assert f"Report: {pets / 'survey.html'}" in result.stdout and (pets / "survey.html").is_file()


def test_the_report_and_the_parquet_table(
    project: Project, photos_dir: Path, emoji_sample: Path, fashion_dir: Path, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    project.import_folder(photos_dir)
    project.import_folder(emoji_sample)
    project.import_folder(write_fashion_images(fashion_dir, tmp_path / "fashion", 5))
    project.survey()
    page = project.survey_report()
    assert page == project.root / "survey.html"
    html = page.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 10  # class balance and one histogram per measurement
    assert "very dark: 1" in html and "hubble_deep_field.jpg" in html  # the one dark photo, shown by name
    assert "tiny: 5" in html  # the 28 px photos; the 64 px emoji are not below 64
    assert "frontal faces" in html and "Near-duplicate groups" in html
    assert project.export_survey(tmp_path / "survey.parquet") == 58
    table = pq.read_table(tmp_path / "survey.parquet")
    assert table.num_rows == 58 and tuple(table.column_names) == COLUMNS
    brightest = max(table.column("brightness").to_pylist())
    assert brightest == max(float(r["brightness"]) for r in project.survey_table())  # type: ignore[arg-type]


def test_a_measurement_that_is_the_same_for_every_image_shows_no_empty_lowest_and_highest(
    project: Project, emoji_sample: Path
) -> None:
    project.import_folder(emoji_sample)  # every emoji is the same size
    project.survey()
    html = project.survey_report().read_text(encoding="utf-8")
    measures = html.split('<div class="measure">')[1:]
    same = [m for m in measures if "for every image." in m]
    varying = [m for m in measures if "for every image." not in m and "not known" not in m]
    assert same and varying
    assert all("<b>lowest</b>" not in m and "<b>highest</b>" not in m for m in same)
    assert all("<b>lowest</b>" in m and "<figure>" in m for m in varying)
