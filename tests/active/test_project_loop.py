"""The loop from a user's side: a real project of fashion-mnist images, the CLI commands and what they print."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.clock import ManualClock
from tests.conftest import write_fashion_images, write_unlabelled_fashion_images
from tests.run_cli import tetsuban
from tetsuban import Project
from tetsuban.active.data import loop_for, simulation_inputs
from tetsuban.active.loop import WarmProbe
from tetsuban.active.record import LoopRecorder
from tetsuban.active.simulate import simulate
from tetsuban.active.stage import active_data
from tetsuban.learn.head import LinearHead, fit_linear_head
from tetsuban.store.loop_state import load_snapshot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> Path:
    """A project of 400 labelled and 150 unlabelled real fashion-mnist images, embedded and split."""
    root = tmp_path_factory.mktemp("loop")
    labelled = write_fashion_images(fashion_dir, root / "labelled", 400)
    unlabelled = write_unlabelled_fashion_images(fashion_dir, root / "unlabelled", 150, start=400)
    tetsuban("init", root / "project")
    tetsuban("import", root / "project", labelled)
    tetsuban("import", root / "project", unlabelled)
    tetsuban("split", root / "project", "--test", "0.2", "--val", "0.2")
    return root / "project"


def test_the_queue_lists_only_unlabelled_train_images(project_dir: Path) -> None:
    printed = tetsuban("queue", project_dir, "--count", "12").stdout.strip().splitlines()
    ids = [int(line.split("\t")[0]) for line in printed]
    assert len(ids) == 12 and len(set(ids)) == 12
    with Project.open(project_dir) as project:
        splits, labels = project.splits(), project.labelled()
        assert all(splits[i] == "train" and i not in labels for i in ids)
        assert ids == project.next_to_label(12)  # the same seed, the same queue


def test_the_queue_asks_what_the_head_it_is_given_is_least_sure_of(project_dir: Path) -> None:
    printed = tetsuban("queue", project_dir, "--count", "12", "--strategy", "margin", "--head", "probe").stdout
    ids = [int(line.split("\t")[0]) for line in printed.strip().splitlines()]
    with Project.open(project_dir) as project:
        assert ids == project.next_to_label(12, "margin", head="probe")
        assert ids != project.next_to_label(12, "margin", head="spreading")
    bad = tetsuban("queue", project_dir, "--head", "clever", check=False)
    assert bad.returncode != 0 and "probe, spreading" in bad.stderr + bad.stdout
    assert "Embedding" not in bad.stdout + bad.stderr  # a wrong name fails before any work


def test_the_queue_and_the_loop_learn_from_train_labels_only(project_dir: Path, tmp_path: Path) -> None:
    """Relabelling every val and test image (to a class no train image has) changes neither the queue nor the
    loop's head: both learn from the labelled train images only."""
    copy = tmp_path / "project"
    shutil.copytree(project_dir, copy)
    with Project.open(copy) as project:
        before = project.next_to_label(20)
        labels, splits = project.labelled(), project.splits()
        holdout = [i for i in labels if splits[i] != "train"]
        assert len(holdout) > 100
        project.set_labels([(i, "Holdout only") for i in holdout])
        assert project.next_to_label(20) == before
        snapshot = project.label_loop(background=False, snapshot_seconds=0).loop.snapshot
        assert snapshot.head is not None and "Holdout only" not in snapshot.head.classes
        assert snapshot.labelled == len(labels) - len(holdout)


