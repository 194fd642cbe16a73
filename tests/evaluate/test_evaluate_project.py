"""tetsuban evaluate and compare on a real project: the figures are those of the artifact's own predictions on
the labelled test images, the report holds them, and a second model is compared with the first."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import embedded_project
from tests.run_cli import tetsuban
from tetsuban import Project
from tetsuban.commands import evaluate_folder
from tetsuban.evaluate.metrics import score
from tetsuban.evaluate.stage import SANITY_STEPS
from tetsuban.learn.predict import predict
from tetsuban.reports.written import REPORT_STEPS


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> tuple[Path, Path, Path]:
    """A fashion-mnist project of 240 labelled images (30% test), and two models: C 0.01, then C 1."""
    root = embedded_project(fashion_dir, tmp_path_factory.mktemp("evaluate"), 240, 0, test=0.3, val=0.1)
    with Project.open(root) as project:
        first = project.train(c=0.01).artifact.folder
        second = project.train(c=1.0).artifact.folder
    return root, first, second


def test_the_figures_are_the_artifacts_own_predictions_on_the_test_split(
    trained: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    root, first, _ = trained
    with Project.open(root) as project:
        evaluation, report = project.evaluate(first)
        splits, labels = project.splits(), project.labelled()
        paths = {r.id: project.image_path(r) for r in project.images()}
    test = sorted(i for i in labels if splits.get(i) == "test")
    assert [item.image_id for item in evaluation.items] == test and len(test) >= 60
    # the same files through `predict`: the same classes and probabilities
    listing = tmp_path / "test.csv"
    listing.write_text("path\n" + "".join(f"{paths[i]}\n" for i in test), encoding="utf-8")
    predict(first, listing, tmp_path / "predicted.csv", k=len(evaluation.classes))
    with (tmp_path / "predicted.csv").open(newline="", encoding="utf-8") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    predicted = [rows[str(paths[i])]["label"] for i in test]
    assert [evaluation.classes[k] for k in evaluation.probabilities.argmax(axis=1)] == predicted
    metrics = evaluation.metrics
    assert metrics.accuracy == pytest.approx(np.mean([p == labels[i] for p, i in zip(predicted, test, strict=True)]))
    assert 0.5 < metrics.accuracy <= 1.0 and 0 <= metrics.ece <= 1
    html = report.read_text(encoding="utf-8")
    assert report == first / "report.html"
    assert f"{metrics.accuracy:.3f}" in html and f"{metrics.balanced_accuracy:.3f}" in html
    assert "Confusion matrix" in html and "data:image/png;base64," in html  # the reliability diagram
    wrong = int((~metrics.correct).sum())
    assert html.count('<figure class="loss"><img src="data:image/jpeg') == min(wrong, 24)  # top losses as thumbnails
    assert html.count("nearest training images:") == min(wrong, 24)  # each with its nearest labelled neighbours
    assert html.count('<span class="neighbour"><img src="data:image/jpeg') == 3 * min(wrong, 24)
    assert "Against the model before" not in html  # the first model has none
    view = html.split("The model's view of the data")[1]
    assert view.index('<img src="data:image/png;base64,') < view.index("<h2>")  # the map, in its own section


def test_a_second_model_is_compared_with_the_first_by_paired_bootstrap(trained: tuple[Path, Path, Path]) -> None:
    root, first, second = trained
    with Project.open(root) as project:
        evaluation, report = project.evaluate(second)
        comparison = project.compare(first, second)
        before = project.evaluate(first)[0]
    assert comparison.images == len(evaluation.items)
    assert comparison.accuracy_a == pytest.approx(before.metrics.accuracy)
    assert comparison.accuracy_b == pytest.approx(evaluation.metrics.accuracy)
    assert comparison.low <= comparison.difference <= comparison.high
    html = report.read_text(encoding="utf-8")
    assert f"Against the model before ({first.name})" in html and f"{comparison.difference:+.3f}" in html
    printed = tetsuban("compare", first, second).stdout
    assert f"difference {comparison.difference:+.3f}" in printed and "paired bootstrap interval" in printed


def test_an_unreadable_test_file_is_listed_and_not_counted(fashion_dir: Path, tmp_path: Path) -> None:
    root = embedded_project(fashion_dir, tmp_path, 100, 0, test=0.3, val=0.1)  # its own files: one is damaged
    with Project.open(root) as project:
        model = project.train().artifact.folder
        splits, labels = project.splits(), project.labelled()
        victim = next(r for r in project.images() if splits.get(r.id) == "test" and r.id in labels)
        path = project.image_path(victim)
    path.write_bytes(path.read_bytes()[:40])  # truncated after training
    result = tetsuban("evaluate", model)
    assert "1 test files could not be read" in result.stdout and "Report:" in result.stdout
    with Project.open(root) as project:
        evaluation, _ = project.evaluate(model)
    assert [f for f, _ in evaluation.failed] == [str(path)]
    assert victim.id not in {item.image_id for item in evaluation.items}
    assert str(path) in (model / "report.html").read_text(encoding="utf-8")


def test_a_project_without_labelled_test_images_is_told_what_to_do(fashion_dir: Path, tmp_path: Path) -> None:
    root = embedded_project(fashion_dir, tmp_path, 40, 0, test=0.0, val=0.2)
    with Project.open(root) as project:
        model = project.train().artifact.folder
    result = tetsuban("evaluate", model, check=False)
    assert result.returncode == 1 and "test split" in result.stderr and "Traceback" not in result.stderr


def test_evaluate_given_a_project_or_another_folder_says_what_it_takes(
    trained: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    root, _, second = trained
    given_project = tetsuban("evaluate", root, check=False)
    assert given_project.returncode == 1 and "Traceback" not in given_project.stderr
    assert f"{root} is a project; this command takes a model folder" in given_project.stderr
    assert f"The newest: {second}" in given_project.stderr and "tetsuban init" not in given_project.stderr
    elsewhere = tetsuban("compare", tmp_path, second, check=False)
    assert elsewhere.returncode == 1 and f"{tmp_path} is not a model folder (no card.json" in elsewhere.stderr


def test_scores_of_reused_predictions_equal_a_fresh_run(trained: tuple[Path, Path, Path]) -> None:
    root, first, _ = trained
    with Project.open(root) as project:
        stored, _ = project.evaluate(first)
    (first / "test_predictions.json").unlink()
    with Project.open(root) as project:
        fresh, _ = project.evaluate(first)
    assert np.allclose(stored.probabilities, fresh.probabilities, atol=1e-5)
    truth = [item.label for item in fresh.items]
    assert score(truth, stored.probabilities, stored.classes).accuracy == fresh.metrics.accuracy


def test_the_report_has_property_slices_and_the_test_labels_that_look_wrong(fashion_dir: Path, tmp_path: Path) -> None:
    root = embedded_project(fashion_dir, tmp_path, 240, 0, test=0.3, val=0.15)
    with Project.open(root) as project:
        splits, labels = project.splits(), project.labelled()
        test = sorted(i for i in labels if splits.get(i) == "test")
        planted = [i for i in test if labels[i] == "Trouser"][:3]  # trousers are the easiest class to be sure of
        project.set_labels([(i, "Bag") for i in planted], "human", "careless")
        project.add_property("even", "bool")
        project.set_property("even", [(i, i % 2 == 0) for i in test])
        model = project.train().artifact.folder
        evaluation, report = project.evaluate(model)
        more_labels = project.learning_curve().reach(0.95)  # what tetsuban curve and the app's panel say
    html = report.read_text(encoding="utf-8")
    correct = dict(zip((item.image_id for item in evaluation.items), evaluation.metrics.correct, strict=True))
    for value, wanted in (("yes", 0), ("no", 1)):
        rows = [ok for i, ok in correct.items() if i % 2 == wanted]
        assert f"<td>even</td><td>{value}</td><td>{len(rows)}</td><td class=" in html
        assert f"{np.mean(rows):.3f}</td>" in html
    assert len(planted) == 3
    for image_id in planted:  # each planted error is among the top losses, predicted as what it is
        assert re.search(rf"#{image_id} <b>Bag</b> [0-9.]+<br>predicted Trouser", html)
    # confident learning is stricter: a trouser must reach the mean confidence of the images labelled trouser
    # (0.98 here), so not every planted error passes; at least one does, with the right class
    suspects = [i for i in planted if re.search(rf"#{i} labelled <b>Bag</b> [0-9.]+<br>looks like Trouser", html)]
    assert suspects
    assert "More labels?" in html and "At twice the labels the fitted learning curve expects" in html
    assert more_labels.sentence in html


def test_the_report_and_the_model_checks_tell_their_progress_to_the_end(trained: tuple[Path, Path, Path]) -> None:
    """The steps after the predictions (the report's, the doctor's checks of a model) are not silent."""
    root, first, _ = trained
    report: list[tuple[int, int | None]] = []
    checks: list[tuple[int, int | None]] = []
    evaluate_folder(first, None, 1, None, lambda d, t: report.append((d, t)))
    with Project.open(root) as project:
        project.doctor(first, lambda d, t: checks.append((d, t)))
    for heard, steps in ((report, REPORT_STEPS), (checks, SANITY_STEPS)):
        assert heard[0][0] == 0 and heard[-1][0] == heard[-1][1] == steps and len(heard) == steps + 1
