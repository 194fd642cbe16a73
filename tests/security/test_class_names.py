"""Attack 15: class names that hide or rearrange text (line breaks, tabs, bidirectional controls) or run long.
One rule, applied by import, the app and the library alike, with one message."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import LOCAL, with_csrf
from tetsuban import Project
from tetsuban.classnames import check_class_name
from tetsuban.errors import ConfigError
from tetsuban.server.app import create_app

BAD = {
    "two\nlines": "a line break",
    "tab\there": "a tab",
    "x" * 200: "200 characters",
    "invoice\u202efdp.exe": "RIGHT-TO-LEFT OVERRIDE",
    " padded": "space at either end",
    "nul\x00": "a NUL",
}
GOOD = ("ok", "<b>markup is text</b>", "family \U0001f468\u200d\U0001f469\u200d\U0001f467", "Ankle boot")


def test_import_applies_good_labels_and_refuses_the_rest_with_a_reason(tmp_path: Path, emoji_dir: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    bad = [name for name in BAD if name.strip() == name]  # a CSV cell's outer spaces are trimmed, by design
    names = [*bad, *GOOD]
    rows = []
    for source, label in zip(sorted(emoji_dir.glob("1f6*.png")), names, strict=False):
        shutil.copy2(source, images / source.name)
        rows.append({"path": source.name, "label": label})
    table = images / "labels.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["path", "label"])
        writer.writeheader()
        writer.writerows(rows)
    with Project.init(tmp_path / "p") as project:
        report = project.import_csv(table)
        outcomes = {Path(o.item).name: o for o in project.import_outcomes(report.run_id)}
        labels = sorted(project.labelled().values())
    assert report.counts["added"] == len(names)  # every image is in, bad label or not
    assert labels == sorted(GOOD)
    for row in rows[: len(bad)]:
        reason = outcomes[row["path"]].reason or ""
        assert "not applied" in reason and BAD[row["label"]] in reason, reason


@pytest.mark.parametrize("name", list(BAD))
def test_the_library_refuses_a_bad_class_name(name: str, tmp_path: Path) -> None:
    with Project.init(tmp_path / "p") as project, pytest.raises(ConfigError, match="cannot be a class name"):
        project.add_class(name)


def test_the_app_refuses_the_same_names_with_the_same_message(hostile: Path, tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(hostile, copy)
    with TestClient(create_app(copy), base_url=LOCAL) as client:
        with_csrf(client)
        for name in BAD:
            answer = client.post("/api/classes", json={"name": name})
            assert answer.status_code == 422, name
            if len(name) <= 64:  # a longer one is stopped by the request's own schema first
                with pytest.raises(ConfigError) as library:
                    check_class_name(name)
                assert answer.json()["detail"] == str(library.value)
        for name in GOOD:
            assert client.post("/api/classes", json={"name": name}).status_code == 200, name
