"""Splits: stratified, grouped, frozen; a reset is asked for and recorded."""

from __future__ import annotations

import csv
import json
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from tests.run_cli import tetsuban
from tetsuban import ConfigError, Project, ProjectError
from tetsuban.commands import split_where_missing
from tetsuban.splits import SplitItem, SplitPlan, assign_splits
from tetsuban.splits.assign import _majority
from tetsuban.survey.duplicates import groups_of

item_lists = st.lists(
    st.tuples(st.sampled_from(["cat", "dog", "owl"]), st.integers(0, 30)), min_size=1, max_size=200
).map(lambda pairs: [SplitItem(i, stratum, group) for i, (stratum, group) in enumerate(pairs)])


@settings(max_examples=60)
@given(items=item_lists, seed=st.integers(0, 1000), frozen=st.integers(0, 200))
def test_every_image_gets_one_split_groups_stay_whole_and_existing_ones_stay(
    items: list[SplitItem], seed: int, frozen: int
) -> None:
    first = assign_splits(items[:frozen], {}, SplitPlan(0.2, 0.1), seed)
    assigned = assign_splits(items, first, SplitPlan(0.2, 0.1), seed)
    assert set(assigned) | set(first) == {i.image_id for i in items} and not set(assigned) & set(first)
    together = {**first, **assigned}
    by_group: dict[object, set[str]] = {}
    for item in items:
        by_group.setdefault(item.group, set()).add(together[item.image_id])
    assert all(len(splits) == 1 for splits in by_group.values())  # later members join their group's split


def test_shares_are_met_within_each_class() -> None:
    items = [SplitItem(i, "cat" if i % 3 else "dog", i) for i in range(900)]
    counts = Counter((item.stratum, split) for item, split in zip(items, _in_order(items), strict=True))
    for stratum, total in (("cat", 600), ("dog", 300)):
        assert abs(counts[(stratum, "test")] - 0.2 * total) <= 1 and abs(counts[(stratum, "val")] - 0.1 * total) <= 1


def test_later_members_of_a_group_join_its_split() -> None:
    items = [SplitItem(i, "cat", i % 8) for i in range(80)]  # eight groups of ten, two members of each split first
    first = assign_splits(items[:16], {}, SplitPlan(0.2, 0.1), seed=1)
    later = {**first, **assign_splits(items, first, SplitPlan(0.2, 0.1), seed=1)}
    assert all(later[i.image_id] == first[i.image_id % 8] for i in items)


def test_new_images_make_up_the_shares_with_the_images_already_split() -> None:
    items = [SplitItem(i, "cat", i) for i in range(100)]
    existing = {i: "train" if i < 10 else "test" for i in range(20)}  # 10 of train's 70, 10 of test's 20
    assigned = assign_splits(items, existing, SplitPlan(0.2, 0.1), seed=0)
    assert Counter(assigned.values()) == {"train": 60, "val": 10, "test": 10}
    grouped = [SplitItem(i, "cat", "g" if i < 20 else i) for i in range(100)]  # 19 new members join a test image
    joined = assign_splits(grouped, {0: "test"}, SplitPlan(0.2, 0.1), seed=0)
    assert Counter(joined.values()) == {"train": 70, "val": 10, "test": 19}


def test_a_mixed_group_counts_in_its_most_common_class_ties_by_name() -> None:
    group = [SplitItem(1, "dog", "g"), SplitItem(2, "cat", "g"), SplitItem(3, "dog", "g")]
    assert _majority(group) == "dog"
    assert _majority([*group, SplitItem(4, "cat", "g")]) == "cat"


def test_big_groups_are_placed_first_so_the_shares_come_out_exact() -> None:
    items = [SplitItem(i, "cat", "big" if i >= 70 else i) for i in range(100)]  # the big group met last
    assigned = assign_splits(items, {}, SplitPlan(0.2, 0.1), seed=0)
    assert Counter(assigned.values()) == {"train": 70, "val": 10, "test": 20}


def _in_order(items: list[SplitItem]) -> list[str]:
    assigned = assign_splits(items, {}, SplitPlan(0.2, 0.1), seed=3)
    return [assigned[i.image_id] for i in items]


def _emoji_groups(emoji_dir: Path, count: int) -> tuple[list[Path], dict[str, tuple[str, int]]]:
    """Emoji with skin-tone variants and others, with their category and emoji.json entry (the group)."""
    entries = json.loads((emoji_dir.parent / "emoji.json").read_text(encoding="utf-8"))
    files, meta = [], {}
    for group, entry in enumerate(entries):
        if entry["category"] == "Component":
            continue
        for name in [entry["image"]] + [v["image"] for v in (entry.get("skin_variations") or {}).values()]:
            if (emoji_dir / name).is_file() and len(files) < count:
                files.append(emoji_dir / name)
                meta[name] = (entry["category"], group)
    return files, meta


