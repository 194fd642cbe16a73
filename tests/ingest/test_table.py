"""Importing CSV files of paths and labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from tetsuban import Project, SourceError


def test_csv_paths_relative_to_the_csv_with_labels(project: Project, emoji_sample: Path) -> None:
    files = sorted(emoji_sample.rglob("*.png"))
    lines = ["Path,Label"] + [f"{f.relative_to(emoji_sample)},{'a' if i % 2 else 'b'}" for i, f in enumerate(files)]
    lines.append(",b")  # a row without a path
    lines.append("missing.png,a")
    (emoji_sample / "list.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = project.import_csv(emoji_sample / "list.csv")
    assert report.counts["added"] == 40
    assert report.counts["skipped"] == 2
    reasons = sorted(o.reason or "" for o in report.skipped)
    assert "empty 'Path'" in reasons[1] and "cannot read the file" in reasons[0]
    assert project.status().per_class == {"a": 20, "b": 20}


def test_tsv_without_labels(project: Project, emoji_sample: Path, tmp_path: Path) -> None:
    files = sorted(emoji_sample.rglob("*.png"))[:5]
    listing = tmp_path / "list.tsv"
    listing.write_text("file\tnote\n" + "".join(f"{f}\tx\n" for f in files), encoding="utf-8")
    report = project.import_csv(listing)
    assert report.counts["added"] == 5
    assert project.status().labelled == 0


def test_csv_without_a_path_column_is_one_clear_error(project: Project, tmp_path: Path) -> None:
    listing = tmp_path / "bad.csv"
    listing.write_text("name,label\na.png,cat\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"no path column .* its columns are: name, label"):
        project.import_csv(listing)
