"""Renaming, merging and removing classes: in one step, kept in the label history, names compared ignoring case."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import write_fashion_images
from tests.run_cli import tetsuban
from tetsuban import Project
from tetsuban.errors import ConfigError


@pytest.fixture()
def project_dir(tmp_path: Path, fashion_dir: Path, database: str) -> Path:
    """A project of 40 real fashion-mnist images labelled by their folders (ten classes), on either database."""
    with Project.init(tmp_path / "project", database=database) as project:
        project.import_folder(write_fashion_images(fashion_dir, tmp_path / "images", 40))
    return tmp_path / "project"


def _state(project: Project) -> tuple[list[str], dict[int, str]]:
    return project.classes(), project.labelled()


def test_a_rename_keeps_the_class_key_and_the_history(project_dir: Path) -> None:
    with Project.open(project_dir) as project:
        classes, labels = _state(project)
        old = classes[2]
        moved = project.rename_class(old, "Renamed", author="rev")
        after, relabelled = _state(project)
        counts = project.class_counts()
        mine = [i for i, label in labels.items() if label == old]
        history = project.label_history(mine[0])
    assert moved == len(mine) > 0
    assert after == [*classes[:2], "Renamed", *classes[3:]]  # the third key still labels these images
    assert relabelled == {i: "Renamed" if label == old else label for i, label in labels.items()}
    assert old not in counts and counts["Renamed"] == len(mine)
    assert [(e.label, e.source, e.author) for e in history][-2:] == [
        (old, "import", history[0].author),
        ("Renamed", "class-edit", "rev"),
    ]


def test_a_rename_onto_a_class_is_refused_and_changes_nothing(project_dir: Path) -> None:
    with Project.open(project_dir) as project:
        before = _state(project)
        first, second = before[0][:2]
        with pytest.raises(ConfigError, match=rf'A class named "{second}" exists already.*labels merge'):
            project.rename_class(first, second)
        with pytest.raises(ConfigError, match=rf'differs from the class "{second}" only in case'):
            project.rename_class(first, second.upper())
        with pytest.raises(ConfigError, match=rf'No class is named "{first.lower()}". Did you mean "{first}"'):
            project.rename_class(first.lower(), "Other")
        assert _state(project) == before
        project.rename_class(first, first.upper())  # a change of case of the class itself is a rename
        assert project.classes()[0] == first.upper()


def test_class_names_that_differ_only_in_case_are_not_two_classes(project_dir: Path) -> None:
    with Project.open(project_dir) as project:
        before = _state(project)
        name = before[0][0]
        image_id = next(iter(before[1]))
        with pytest.raises(ConfigError, match="only in case"):
            project.add_class(name.lower())
        with pytest.raises(ConfigError, match="only in case"):
            project.set_labels([(image_id, name.swapcase())])
        with pytest.raises(ConfigError, match="only in case"):
            project.set_labels([(image_id, "Flags"), (image_id + 1, "flags")])  # two new ones at once
        assert _state(project) == before


def test_a_merge_moves_every_image_and_a_merged_name_can_come_back(project_dir: Path) -> None:
    with Project.open(project_dir) as project:
        classes, labels = _state(project)
        into, merged = classes[0], classes[1:3]
        moved = project.merge_classes(merged, into, author="rev")
        after, relabelled = _state(project)
        with pytest.raises(ConfigError, match="different class"):
            project.merge_classes([into], into)
        project.add_class(merged[0])  # a retired name, used again: the class comes back, empty
        again = project.class_counts()
    was = Counter(labels.values())
    assert moved == was[merged[0]] + was[merged[1]]
    assert after == [into, *classes[3:]] and Counter(relabelled.values())[into] == was[into] + moved
    assert again[merged[0]] == 0 and merged[1] not in again


def test_removing_a_class_clears_its_labels_and_keeps_them_in_the_history(project_dir: Path) -> None:
    with Project.open(project_dir) as project:
        classes, labels = _state(project)
        gone = classes[-1]
        cleared = project.remove_class(gone, author="rev")
        after, left = _state(project)
        mine = [i for i, label in labels.items() if label == gone]
        history = [(e.label, e.source) for e in project.label_history(mine[0])]
    assert cleared == len(mine) > 0 and gone not in after
    assert left == {i: label for i, label in labels.items() if label != gone}
    assert history[-2:] == [(gone, "import"), (None, "class-edit")]


def test_the_cli_renames_merges_and_removes_and_asks_before_clearing(project_dir: Path) -> None:
    with Project.open(project_dir) as project:
        classes, labels = _state(project)
    counts = Counter(labels.values())
    renamed = tetsuban("labels", "rename", project_dir, classes[0], "Flgas").stdout
    assert f'Renamed "{classes[0]}" to "Flgas": {counts[classes[0]]} image(s) relabelled' in renamed
    merged = tetsuban("labels", "merge", project_dir, classes[1], classes[2], "--into", "Flgas").stdout
    assert f'into "Flgas": {counts[classes[1]] + counts[classes[2]]} image(s) relabelled' in merged
    refused = tetsuban("labels", "remove", project_dir, "Flgas", check=False, stdin="n\n")
    assert refused.returncode == 1
    with Project.open(project_dir) as project:
        assert "Flgas" in project.classes()
    removed = tetsuban("labels", "remove", project_dir, "Flgas", "--yes").stdout
    assert "image(s) lost their label" in removed
    bad = tetsuban("labels", "rename", project_dir, "Nope", "X", check=False)
    assert bad.returncode == 1 and 'No class is named "Nope"' in bad.stderr and "Traceback" not in bad.stderr
