"""Importing folders: real emoji, ImageFolder labels, hostile files, re-imports, moved and changed files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests import hostile
from tetsuban import Project, SourceError


def test_emoji_google_imports_every_file_and_skips_none(project: Project, emoji_dir: Path) -> None:
    files = sorted(p for p in emoji_dir.iterdir() if p.is_file())
    assert len(files) == 3786
    report = project.import_folder(emoji_dir)
    # 19 files repeat another file's bytes (flags that share artwork, skin-tone variants drawn alike):
    # the same content is one image, and each repeat is recorded as a duplicate, not skipped.
    assert report.counts == {"added": 3767, "duplicate": 19, "unchanged": 0, "relinked": 0, "skipped": 0}
    assert report.seen == 3786
    assert len(project.images()) == 3767
    assert project.status().labelled == 0  # no class sub-folders: no labels


def test_running_an_import_again_adds_nothing(project: Project, emoji_sample: Path) -> None:
    first = project.import_folder(emoji_sample)
    again = project.import_folder(emoji_sample)
    assert first.counts["added"] == 40
    assert again.counts["added"] == 0 and again.counts["unchanged"] == 40
    assert len(project.images()) == 40
    assert len(project.label_history()) == 40  # labels are not repeated


def test_class_subfolders_become_labels(project: Project, emoji_sample: Path) -> None:
    project.import_folder(emoji_sample)
    status = project.status()
    assert status.per_class == {"people": 20, "smileys": 20}
    events = project.label_history()
    assert {e.source for e in events} == {"import"}


def test_hostile_files_are_skipped_with_reasons_and_the_rest_imported(
    project: Project, photos_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed bag ä 写真"
    folder.mkdir()
    shutil.copy(photos_dir / "orange.jpg", folder / "an orange ü.jpg")
    hostile.truncated_jpeg(photos_dir / "butterfly.jpg", folder / "truncated.jpg")
    hostile.lying_png(photos_dir / "butterfly.jpg", folder / "lying.png")
    hostile.bomb_png(folder / "bomb.png")
    hostile.zero_bytes(folder / "empty.jpg")
    hostile.text_as_jpeg(folder / "notes.jpg")
    hostile.animated_gif(photos_dir / "orange.jpg", folder / "anim.gif")
    hostile.cmyk_jpeg(photos_dir / "apple.jpg", folder / "cmyk.jpg")
    hostile.png16(photos_dir / "apple.jpg", folder / "deep.png")
    hostile.exif_rotated_jpeg(photos_dir / "fruits.jpg", folder / "rotated.jpg")

    report = project.import_folder(folder)

    reasons = {Path(o.item).name: o.reason for o in report.skipped}
    assert set(reasons) == {"truncated.jpg", "lying.png", "bomb.png", "empty.jpg", "notes.jpg"}
    assert "truncated" in reasons["truncated.jpg"]
    assert "corrupt" in reasons["lying.png"]
    assert "too many pixels" in reasons["bomb.png"]
    assert "0 bytes" in reasons["empty.jpg"]
    assert "not an image" in reasons["notes.jpg"]
    assert report.counts["added"] == 5
    by_name = {Path(r.location).name: r for r in project.images()}
    assert by_name["an orange ü.jpg"].location == str((folder / "an orange ü.jpg").resolve())
    assert (
        by_name["rotated.jpg"].width,
        by_name["rotated.jpg"].height,
        by_name["rotated.jpg"].orientation,
    ) == (80, 120, 6)
    assert by_name["anim.gif"].frames == 3
    assert by_name["cmyk.jpg"].mode == "CMYK"
    # the reasons are stored with the run, and status reports them
    assert {Path(o.item).name for o in project.status().skipped} == set(reasons)


def test_the_project_folder_is_never_read_as_a_source(tmp_path: Path, emoji_sample: Path) -> None:
    with Project.init(emoji_sample / "project") as project:  # a project inside the folder of images
        report = project.import_folder(emoji_sample, copy=True)
        assert report.counts["added"] == 40 and report.seen == 40  # neither tetsuban.db nor blobs/ were read
        with pytest.raises(SourceError, match="inside the project"):
            project.import_folder(project.root / "blobs")


def test_copy_stores_content_addressed_blobs(project: Project, emoji_sample: Path) -> None:
    project.import_folder(emoji_sample, copy=True)
    for record in project.images():
        assert record.stored
        path = project.image_path(record)
        assert path.is_relative_to(project.root / "blobs")
        assert path.name.startswith(record.sha256)
        assert path.parent.name == record.sha256[2:4] and path.parent.parent.name == record.sha256[:2]
    # the originals can go: the project keeps working
    shutil.rmtree(emoji_sample)
    assert project.status().problems == []


def test_status_reports_moved_changed_and_deleted_files(project: Project, emoji_sample: Path, tmp_path: Path) -> None:
    project.import_folder(emoji_sample)
    smileys = sorted((emoji_sample / "smileys").iterdir())
    moved_to = tmp_path / "elsewhere"
    moved_to.mkdir()
    shutil.move(smileys[0], moved_to / smileys[0].name)
    smileys[1].unlink()
    shutil.copy(sorted((emoji_sample / "people").iterdir())[0], smileys[2])  # new content, same path
    touched = smileys[3]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))  # same content

    problems = {(Path(p.path).name, p.problem) for p in project.status().problems}
    assert problems == {
        (smileys[0].name, "missing"),
        (smileys[1].name, "missing"),
        (smileys[2].name, "changed"),
    }

    # importing the new location relinks the moved file instead of adding it again
    report = project.import_folder(moved_to)
    assert report.counts["relinked"] == 1 and report.counts["added"] == 0
    problems = {(Path(p.path).name, p.problem) for p in project.status().problems}
    assert problems == {(smileys[1].name, "missing"), (smileys[2].name, "changed")}


def test_a_changed_file_imported_again_becomes_a_new_image(
    project: Project, emoji_sample: Path, emoji_dir: Path
) -> None:
    project.import_folder(emoji_sample)
    target = sorted((emoji_sample / "smileys").iterdir())[0]
    old = next(r for r in project.images() if r.location == str(target))
    shutil.copy(emoji_dir / "1f34e.png", target)  # an apple, not in the sample: new content at the old path
    report = project.import_folder(emoji_sample)
    assert report.counts["added"] == 1 and report.counts["unchanged"] == 39
    added = project.import_outcomes(report.run_id, "added")
    assert [(o.item, o.reason) for o in added] == [
        (str(target), f"the file changed since it was imported as image {old.id}")
    ]
    # the old image keeps its labels; status says its file changed
    assert [p.image_id for p in project.status().problems] == [old.id]