def test_label_issues_find_labels_changed_to_a_wrong_class(project_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(project_dir, copy)
    with Project.open(copy) as project:
        labels = project.labelled()
        classes = sorted(set(labels.values()))
        ids = sorted(labels)[::37][:10]  # ten images across the classes, each given the next class's name
        wrong = {i: classes[(classes.index(labels[i]) + 1) % len(classes)] for i in ids}
        project.set_labels(list(wrong.items()))
    out = tmp_path / "issues.csv"
    printed = tetsuban("label-issues", copy, "--limit", "100", "--csv", out).stdout
    listed = {int(m) for m in re.findall(r"^\W*(\d+)\s", printed, flags=re.MULTILINE)}
    assert "labels look wrong" in printed
    with Project.open(copy) as project:
        everything = project.label_issues()
        ranked = everything.issues
        found = {image_id: issue for image_id, issue in ranked}
    assert everything.wrong.sentence in printed.replace("\n", " ")  # how many to expect wrong
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert f"Wrote {len(rows)} rows to {out}" in printed and len(rows) == len(ranked)  # every one, in its rank
    assert [int(r["image_id"]) for r in rows] == [image_id for image_id, _ in ranked]
    assert [float(r["p_wrong"]) for r in rows] == sorted((float(r["p_wrong"]) for r in rows), reverse=True)
    assert all(r["label"] == found[int(r["image_id"])].given for r in rows)
    caught = found.keys() & set(ids)
    assert len(caught) >= 7, {i: found.get(i) for i in ids}
    assert caught <= listed  # what the library finds, the command lists
    assert sum(found[i].suggested == labels[i] for i in caught) >= 0.8 * len(caught)  # the suggestion undoes it


def _labelled_split(project: Project, split: str) -> tuple[np.ndarray, list[str]]:
    """The embeddings and labels of the labelled images of ``split``."""
    labels, splits = project.labelled(), project.splits()
    ids = [i for i in labels if splits[i] == split]
    vectors = project.embeddings(ids)
    return np.stack([vectors[i] for i in ids]), [labels[i] for i in ids]


def _accuracy(head: LinearHead, x: np.ndarray, truth: list[str]) -> float:
    return float(np.mean(np.asarray(head.classes)[head.probabilities(x).argmax(axis=1)] == np.asarray(truth)))


def test_the_curve_prints_measured_points_and_a_forecast_that_follow_from_them(project_dir: Path) -> None:
    """The last measured point is the head on every train label scored on the val images, computed here; the
    fitted column, the forecast at twice the labels and the labels a target needs all follow one power law
    a - b n^-c, whose b and c the test solves from two fitted points."""
    printed = tetsuban("curve", project_dir, "--target", "0.99").stdout
    rows = [
        tuple(map(float, m))
        for m in re.findall(r"^\W*([\d,]+)\s+\W*([\d.]+)\s+\W*([\d.]+)\s*\W*$", printed.replace(",", ""), flags=re.M)
    ]
    counts, measured, fitted = (np.array(column) for column in zip(*rows, strict=True))
    with Project.open(project_dir) as project:
        train_x, train_y = _labelled_split(project, "train")
        val_x, val_y = _labelled_split(project, "val")
    assert counts[-1] == len(train_y) and counts[0] >= 10 and (np.diff(counts) > 0).all()
    assert measured[-1] == pytest.approx(_accuracy(fit_linear_head(train_x, train_y), val_x, val_y), abs=5e-4)
    forecast = re.search(
        r"At ([\d,]+) labels \(twice today's\): (\d+\.\d+) expected, (\d+\.\d+) to (\d+\.\d+)", printed
    )
    ceiling = re.search(r"Fitted ceiling (\d+\.\d+)", printed)
    assert forecast is not None and ceiling is not None
    twice, expected, low, high = (float(forecast.group(i).replace(",", "")) for i in range(1, 5))
    a = float(ceiling.group(1))
    assert twice == 2 * counts[-1] and low <= expected <= high and expected <= a
    late = np.flatnonzero((counts >= 50) & (a - fitted > 0.005))
    (n1, f1), (n2, f2) = (counts[late[0]], fitted[late[0]]), (counts[late[-1]], fitted[late[-1]])
    c = np.log((a - f1) / (a - f2)) / np.log(n2 / n1)
    b = (a - f2) * n2**c
    assert expected == pytest.approx(a - b * twice**-c, abs=0.003)
    needs = re.search(r"0\.990 (?:needs|would take) about ([\d,]+) training labels", printed)
    if a > 0.99:
        assert needs is not None
        assert float(needs.group(1).replace(",", "")) == pytest.approx((b / (a - 0.99)) ** (1 / c), rel=0.2)
    else:
        assert needs is None and "levels off below 0.990" in printed
    with Project.open(project_dir) as project:  # the sentence the app's panel and the report give, from one curve
        reach = project.learning_curve().reach(0.99)
    assert reach.sentence in printed.replace("\n", " ")


def test_the_simulator_writes_its_report(project_dir: Path) -> None:
    printed = tetsuban(
        "simulate",
        project_dir,
        "--strategies",
        "hybrid,random",
        "--heads",
        "spreading,probe",
        "--budget",
        "100",
        "--step",
        "25",
        "--seeds",
        "1",
    ).stdout
    runs = ("hybrid + spreading", "random + spreading", "hybrid + probe", "random + probe")
    assert "labels to ≥" in printed and all(run in printed for run in runs)
    page = (project_dir / "simulation.html").read_text(encoding="utf-8")
    assert "Labels to reach an accuracy" in page and "data:image/png;base64," in page
    assert "the accuracy of random + probe (random picks)" in page and all(run in page for run in runs)
    for option, names in (("--strategies", "hybrid, hybrid_random10, random"), ("--heads", "probe, spreading")):
        bad = tetsuban("simulate", project_dir, option, "clever", check=False)
        assert bad.returncode != 0 and names in bad.stderr + bad.stdout
        assert "Embedding" not in bad.stdout + bad.stderr  # a wrong name fails before any work


def test_the_simulator_queues_as_many_picks_per_retrain_as_it_is_told(project_dir: Path, tmp_path: Path) -> None:
    """--queue reaches the loop: the report's curve is the simulator's run with that queue (not with a queue of
    one step), and the report says so; a queue shorter than a step fails before any work."""
    page = tmp_path / "queued.html"
    options = ("--strategies", "hybrid", "--heads", "probe", "--budget", "100", "--step", "25", "--seeds", "1")
    tetsuban("simulate", project_dir, *options, "--queue", "100", "--html", page)
    html = page.read_text(encoding="utf-8")
    shown = [float(a) for a in re.findall(r"<td>(\d\.\d{3}) <span", html)]
    with Project.open(project_dir) as project:
        x, labels, test = simulation_inputs(active_data(project.workspace))
    queued = simulate(x, labels, test, "hybrid", 100, 25, 0, head="probe", queue=100)
    stepwise = simulate(x, labels, test, "hybrid", 100, 25, 0, head="probe")
    assert queued.accuracy != stepwise.accuracy  # else this test could not tell them apart
    assert shown == pytest.approx(queued.accuracy, abs=5e-4)
    assert "25 images at a time (the first of the 100 each retrain queued" in html
    bad = tetsuban("simulate", project_dir, *options, "--queue", "10", check=False)
    assert bad.returncode != 0 and "'queue' parameter must be an int in [25," in bad.stderr + bad.stdout
    assert "Embedding" not in bad.stdout + bad.stderr


def test_the_simulators_accuracy_is_the_head_on_every_known_label_scored_on_the_test_split(project_dir: Path) -> None:
    """With one step as large as the images not in the test split, a run labels them all at once: its accuracy,
    the target the table prints, is a head on all of them scored on the test images, computed here."""
    with Project.open(project_dir) as project:
        train_x, train_y = _labelled_split(project, "train")
        val_x, val_y = _labelled_split(project, "val")
        test_x, test_y = _labelled_split(project, "test")
    known_x, known_y = np.vstack([train_x, val_x]), train_y + val_y
    budget = str(len(known_y))
    printed = tetsuban(
        "simulate",
        project_dir,
        "--strategies",
        "random",
        "--heads",
        "probe",
        "--budget",
        budget,
        "--step",
        budget,
        "--seeds",
        "1",
    ).stdout
    found = re.search(r"labels to ≥ (\d+\.\d+)", printed)
    row = re.search(r"random \+ probe\s+\W*([\d,]+)", printed)
    assert found is not None and row is not None and row.group(1).replace(",", "") == budget
    # the simulator's loop holds the labelled images only, and fits its probe (standardized over them) on all the
    # known ones at once; a cold fit stops elsewhere within the solver's tolerance, a test image or two apart
    head = WarmProbe(np.vstack([known_x, test_x])).fit(known_x, known_y)
    expected = _accuracy(head, test_x, test_y)
    assert float(found.group(1)) == pytest.approx(expected, abs=1 / len(test_y) + 5e-4)


def test_the_running_loop_stores_each_retrain_so_suggestions_survive_a_restart(
    project_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "project"
    shutil.copytree(project_dir, copy)
    with Project.open(copy) as project:
        running = project.label_loop(retrain_every=5, queue_size=10, background=True, snapshot_seconds=0)
        loop, image_ids = running.loop, running.image_ids
        first = loop.snapshot.generation
        stored = project.suggestions()
        assert set(stored) == set(image_ids.tolist())  # the first head's suggestion for every embedded image
        row_of = {int(image_id): row for row, image_id in enumerate(image_ids)}
        queued = [int(image_ids[row]) for row in loop.next_images(5)]
        assert len(queued) == 5 and not set(queued) & set(project.labelled())
        project.set_labels([(image_id, "Bag") for image_id in queued])  # the user's answers, recorded first
        for image_id in queued:
            loop.label(row_of[image_id], "Bag")
        loop.wait()
        assert loop.snapshot.generation == first + 1
    with Project.open(copy) as reopened:  # a restart: the latest retrain is still there
        after = reopened.suggestions()
        assert set(after) == set(stored)
        assert any(after[i] != stored[i] for i in after)  # the retrain on five more labels changed something


def test_the_snapshot_waits_for_a_quiet_loop_or_the_end(project_dir: Path, tmp_path: Path) -> None:
    """Each retrain is recorded at once; its snapshot is written when none is stored yet, once the loop has been
    quiet for 5 s, when the stored one is older than snapshot_seconds, and when the app stops (on a clock the
    test moves, so that no assertion waits on real time)."""
    copy = tmp_path / "project"
    shutil.copytree(project_dir, copy)
    clock = ManualClock()
    with Project.open(copy) as project:
        engine = project.workspace.engine

        def stored() -> int | None:
            with engine.connect() as conn:
                found = load_snapshot(conn)
            return None if found is None else found.generation

        data = project.active_data()
        # No writer thread: it would call save_if_due on its own, at moments the test does not choose.
        recorder = LoopRecorder(engine, "backbone", data.image_ids, {}, snapshot_seconds=20, clock=clock, writer=False)
        loop = loop_for(data, "hybrid", 5, 10, background=False, on_publish=recorder)

        def label_five(at: float) -> None:
            clock.now = at
            rows = loop.next_images(5)
            project.set_labels([(int(data.image_ids[row]), "Bag") for row in rows])
            for row in rows:
                loop.label(row, "Bag")  # the fifth retrains and publishes

        recorder.save_if_due()
        assert stored() == 1  # none was stored: the first is written at once
        label_five(at=1.0)
        assert [r.generation for r in project.retrains()] == [1, 2]  # every retrain is recorded at once ...
        recorder.save_if_due()
        clock.now = 5.9
        recorder.save_if_due()
        assert stored() == 1  # ... its snapshot not while labels may still come in
        clock.now = 6.0
        recorder.save_if_due()
        assert stored() == 2  # quiet for 5 s
        for second in (8.0, 12.0, 16.0, 20.0, 24.0):  # a retrain every 4 s: never quiet for 5
            label_five(at=second)
            recorder.save_if_due()
        assert stored() == 2  # the stored one is 18 s old at 24 s
        label_five(at=28.0)
        recorder.save_if_due()
        assert stored() == 8  # 22 s old: older than snapshot_seconds, written though the loop is busy
        label_five(at=29.0)
        recorder.flush(loop.snapshot)  # the app stops: the latest is written at once
        assert stored() == loop.snapshot.generation == 9
        assert set(project.suggestions()) == set(data.image_ids.tolist())
