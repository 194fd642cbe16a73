"""Importing zip and tar archives: stored in the project, labelled by folder, hostile members contained."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from tests import hostile
from tetsuban import Project


def _zip_of(folder: Path, out: Path, top: str = "pets") -> Path:
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(folder.rglob("*.png")):
            archive.write(path, f"{top}/{path.relative_to(folder)}")
    return out


def test_zip_with_a_top_folder_and_class_folders(project: Project, emoji_sample: Path, tmp_path: Path) -> None:
    archive = _zip_of(emoji_sample, tmp_path / "pets.zip")
    report = project.import_archive(archive)
    assert report.counts["added"] == 40
    assert project.status().per_class == {"people": 20, "smileys": 20}
    assert all(r.stored and project.image_path(r).is_file() for r in project.images())
    again = project.import_archive(archive)
    assert again.counts == {"added": 0, "duplicate": 0, "unchanged": 40, "relinked": 0, "skipped": 0}


def test_tar_gz_with_hostile_members(project: Project, emoji_sample: Path, photos_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    members = {
        "set/cats/../../../../etc/evil.png": (emoji_sample / "smileys").iterdir().__next__().read_bytes(),
        "set/cats/truncated.jpg": hostile.truncated_jpeg(photos_dir / "butterfly.jpg", bad / "t.jpg").read_bytes(),
        "set/dogs/notes.jpg": hostile.text_as_jpeg(bad / "n.jpg").read_bytes(),
        "set/dogs/ok.jpg": (photos_dir / "orange.jpg").read_bytes(),
    }
    archive = tmp_path / "set.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    report = project.import_archive(archive)
    assert report.counts["added"] == 1 and report.counts["skipped"] == 3
    assert not (tmp_path.parent / "etc").exists()
    assert all(project.image_path(r).is_relative_to(project.root / "blobs") for r in project.images())
    reasons = {o.item.rsplit("/", 1)[1]: o.reason or "" for o in report.skipped}
    assert sorted(reasons) == ["evil.png", "notes.jpg", "truncated.jpg"]
    assert "unsafe member name" in reasons["evil.png"]


def test_a_damaged_tar_keeps_the_members_before_the_damage(
    project: Project, emoji_sample: Path, tmp_path: Path
) -> None:
    whole = tmp_path / "whole.tar"
    with tarfile.open(whole, "w") as tar:
        for path in sorted(emoji_sample.rglob("*.png")):
            tar.add(path, arcname=str(path.relative_to(emoji_sample)))
    data = whole.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 2 + 100])
    report = project.import_archive(cut)
    assert 10 < report.counts["added"] < 40
    assert any("damaged" in (o.reason or "") for o in report.skipped)
