"""Doctor: each check finds what it names on a real project, and says what to do."""

from __future__ import annotations

from pathlib import Path

import cv2
from PIL import Image

from tests.conftest import write_fashion_images
from tests.run_cli import tetsuban
from tetsuban import Project, decode
from tetsuban.survey.duplicates import groups_of


def _by_check(project: Project) -> dict[str, tuple[str, str, str]]:
    return {f.check: (f.status, f.message, f.advice) for f in project.doctor()}


def test_doctor_finds_leakage_imbalance_thin_test_sets_and_vanished_files(
    project: Project, emoji_sample: Path, fashion_dir: Path, tmp_path: Path
) -> None:
    original = sorted((emoji_sample / "smileys").glob("*.png"))[0]
    copy = emoji_sample / "smileys" / "resized-copy.png"
    Image.fromarray(cv2.resize(decode(original), (60, 60), interpolation=cv2.INTER_AREA)).save(copy)
    project.import_folder(emoji_sample)
    project.import_folder(write_fashion_images(fashion_dir, tmp_path / "fashion", 3))  # one image per class or so
    before = _by_check(project)
    assert before["files"][0] == "pass"
    assert before["leakage"][0] == "warn" and "tetsuban split" in before["leakage"][2]
    assert before["balance"][0] == "warn" and "smileys (21)" in before["balance"][1]

    project.survey()
    ids = {Path(r.location).name: r.id for r in project.images()}
    assert (min(ids[original.name], ids[copy.name]), max(ids[original.name], ids[copy.name])) in {
        (a, b) for a, b, _ in project.near_duplicates()
    }
    groups = groups_of(ids.values(), project.near_duplicates())
    groups[ids[copy.name]] = "the copy alone"  # other near-duplicates (skin tones) stay grouped
    for seed in range(50):  # splits that ignore this one near-duplicate, until the pair lands apart
        project.split(groups=groups, seed=seed)
        where = project.splits()
        if (
            "train" in (where[ids[original.name]], where[ids[copy.name]])
            and len({where[ids[original.name]], where[ids[copy.name]]}) == 2
        ):
            break
        project.reset_splits()
    leaking = _by_check(project)["leakage"]
    assert leaking[0] == "fail" and str(copy) in leaking[1] and "--reset" in leaking[2]

    project.reset_splits()
    project.split()  # grouped by perceptual hash: the copy stays with its original
    after = _by_check(project)
    assert after["leakage"][0] == "pass"
    assert after["test set"][0] == "warn" and "fewer than 5 labelled test images" in after["test set"][1]

    copy.unlink()
    assert _by_check(project)["files"][0] == "fail"


def test_doctor_from_the_command_line(pets: Path) -> None:
    text = tetsuban("doctor", pets).stdout
    assert "PASS files" in text and "WARN leakage: The project has no splits yet." in text
    assert "-> Make them: tetsuban split" in text


def test_doctor_on_a_split_project_without_labels_passes_nothing_about_classes(
    project: Project, emoji_sample: Path
) -> None:
    """No label: the balance and the test set's coverage of classes are warnings, never a pass."""
    project.import_folder(emoji_sample, labels_from_folders=False)
    project.split(test=0.3, val=0.1)
    found = _by_check(project)
    assert found["balance"][0] == "warn" and found["test set"][0] == "warn"
    assert "No image is labelled yet" in found["test set"][1]