def test_a_real_project_splits_by_class_keeps_groups_and_freezes_test(project: Project, emoji_dir: Path) -> None:
    files, meta = _emoji_groups(emoji_dir, 900)
    project.import_files(files[:600])
    by_name = {Path(r.location).name: r.id for r in project.images()}
    project.set_labels([(by_name[n], meta[n][0]) for n in by_name])
    groups = {by_name[n]: meta[n][1] for n in by_name}
    event = project.split(0.2, 0.1, seed=1, groups=groups)
    first = project.splits()
    assert event.images == len(by_name) == len(first)
    assert abs(Counter(first.values())["test"] / len(first) - 0.2) < 0.03
    for group in set(groups.values()):
        assert len({first[i] for i, g in groups.items() if g == group}) == 1

    project.import_files(files[600:])  # new images, some of them variants of emoji already split
    by_name = {Path(r.location).name: r.id for r in project.images()}
    project.set_labels([(by_name[n], meta[n][0]) for n in by_name if by_name[n] not in first])
    groups = {by_name[n]: meta[n][1] for n in by_name}
    project.split(0.2, 0.1, seed=1, groups=groups)
    second = project.splits()
    assert {i: second[i] for i in first} == first  # nothing moved
    assert len(second) == len(by_name)
    for group in set(groups.values()):
        assert len({second[i] for i, g in groups.items() if g == group}) == 1

    with pytest.raises(ProjectError, match=r"made with test 0\.2 and val 0\.1"):
        project.split(0.3, 0.1)
    reset = project.reset_splits(author="ada")
    assert (reset.kind, reset.author, reset.images) == ("reset", "ada", len(by_name)) and project.splits() == {}
    project.split(0.3, 0.1, groups=groups)  # after a reset, new shares are allowed
    assert [e.kind for e in project.split_history()] == ["assign", "assign", "reset", "assign"]


def _split_names(folder: Path, files: list[Path], meta: dict[str, tuple[str, int]], seed: int) -> dict[str, str]:
    """A new project of ``files`` labelled by category, split with only its first ten images grouped: name -> split."""
    with Project.init(folder) as project:
        project.import_files(files)
        by_name = {Path(r.location).name: r.id for r in project.images()}
        project.set_labels([(by_name[n], meta[n][0]) for n in by_name])
        project.split(0.2, 0.1, seed=seed, groups={by_name[f.name]: "first ten" for f in files[:10]})
        splits = project.splits()
    return {name: splits[image_id] for name, image_id in by_name.items()}


def test_a_projects_splits_repeat_for_its_seed_and_ungrouped_images_split_one_by_one(
    tmp_path: Path, emoji_dir: Path
) -> None:
    files, meta = _emoji_groups(emoji_dir, 120)
    first, again, other = (_split_names(tmp_path / str(n), files, meta, seed) for n, seed in enumerate((3, 3, 4)))
    assert first == again and first != other
    with Project.open(tmp_path / "2") as project:
        assert [(e.kind, e.test, e.val, e.seed) for e in project.split_history()] == [("assign", 0.2, 0.1, 4)]
    grouped = {f.name for f in files[:10]}
    assert len({first[name] for name in grouped}) == 1
    ungrouped = Counter(split for name, split in first.items() if name not in grouped)  # an exact copy is not imported
    assert 0.1 < ungrouped["test"] / ungrouped.total() < 0.3 and ungrouped["train"] > ungrouped["val"] > 0


def test_the_first_split_that_assigns_an_image_fixes_the_shares(project: Project, emoji_dir: Path) -> None:
    files, _meta = _emoji_groups(emoji_dir, 5)
    project.split(0.3, 0.1)  # nothing to assign yet: no shares are fixed
    project.import_files(files[:1])
    project.split(0.2, 0.1)  # one image assigned: these shares hold from now on
    project.import_files(files[1:])
    with pytest.raises(ProjectError, match=r"made with test 0\.2 and val 0\.1"):
        project.split(0.3, 0.1)
    assert project.split(0.2, 0.1).images == 4


@pytest.mark.parametrize("share", ["test", "val"])
def test_a_share_out_of_bounds_is_refused_by_its_name(share: str) -> None:
    with pytest.raises(ConfigError, match=f"The '{share}' parameter must be a number in"):
        SplitPlan(**{"test": 0.2, "val": 0.1, share: 0.95})


def test_shares_that_leave_nothing_to_train_on_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"must leave some images to train on\. Got 0\.6 \+ 0\.5\."):
        SplitPlan(0.6, 0.5)
    with pytest.raises(ConfigError, match="must leave some images to train on"):
        SplitPlan(0.5, 0.5)  # nothing at all
    assert SplitPlan(0.6, 0.3).test == 0.6


