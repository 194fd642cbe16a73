"""Attacks 2, 3, 4 and 11: files that would read for ever, fill memory, break the store with their names, or pass
for another kind. Each import refuses the file with a reason, imports the rest and ends."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import copied
from tests.hostile import idx_gzip_bomb, zip_bomb
from tests.run_cli import tetsuban
from tetsuban import Project
from tetsuban.ingest.archive import BATCH_BYTES, archive_work

MEMORY = 2 * 1024**3  # the address space a hostile import runs in: the attacks below ask for far more


@pytest.fixture()
def three_photos(tmp_path: Path, photos_dir: Path) -> Path:
    return copied(sorted(photos_dir.glob("*.jpg"))[:3], tmp_path / "photos")


def _outcomes(project_dir: Path) -> dict[str, tuple[str, str | None]]:
    with Project.open(project_dir) as project:
        run = project.status().runs[0]
        return {Path(o.item).name: (o.outcome, o.reason) for o in project.import_outcomes(run.id)}


def test_a_link_to_dev_zero_and_a_fifo_are_refused_unread(tmp_path: Path, three_photos: Path) -> None:
    (three_photos / "zero.png").symlink_to("/dev/zero")
    os.mkfifo(three_photos / "pipe.png")
    tetsuban("init", tmp_path / "p")
    result = tetsuban("import", tmp_path / "p", three_photos, memory=MEMORY, timeout=300)
    assert "3 added" in result.stdout and "2 skipped" in result.stdout, result.stdout
    outcomes = _outcomes(tmp_path / "p")
    assert outcomes["zero.png"] == ("skipped", "not a regular file (a device): refused unread")
    assert outcomes["pipe.png"] == ("skipped", "not a regular file (a FIFO): refused unread")
    assert "finished" in tetsuban("status", tmp_path / "p").stdout
    alone = tetsuban("import", tmp_path / "p", three_photos / "pipe.png", check=False, timeout=60)
    assert alone.returncode == 1 and "not a regular file or a folder" in alone.stderr


def test_a_file_past_the_byte_limit_is_refused_unread(tmp_path: Path, three_photos: Path) -> None:
    tetsuban("init", tmp_path / "p")
    config = tmp_path / "p" / "tetsuban.toml"
    config.write_text(config.read_text().replace("max_bytes = 268435456", "max_bytes = 20000"))
    small = three_photos / "small.png"
    small.write_bytes(b"\x89PNG" + bytes(100))
    tetsuban("import", tmp_path / "p", three_photos)
    outcomes = _outcomes(tmp_path / "p")
    big = [name for name, (_, reason) in outcomes.items() if reason and "larger than the limit of 20,000" in reason]
    assert len(big) == 3 and outcomes["small.png"][1] != "refused unread"


@pytest.mark.slow
def test_a_zip_bomb_is_imported_within_a_fixed_memory_budget(tmp_path: Path) -> None:
    """20 members of 150 MB each (3 GB inflated, 3 MB on disk): held all at once they would not fit in 2 GiB."""
    bomb = zip_bomb(tmp_path / "bomb.zip", members=20, inflated=150_000_000)
    tetsuban("init", tmp_path / "p")
    result = tetsuban("import", tmp_path / "p", bomb, memory=MEMORY, timeout=600)
    assert "20 skipped" in result.stdout, result.stdout + result.stderr
    assert all(reason and reason.startswith("not an image") for _, reason in _outcomes(tmp_path / "p").values())


def test_a_gzip_bomb_named_as_idx_is_refused_within_memory(tmp_path: Path) -> None:
    """22 MB on disk, 4.8 GB inflated: it is refused after inflating at most the IDX limit, in 2 GiB."""
    bomb = idx_gzip_bomb(tmp_path / "train-images-idx3-ubyte.gz")
    tetsuban("init", tmp_path / "p")
    result = tetsuban("import", tmp_path / "p", bomb, check=False, memory=MEMORY, timeout=300)
    assert result.returncode == 1 and "inflates past 536,870,912 bytes" in result.stderr, result.stderr[-1500:]
    assert "Traceback" not in result.stderr


def test_an_archive_batch_holds_at_most_its_byte_budget(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.zip", members=8, inflated=20_000_000)
    work = archive_work(bomb, labels_from_folders=False, max_bytes=30_000_000)
    sizes = [sum(len(getattr(task, "data", b"")) for task in batch) for batch in work.batches]
    assert len(sizes) == 4 and max(sizes) <= BATCH_BYTES + 20_000_000  # two members a batch, not eight
    capped = archive_work(bomb, labels_from_folders=False, max_bytes=10_000_000)
    reasons = [getattr(item, "reason", None) for batch in capped.batches for item in batch]
    assert all(r and r.startswith("member too large (20,000,000 bytes") for r in reasons)


def test_a_file_name_that_is_not_utf8_is_skipped_and_the_rest_imported(
    tmp_path: Path, three_photos: Path, photos_dir: Path
) -> None:
    pngs = sorted(photos_dir.glob("*.png"))
    shutil.copy2(pngs[0], three_photos / os.fsdecode(b"caf\xe9.png"))
    shutil.copy2(pngs[1], three_photos / "zz-after.png")  # comes after it
    with Project.init(tmp_path / "p") as project:
        report = project.import_folder(three_photos)
        reasons = {o.item: o.reason for o in report.skipped}
    assert report.counts["added"] == 4 and report.counts["skipped"] == 1
    ((item, reason),) = reasons.items()
    assert item.endswith("caf\\xe9.png") and "not valid UTF-8" in (reason or "")


def _polyglot(photo: Path) -> bytes:
    """A real JPEG with a zip archive of another real image appended: it reads as both."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("inner/inside.jpg", photo.read_bytes())
    return photo.read_bytes() + archive.getvalue()


def test_a_jpeg_that_is_also_a_zip_is_read_as_its_name_says(tmp_path: Path, photos_dir: Path) -> None:
    photos = sorted(photos_dir.glob("*.jpg"))
    data = _polyglot(photos[0])
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "both.jpg").write_bytes(data)
    (tmp_path / "both.zip").write_bytes(data)
    (tmp_path / "both.dat").write_bytes(data[len(photos[0].read_bytes()) :])  # the zip alone, named as neither
    with Project.init(tmp_path / "p") as project:
        alone = project.import_path(tmp_path / "p" / ".." / "in" / "both.jpg")
        in_folder = project.import_path(folder)
        as_zip = project.import_path(tmp_path / "both.zip")
        unnamed = project.import_path(tmp_path / "both.dat")
        outcomes = project.import_outcomes(alone.run_id)
    assert alone.counts["added"] == 1 and in_folder.counts["unchanged"] == 1  # the JPEG, both times
    assert outcomes[0].reason == "also reads as a zip archive: imported as the image its name says, never unpacked"
    assert as_zip.counts["added"] == 1  # the member, not the JPEG around it
    assert unnamed.counts["skipped"] == 1 and "give it an archive's name" in (unnamed.skipped[0].reason or "")
