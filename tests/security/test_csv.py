"""Attack 10, CSV formula injection: labels and names that begin like a formula are written to every CSV tetsuban
makes with a leading apostrophe (OWASP), so a spreadsheet shows them as text, and read back as they were."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from tests.run_cli import tetsuban
from tetsuban.csvcells import FORMULA_STARTS, safe_cell, unquote_cell

FORMULAS = ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)")


def _cells(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _no_formula(rows: list[dict[str, str]]) -> None:
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(FORMULA_STARTS), f"{column} starts a formula: {cell!r}"


def test_labels_export_predict_and_survey_csv_start_no_formula(tmp_path: Path, emoji_dir: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    files = sorted(emoji_dir.glob("1f6*.png"))[:12] + sorted(emoji_dir.glob("1f46*.png"))[:12]
    rows = []
    for index, source in enumerate(files):
        name = f"=HYPERLINK(x){index}.png" if index == 0 else source.name
        shutil.copy2(source, images / name)
        rows.append({"path": name, "label": FORMULAS[index % 2] if index < 20 else FORMULAS[2 + index % 2]})
    table = images / "labels.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["path", "label"])
        writer.writeheader()
        writer.writerows(rows)
    tetsuban("init", tmp_path / "p")
    tetsuban("import", tmp_path / "p", table)

    tetsuban("labels", "export", tmp_path / "p", tmp_path / "labels.csv")
    exported = _cells(tmp_path / "labels.csv")
    _no_formula(exported)
    assert sorted({row["label"] for row in exported}) == sorted("'" + f for f in FORMULAS)

    tetsuban("init", tmp_path / "again")  # read back: the labels are the ones given, apostrophe gone
    tetsuban("import", tmp_path / "again", tmp_path / "labels.csv")
    tetsuban("labels", "export", tmp_path / "again", tmp_path / "again.csv")
    assert sorted(r["label"] for r in _cells(tmp_path / "again.csv")) == sorted(r["label"] for r in exported)

    tetsuban("survey", tmp_path / "p", "--csv", tmp_path / "survey.csv")
    _no_formula(_cells(tmp_path / "survey.csv"))

    trained = tetsuban("train", tmp_path / "p").stdout
    model = next(line.split()[-1] for line in trained.splitlines() if "/models/" in line)
    tetsuban("predict", model.rstrip("."), images, "--output", tmp_path / "predictions.csv")
    predictions = _cells(tmp_path / "predictions.csv")
    _no_formula(predictions)
    assert {row["label"] for row in predictions if not row["error"]} <= {"'" + f for f in FORMULAS}


def test_a_cell_is_quoted_only_when_it_starts_like_a_formula() -> None:
    for text in FORMULAS:
        assert safe_cell(text) == "'" + text and unquote_cell(str(safe_cell(text))) == text
    assert safe_cell("cat") == "cat" and safe_cell(-0.5) == -0.5 and safe_cell("'quoted") == "'quoted"
    assert unquote_cell("'quoted") == "'quoted"  # an apostrophe before plain text is the user's own