def test_split_from_the_command_line_asks_before_a_reset(tmp_path: Path, pets: Path) -> None:
    first = tetsuban("split", pets)
    assert "40 images newly assigned. Now: train 28, val 4, test 8" in first.stdout
    assert "Embedding" in first.stderr and "Surveying" in first.stderr  # what it keeps together is decided once
    assert "not surveyed" not in first.stderr
    with Project.open(pets) as project:
        assert len(project.survey_table()) == 40 and len(project.embeddings([r.id for r in project.images()])) == 40
    assert "0 images newly assigned" in tetsuban("split", pets).stdout
    refused = subprocess.run(
        [sys.executable, "-m", "tetsuban", "split", str(pets), "--reset"], input="n\n", capture_output=True, text=True
    )
    assert refused.returncode == 1
    out = tmp_path / "labels.csv"
    tetsuban("labels", "export", pets, out)
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert Counter(r["split"] for r in rows) == {"train": 28, "val": 4, "test": 8}  # the refused reset changed nothing
    again = tetsuban("split", pets, "--reset", "--yes").stdout
    assert "Reset: 40 images lost their split" in again and "40 images newly assigned" in again


def _hidden_skin_tones(tmp_path: Path, project: Project, emoji_dir: Path, toned: int, plain: int) -> dict[int, str]:
    """Imports ``toned`` emoji with all their skin tones and ``plain`` emoji without, under names that say nothing
    and in shuffled order (only the pixels can tell which belong together): image id -> its emoji."""
    entries = json.loads((emoji_dir.parent / "emoji.json").read_text(encoding="utf-8"))
    with_tones = [e for e in entries if e.get("skin_variations") and "200D" not in e["unified"]][:toned]
    without = [e for e in entries if not e.get("skin_variations") and e["category"] == "Smileys & Emotion"][:plain]
    truth = {}  # original file name -> its emoji (an emoji and its skin tones are one)
    for entry in with_tones + without:
        for name in [entry["image"]] + [v["image"] for v in (entry.get("skin_variations") or {}).values()]:
            if (emoji_dir / name).is_file():
                truth[name] = entry["unified"]
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    names = sorted(truth)
    random.Random(5).shuffle(names)
    for index, name in enumerate(names):
        shutil.copy2(emoji_dir / name, hidden / f"img{index:04d}.png")
    project.import_path(hidden)
    return {r.id: truth[names[int(Path(r.location).stem[3:])]] for r in project.images()}


def test_skin_tone_variants_never_straddle_train_and_test_found_from_the_pixels(
    tmp_path: Path, project: Project, emoji_dir: Path
) -> None:
    emoji_of = _hidden_skin_tones(tmp_path, project, emoji_dir, 24, 60)
    toned = {e for e, n in Counter(emoji_of.values()).items() if n > 1}
    project.set_labels([(i, "toned" if u in toned else "plain") for i, u in emoji_of.items()])
    report = project.survey()
    assert report.pairs_checked > 0
    project.split(0.3, 0.1, seed=2)
    splits = project.splits()
    for emoji in set(emoji_of.values()):
        assert len({splits[i] for i, e in emoji_of.items() if e == emoji}) == 1, emoji
    linked = Counter(groups_of(emoji_of, project.near_duplicates()).values())
    assert sum(n > 1 for n in linked.values()) >= 0.9 * len(toned)  # the variants were found, not guessed
    assert max(linked.values()) <= 2 * 6  # and look-alikes did not chain: at most two emoji in a group
    assert abs(Counter(splits.values())["test"] / len(splits) - 0.3) < 0.08


def test_a_project_never_split_gets_the_default_splits_surveyed_first_so_look_alikes_stay_together(
    tmp_path: Path, project: Project, emoji_dir: Path
) -> None:
    """What serve, queue, curve and simulate do first for a newcomer who imported and went on without splitting."""
    emoji_of = _hidden_skin_tones(tmp_path, project, emoji_dir, 12, 30)
    made = split_where_missing(project.workspace)
    assert made is not None and made.reset is None
    assert (made.event.test, made.event.val, made.event.seed, made.event.images) == (0.2, 0.1, 0, len(emoji_of))
    assert made.unsurveyed == 0  # surveyed before the split, so the pixels' near-duplicates were known to it
    splits = project.splits()
    assert made.counts == Counter(splits.values()) and set(splits) == set(emoji_of)
    for emoji in set(emoji_of.values()):
        assert len({splits[i] for i, e in emoji_of.items() if e == emoji}) == 1, emoji
    assert split_where_missing(project.workspace) is None  # nothing to do the second time
    assert [e.kind for e in project.split_history()] == ["assign"]


def test_images_imported_after_the_split_get_one_with_the_shares_and_seed_in_force(
    project: Project, emoji_dir: Path
) -> None:
    files, _meta = _emoji_groups(emoji_dir, 60)
    project.import_files(files[:40])
    project.split(0.3, 0.2, seed=7)
    before = project.splits()
    project.import_files(files[40:])
    made = split_where_missing(project.workspace)
    assert made is not None
    assert (made.event.test, made.event.val, made.event.seed) == (0.3, 0.2, 7)
    after = project.splits()
    assert made.event.images == len(after) - len(before) > 0 and len(after) == len(project.images())
    assert {i: after[i] for i in before} == before
