"""The property sheet: definitions, values with history, rules over the survey, and splits balanced by a value."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.run_cli import tetsuban
from tetsuban import ConfigError, Project, ProjectError


def test_values_are_checked_and_keep_their_history(project: Project, emoji_sample: Path) -> None:
    project.import_folder(emoji_sample)
    ids = [r.id for r in project.images()]
    project.add_property("tilted", "bool")
    project.add_property("occlusion", "choice", ["none", "partial", "heavy"])
    project.add_property("people_count", "number")
    project.set_property("tilted", [(ids[0], "yes"), (ids[1], False)], author="ada")
    project.set_property("tilted", [(ids[0], "no")], author="bo")
    project.set_property("occlusion", [(ids[2], "heavy"), (ids[3], "partial")])
    project.set_property("occlusion", [(ids[3], "")])  # cleared
    project.set_property("people_count", [(ids[4], "2")])
    assert project.property_values("tilted") == {ids[0]: False, ids[1]: False}
    assert [(e.value, e.author) for e in project.property_history("tilted", ids[0])] == [(True, "ada"), (False, "bo")]
    assert project.property_values("occlusion") == {ids[2]: "heavy"}
    assert project.property_values("people_count") == {ids[4]: 2.0}
    for name, value, message in [
        ("occlusion", "total", "must be one of"),
        ("tilted", "maybe", "give true or false"),
        ("people_count", "two", "is a number"),
    ]:
        with pytest.raises(ConfigError, match=message):
            project.set_property(name, [(ids[0], value)])
    with pytest.raises(ProjectError, match="No image with id 9999"):
        project.set_property("tilted", [(9999, True)])
    with pytest.raises(ConfigError, match="exists already"):
        project.add_property("tilted", "bool")
    for args, message in [
        (("Bad Name", "bool"), "lower case"),
        (("size", "colour"), "must be one of"),
        (("side", "choice", ["left"]), "at least two values"),
        (("dark", "number", (), "brightness < 40"), "use --kind bool"),
        (("dark", "bool", (), "darkness < 40"), "Measurements: "),
    ]:
        with pytest.raises(ConfigError, match=message):
            project.add_property(*args)  # type: ignore[arg-type]


def test_a_rule_buckets_a_survey_measurement(project: Project, photos_dir: Path) -> None:
    project.import_folder(photos_dir)
    project.survey()
    project.add_property("dark", "bool", rule="brightness < 40")
    dark = project.property_values("dark")
    names = {r.id: Path(r.location).name for r in project.images()}
    assert {names[i] for i, v in dark.items() if v} == {"hubble_deep_field.jpg"} and len(dark) == len(names) == 13
    with pytest.raises(ProjectError, match="computed"):
        project.set_property("dark", [(next(iter(names)), True)])


def test_splits_balance_within_a_property(project: Project, emoji_sample: Path) -> None:
    project.import_folder(emoji_sample)
    records = project.images()
    labels = project.labelled()
    project.add_property("tilted", "bool")
    by_class: dict[str, list[int]] = {}
    for r in records:
        by_class.setdefault(labels[r.id], []).append(r.id)
    project.set_property("tilted", [(i, True) for ids in by_class.values() for i in ids[:10]])
    project.split(0.2, 0.1, groups={r.id: r.id for r in records}, by="tilted")
    splits, tilted = project.splits(), project.property_values("tilted")
    tested = Counter((labels[i], tilted.get(i, False)) for i, s in splits.items() if s == "test")
    assert tested == {(c, t): 2 for c in by_class for t in (True, False)}  # 20% of each 10-image stratum


def test_props_from_the_command_line(tmp_path: Path, emoji_sample: Path, pets: Path) -> None:
    assert (
        "Added occlusion (choice: none, partial, heavy)"
        in tetsuban("props", "add", pets, "occlusion", "--kind", "choice", "--values", "none,partial,heavy").stdout
    )
    files = sorted((emoji_sample / "smileys").glob("*.png"))
    assert "Set occlusion for 2 images." in tetsuban("props", "set", pets, "occlusion", "heavy", *files[:2]).stdout
    listing = tmp_path / "values.csv"
    shutil.copy(files[2], tmp_path / "outside.png")
    listing.write_text(f"path,value\n{files[3]},partial\n{files[4]},none\n", encoding="utf-8")
    assert "Set occlusion for 2 images." in tetsuban("props", "set", pets, "occlusion", "--csv", listing).stdout
    refused = tetsuban("props", "set", pets, "occlusion", "heavy", tmp_path / "outside.png", check=False)
    assert refused.returncode == 1 and "not images of this project" in refused.stderr
    assert "occlusion" in tetsuban("props", "list", pets).stdout
