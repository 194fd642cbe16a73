"""The labeling API beyond one label: the queues, a page of labels, unsure, per-image fields, the live panel's
figures, uploads with the checks of import, and a restart that resumes."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import embedded_project, fashion_class_folder, write_unlabelled_fashion_images
from tests.server.conftest import LOCAL, with_csrf
from tetsuban import Project
from tetsuban.active.curve import LearningCurve
from tetsuban.active.loop import QUEUE_RETRAINS
from tetsuban.server.app import create_app
from tetsuban.server.state import AppState, LoopView, Viewer, reach_fields


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> Path:
    return embedded_project(fashion_dir, tmp_path_factory.mktemp("labeling"), 80, 80, test=0.2, val=0.2)


@pytest.fixture()
def copied(served: Path, tmp_path: Path) -> Path:
    shutil.copytree(served, tmp_path / "project")
    return tmp_path / "project"


@pytest.fixture()
def client(copied: Path) -> Iterator[TestClient]:
    with TestClient(create_app(copied, retrain_every=10), base_url=LOCAL) as opened:
        yield with_csrf(opened)


def _state(client: TestClient) -> AppState:
    state: AppState = client.app.state.tetsuban  # type: ignore[attr-defined]
    return state


def _ids(client: TestClient, queue: str, count: int = 100) -> list[int]:
    answer = client.get("/api/next", params={"count": count, "queue": queue})
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["images"]]


def _retrain(client: TestClient, label_of: Callable[[int], str]) -> None:
    """Label the next ten train images (the client's retrain_every) as ``label_of`` says, and wait for the retrain."""
    for image_id in _ids(client, "hybrid", 10):
        client.post("/api/labels", json={"image_id": image_id, "label": label_of(image_id)})
    _state(client).view.loop.wait()


@pytest.mark.parametrize("head", ["probe", "spreading"])
def test_the_app_suggests_from_the_head_it_was_started_with(copied: Path, head: str) -> None:
    """serve --head probe: the suggestions are the probe's own probabilities; the default mixes in spreading."""
    with TestClient(create_app(copied, retrain_every=10, head=head), base_url=LOCAL) as opened:
        loop = _state(opened).view.loop
        snapshot = loop.snapshot
        assert snapshot.head is not None and snapshot.probabilities is not None
        probe = snapshot.head.probabilities(loop.embeddings)
        assert np.array_equal(snapshot.probabilities, probe) == (head == "probe")


def test_each_queue_orders_the_unlabelled_images_as_it_says(client: TestClient, copied: Path) -> None:
    state = _state(client)
    snapshot, view = state.view.loop.snapshot, state.view
    assert snapshot.head is not None and snapshot.probabilities is not None
    with Project.open(copied) as project:
        splits, labels = project.splits(), project.labelled()
    train_unlabelled = {i for i, s in splits.items() if s == "train" and i not in labels}
    holdout_unlabelled = {i for i, s in splits.items() if s != "train" and i not in labels}

    def probabilities(image_id: int) -> np.ndarray:
        return snapshot.probabilities[view.row_of[image_id]]  # type: ignore[index]

    uncertain = _ids(client, "uncertainty")
    assert set(uncertain) == train_unlabelled
    margins = [np.diff(np.sort(probabilities(i))[-2:])[0] for i in uncertain]
    assert margins == sorted(margins)
    name = "Bag"
    likely = _ids(client, f"class:{name}")
    k = snapshot.head.classes.index(name)
    assert set(likely) == train_unlabelled
    assert [probabilities(i)[k] for i in likely] == sorted((probabilities(i)[k] for i in likely), reverse=True)
    assert set(_ids(client, "random")) == train_unlabelled and _ids(client, "random") != uncertain
    assert set(_ids(client, "holdout")) == holdout_unlabelled
    assert client.get("/api/next", params={"queue": "class:Unicorn"}).status_code == 422
    assert client.get("/api/next", params={"queue": "../../etc"}).status_code == 422


def test_the_hybrid_queue_holds_picks_for_four_retrains_then_the_random_order(copied: Path) -> None:
    """Several annotators labelling at once get the strategy's picks until the next retrain replaces them: the queue
    is as long as four retrains' worth of labels (not the loop's default of 40), and the random order follows it."""
    every = 5
    with TestClient(create_app(copied, retrain_every=every), base_url=LOCAL) as client:
        view = _state(client).view
        picks = [int(view.image_ids[row]) for row in view.loop.snapshot.queue]
        hybrid, shuffled = _ids(client, "hybrid"), _ids(client, "random")
    assert len(picks) == QUEUE_RETRAINS * every == len(set(picks))
    assert hybrid == picks + [i for i in shuffled if i not in picks]


def test_a_page_of_labels_is_stored_at_once_with_what_was_accepted(client: TestClient, copied: Path) -> None:
    items = client.get("/api/next", params={"count": 12, "queue": "class:Bag"}).json()["images"]
    batch = [{"image_id": i["id"], "label": i["suggestion"], "accepted": True} for i in items[:8]]
    batch += [{"image_id": i["id"], "label": "Sandal", "accepted": False} for i in items[8:]]
    answer = client.post("/api/labels/batch", json={"items": batch, "seconds": 20.0})
    assert answer.status_code == 200, answer.text
    with Project.open(copied) as project:
        events = {e.image_id: e for e in project.label_history()}
    for item in batch:
        event = events[item["image_id"]]
        assert event.label == item["label"] and event.seconds_on_screen == 20.0
        assert event.source == ("model-accepted" if item["accepted"] else "human")
    assert not set(_ids(client, "class:Bag")) & {i["id"] for i in items}
    wrong = [{"image_id": items[0]["id"], "label": "Bag"}, {"image_id": 99999, "label": "Bag"}]
    assert client.post("/api/labels/batch", json={"items": wrong}).status_code == 404
    too_many = [{"image_id": 1, "label": "Bag"}] * 201
    assert client.post("/api/labels/batch", json={"items": too_many}).status_code == 422
    with Project.open(copied) as project:
        assert len(project.label_history()) == len(events)  # nothing of the refused pages was stored


def test_unsure_and_the_property_sheet_fields_are_set_per_image(client: TestClient, copied: Path) -> None:
    with Project.open(copied) as project:
        project.add_property("occluded", "bool")
        project.add_property("view", "choice", ["front", "side"])
    image_id, other = _ids(client, "hybrid", 2)
    first = client.post("/api/unsure", json={"image_id": image_id})
    assert first.status_code == 200 and first.json()["created"] is True  # the page says the property was added
    assert client.post("/api/unsure", json={"image_id": other}).json()["created"] is False
    assert client.post("/api/fields", json={"image_id": image_id, "name": "view", "value": "side"}).status_code == 200
    bad = client.post("/api/fields", json={"image_id": image_id, "name": "view", "value": "top"})
    assert bad.status_code == 422 and "top" in bad.json()["detail"]
    fields = {f["name"]: f for f in client.get(f"/api/images/{image_id}/fields").json()["fields"]}
    assert fields["view"]["value"] == "side" and fields["view"]["choices"] == ["front", "side"]
    assert fields["unsure"]["value"] is True and fields["occluded"]["value"] is None
    with Project.open(copied) as project:
        assert project.property_values("unsure") == {image_id: True, other: True}


def _settled(client: TestClient, target: float = 0.95) -> dict[str, Any]:
    """The panel's figures once the curve for the labels as they are has been drawn (it is drawn off the request)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        stats: dict[str, Any] = client.get("/api/stats", params={"target": target}).json()
        if not stats["curve_pending"]:
            return stats
        _state(client).curve.wait()
        time.sleep(0.1)  # the keeper rests between drawings
    raise AssertionError("the panel's curve was never drawn")


def _curve_of(project_dir: Path) -> tuple[list[dict[str, float]], LearningCurve]:
    with Project.open(project_dir) as project:  # what tetsuban curve and the report draw
        curve = project.learning_curve()
    points = [
        {"labels": n, "accuracy": a, "fitted": float(curve.fit.accuracy(n))}
        for n, a in zip(curve.labels, curve.accuracy, strict=True)
    ]
    return points, curve


def test_the_panel_reports_classes_the_last_hour_and_the_next_retrain(client: TestClient, copied: Path) -> None:
    before = _settled(client)
    holdout = client.get("/api/next", params={"count": 10, "queue": "holdout"}).json()["images"]
    for item in holdout:
        client.post("/api/labels", json={"image_id": item["id"], "label": item["suggestion"], "accepted": True})
    _retrain(client, lambda _image_id: "Bag")
    after = client.get("/api/stats").json()
    assert after["last_hour"] == before["last_hour"] + 20
    assert after["per_class"]["Bag"] >= before["per_class"]["Bag"] + 10
    assert after["generation"] > before["generation"] and after["next_retrain_in"] == 10
    assert after["retrain_failure"] is None
    assert client.get("/api/stats", params={"target": 2}).status_code == 422
    with Project.open(copied) as project:  # every figure is the store's
        labels, counts = project.labelled(), project.class_counts()
    asked = client.get("/api/stats", params={"target": 0.8}).json()
    assert asked["labelled"] == len(labels) and asked["per_class"] == counts and asked["target"] == 0.8


def test_the_panel_draws_the_curve_and_verdict_of_tetsuban_curve_and_of_the_report(
    client: TestClient, copied: Path
) -> None:
    """One estimator: the panel's points and what it says of a target are those of the project's learning curve
    (the one ``tetsuban curve`` prints and the report shows), redrawn after a retrain, and the same after a
    restart (no point added by restarting)."""
    first = _settled(client, 0.9)
    points, curve = _curve_of(copied)
    assert first["curve"] == {
        "points": points,
        "validation_images": curve.validation_images,
        "train_images": curve.train_images,
    }
    assert first["reach"] == reach_fields(curve.reach(0.9)) and first["curve_missing"] is None
    with Project.open(copied) as project:
        assert curve.train_images == sum(split == "train" for split in project.splits().values())
    _retrain(client, lambda _image_id: "Bag")
    redrawn = _settled(client, 0.9)
    points, curve = _curve_of(copied)
    assert redrawn["curve"]["points"] == points and points[-1]["labels"] == first["curve"]["points"][-1]["labels"] + 10
    assert redrawn["reach"] == reach_fields(curve.reach(0.9))
    with TestClient(create_app(copied, retrain_every=10), base_url=LOCAL) as restarted:
        assert _settled(restarted, 0.9)["curve"] == redrawn["curve"]


def test_labels_of_validation_images_draw_the_chart_without_a_retrain(copied: Path) -> None:
    """The chart waits for ten labelled validation images and says how many more; labelling them in the holdout
    queue draws it at once, though no retrain follows (validation labels measure the model, they do not train it)."""
    with Project.open(copied) as project:
        splits, labels = project.splits(), project.labelled()
        val = [i for i, split in splits.items() if split == "val" and i in labels]
        project.set_labels([(i, None) for i in val], "human", "tester")
    assert len(val) >= 10
    with TestClient(create_app(copied, retrain_every=10), base_url=LOCAL) as client:
        with_csrf(client)
        empty = _settled(client)
        assert (empty["curve"], empty["reach"]) == (None, None)
        assert empty["curve_missing"] == {"kind": "val", "have": 0, "need": 10}
        generation = empty["generation"]
        for image_id in val[:9]:
            client.post("/api/labels", json={"image_id": image_id, "label": labels[image_id]})
        assert _settled(client)["curve_missing"] == {"kind": "val", "have": 9, "need": 10}
        client.post("/api/labels", json={"image_id": val[9], "label": labels[val[9]]})
        drawn = _settled(client)
    assert drawn["generation"] == generation and drawn["curve_missing"] is None
    assert drawn["curve"]["validation_images"] == 10 and drawn["reach"] is not None


def test_uploads_are_imported_with_the_checks_of_import_and_join_the_loop(
    client: TestClient, copied: Path, photos_dir: Path
) -> None:
    photos = sorted(photos_dir.glob("*.jpg"))[:2]
    files = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in photos]
    files.append(("files", ("broken.jpg", photos[0].read_bytes()[:500], "image/jpeg")))  # truncated
    files.append(("files", ("notes.txt", b"not an image", "text/plain")))
    files.append(("files", ("../../escape.jpg", photos[1].read_bytes(), "image/jpeg")))  # a duplicate, hostile name
    answer = client.post("/api/upload", files=files, data={"label": "Bag"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["added"] == 2 and body["duplicate"] == 1
    assert sorted(s["name"] for s in body["skipped"]) == ["broken.jpg", "notes.txt"]
    assert all(s["reason"] for s in body["skipped"])
    assert not (copied.parent / "escape.jpg").exists() and not list((copied / ".cache" / "uploads").iterdir())
    with Project.open(copied) as project:
        labels, splits = project.labelled(), project.splits()
    new = body["ids"][:2]
    assert all(labels[i] == "Bag" and i in splits for i in new)
    state = _state(client)
    deadline = time.monotonic() + 60
    while not all(i in state.view.row_of for i in new) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(i in state.view.row_of for i in new)
    assert client.post("/api/upload", files=files[:1], data={"label": "Unicorn"}).status_code == 422


def test_a_restart_resumes_where_the_labels_left_off(copied: Path) -> None:
    with TestClient(create_app(copied, retrain_every=10), base_url=LOCAL) as first:
        with_csrf(first)
        given = _ids(first, "hybrid", 5)
        for image_id in given:
            first.post("/api/labels", json={"image_id": image_id, "label": "Bag"})
    with TestClient(create_app(copied, retrain_every=10), base_url=LOCAL) as again:
        assert not set(_ids(again, "hybrid")) & set(given)
        assert again.get("/api/stats").json()["per_class"]["Bag"] >= 5


def test_the_review_queue_shows_planted_errors_and_drops_those_relabelled(copied: Path) -> None:
    with Project.open(copied) as project:
        labels = project.labelled()
        planted = [i for i, label in labels.items() if label == "Trouser"][:4]
        project.set_labels([(i, "Bag") for i in planted], "human", "careless")
    with TestClient(create_app(copied, retrain_every=10), base_url=LOCAL) as client:
        with_csrf(client)
        review = client.get("/api/next", params={"queue": "review", "count": 20}).json()["images"]
        found = {item["id"]: item for item in review}
        assert len(set(planted) & set(found)) >= 3
        for image_id in set(planted) & set(found):
            assert found[image_id]["label"] == "Bag" and found[image_id]["suggestion"] == "Trouser"
        fixed = sorted(set(planted) & set(found))[0]
        client.post("/api/labels", json={"image_id": fixed, "label": "Trouser", "accepted": True})
        again = client.get("/api/next", params={"queue": "review", "count": 20}).json()["images"]
        assert fixed not in {item["id"] for item in again}


def _review(client: TestClient, count: int) -> dict[int, dict[str, object]]:
    answer = client.get("/api/next", params={"queue": "review", "count": count})
    assert answer.status_code == 200, answer.text
    return {item["id"]: item for item in answer.json()["images"]}


def _true_classes(project: Project, fashion_dir: Path) -> dict[int, str]:
    """Each unlabelled image's fashion-mnist class, read from its file name (u00123.png is test image 123)."""
    from tetsuban.ingest.idx import read_idx

    truth = read_idx(fashion_dir / "t10k-labels-idx1-ubyte.gz")
    names = {r.id: Path(r.location).name for r in project.images()}
    return {i: fashion_class_folder(int(truth[int(n[1:6])])) for i, n in names.items() if n.startswith("u")}


def test_the_review_queue_is_found_once_per_retrain_and_offers_count_issues(copied: Path, fashion_dir: Path) -> None:
    """The review queue leases at most ``count`` label issues, each with the class and probability confident learning
    gives; it is found again after each retrain (errors planted since show then, not before)."""
    with Project.open(copied) as project:
        labels = project.labelled()
        first = [i for i, label in labels.items() if label == "Trouser"][:4]
        splits = project.splits()  # planted later in a class with six train labels: two stay, enough to judge
        sneakers = [i for i, label in labels.items() if label == "Sneaker" and splits.get(i) == "train"]
        project.set_labels([(i, "Bag") for i in first], "human", "careless")
        truth = _true_classes(project, fashion_dir)
    with TestClient(create_app(copied, retrain_every=10), base_url=LOCAL) as client:
        with_csrf(client)
        assert len(_review(client, 1)) == 1
        answer = client.get("/api/next", params={"queue": "review", "count": 50}).json()
        found = {item["id"]: item for item in answer["images"]}
        with Project.open(copied) as project:
            everything = project.label_issues()
            issues = dict(everything.issues)
        assert len(set(first) & set(found)) >= 3 and set(found) <= set(issues)
        low, high = everything.wrong.interval  # how many to expect wrong, as `tetsuban label-issues` says
        expected = {"expected": everything.wrong.expected, "low": low, "high": high, "labels": len(labels)}
        assert answer["expected_wrong"] == expected | {"listed": len(issues)} and 0 < low <= high
        assert "expected_wrong" not in client.get("/api/next", params={"queue": "hybrid"}).json()
        for image_id, item in found.items():
            issue = issues[image_id]
            assert (item["label"], item["suggestion"]) == (issue.given, issue.suggested)
            assert item["probability"] == pytest.approx(issue.suggested_calibrated)  # calibrated
        later = [i for i in sneakers if i not in found][:4]
        with Project.open(copied) as project:
            project.set_labels([(i, "Pullover") for i in later], "human", "careless")
            assert set(later) & {i for i, _ in project.label_issues().issues}  # what a new look would find
        assert not set(later) & set(_review(client, 50))  # no retrain yet: the issues found at the last one
        _retrain(client, truth.__getitem__)  # with right labels
        assert len(later) == 4 and set(later) & set(_review(client, 50))


def test_a_project_without_labels_shows_an_empty_panel_and_nothing_to_review(tmp_path: Path, fashion_dir: Path) -> None:
    """Before the first label there is no retrain and no curve (it waits for ten validation labels), no labels to a
    target; with one label per class no label can be judged yet, so the review queue is empty (not an error)."""
    unlabelled = write_unlabelled_fashion_images(fashion_dir, tmp_path / "unlabelled", 30)
    with Project.init(tmp_path / "project") as project:
        project.import_folder(unlabelled)
        project.split(test=0.2, val=0.2)
        project.embed()
    with TestClient(create_app(tmp_path / "project", retrain_every=10), base_url=LOCAL) as client:
        stats = _settled(client)
        with_csrf(client)
        for name, image_id in zip(("Bag", "Trouser"), _ids(client, "random", 2), strict=True):
            assert client.post("/api/classes", json={"name": name}).status_code == 200
            assert client.post("/api/labels", json={"image_id": image_id, "label": name}).status_code == 200
        assert _review(client, 20) == {}
        assert client.get("/api/next", params={"queue": "review"}).json()["expected_wrong"] is None
    assert (stats["labelled"], stats["last_hour"], stats["per_class"]) == (0, 0, {})
    assert (stats["curve"], stats["reach"], stats["retrain_failure"]) == (None, None, None)
    assert stats["curve_missing"] == {"kind": "val", "have": 0, "need": 10}


def test_the_app_learns_from_train_labels_only(client: TestClient, copied: Path) -> None:
    """Val and test labels, old or given in the app, never reach the loop: not its head, its queue or its count."""
    state = _state(client)
    with Project.open(copied) as project:
        splits, labels = project.splits(), project.labelled()
    train_labelled = sum(splits.get(i) == "train" for i in labels)
    assert state.view.loop.snapshot.labelled == train_labelled  # the loop was seeded with train labels only
    holdout = _ids(client, "holdout", 10)
    assert client.post("/api/classes", json={"name": "Holdout only"}).status_code == 200
    for image_id in holdout:  # as many as a retrain needs: a loop told of them would retrain and learn the class
        answer = client.post("/api/labels", json={"image_id": image_id, "label": "Holdout only"})
        assert answer.status_code == 200, answer.text
    loop = state.view.loop
    loop.wait()
    assert all(loop.labels[state.view.row_of[i]] is None for i in holdout)
    snapshot = loop.retrain()
    assert snapshot.head is not None and "Holdout only" not in snapshot.head.classes
    assert snapshot.labelled == train_labelled
    assert client.get("/api/stats").json()["labelled"] == len(labels) + len(holdout)  # the panel counts them all


def test_the_app_tells_the_loop_only_after_the_label_is_stored(client: TestClient, copied: Path) -> None:
    """When the loop hears of a label the store already holds it (a killed server loses nothing the loop saw)."""
    loop = _state(client).view.loop
    stored_when_told: list[tuple[int, str | None, str | None]] = []
    image_ids = _state(client).view.image_ids

    def checked(told: Callable[[int, str | None], None]) -> Callable[[int, str | None], None]:
        def label_then_check(row: int, label: str | None) -> None:  # the real loop's call, after a look at the store
            image_id = int(image_ids[row])
            with Project.open(copied) as project:
                stored_when_told.append((image_id, label, project.labelled().get(image_id)))
            told(row, label)

        return label_then_check

    loop.note = checked(loop.note)  # type: ignore[method-assign]  # labels and undos alike
    given = _ids(client, "hybrid", 3)
    client.post("/api/labels", json={"image_id": given[0], "label": "Bag"})
    client.post("/api/labels/batch", json={"items": [{"image_id": i, "label": "Sandal"} for i in given[1:]]})
    client.post("/api/undo", json={"image_id": given[0]})
    assert stored_when_told == [
        (given[0], "Bag", "Bag"),
        (given[1], "Sandal", "Sandal"),
        (given[2], "Sandal", "Sandal"),
        (given[0], None, None),
    ]


def test_the_app_records_who_did_each_thing_and_undo_gives_the_loop_the_label_it_restores(
    client: TestClient, copied: Path
) -> None:
    """Labels, undo, unsure marks and fields are stored under the name of who did them (undo's restored label
    under its first author's); an image's history is that image's alone; undo tells the loop the restored label;
    a class added is in the list at once; fields say their kind."""
    state = _state(client)
    ann, bob = Viewer("ann", "annotator", ""), Viewer("bob", "reviewer", "")
    first, second = _ids(client, "hybrid", 2)
    state.label(ann, first, "Bag", 1.0, False)
    state.label(bob, first, "Sandal", 1.0, False)
    state.undo(bob, first, state.history(first)[-2])  # bob takes his label back: ann's returns
    assert [(e.label, e.author, e.source) for e in state.history(first)] == [
        ("Bag", "ann", "human"),
        ("Sandal", "bob", "human"),
        (None, "bob", "human"),
        ("Bag", "ann", "restored"),
    ]
    assert state.history(second) == []
    assert state.view.loop.labels[state.view.row_of[first]] == "Bag"
    with Project.open(copied) as project:
        project.add_property("view", "choice", ["front", "side"])
    state.mark_unsure(ann, second)
    state.set_field(bob, second, "view", "side")
    with Project.open(copied) as project:
        assert [e.author for e in project.property_history("unsure", second)] == ["ann"]
        assert [e.author for e in project.property_history("view", second)] == ["bob"]
    assert {f["name"]: f["kind"] for f in state.fields(second)} == {"unsure": "bool", "view": "choice"}
    assert "Boots" in state.add_class("Boots")


def test_labels_given_while_new_images_are_taken_in_reach_the_rebuilt_loop(
    client: TestClient, copied: Path, photos_dir: Path
) -> None:
    """An upload's images are known to the app at once (their records: they can be marked, labelled and offered for a
    second opinion), and a label given while the loop is rebuilt around them, after the rebuild read the store, is
    replayed onto the new loop, not lost with the old."""
    state = _state(client)
    built, release = threading.Event(), threading.Event()
    build = state._build_view

    def build_then_hold() -> LoopView:  # the real rebuild, held between its read of the store and the swap
        view = build()
        built.set()
        release.wait(120)
        return view

    state._build_view = build_then_hold  # type: ignore[method-assign]
    old = state.view
    given = _ids(client, "hybrid", 1)[0]
    photos = sorted(photos_dir.glob("*.jpg"))[:1]
    answer = client.post("/api/upload", files=[("files", (p.name, p.read_bytes(), "image/jpeg")) for p in photos])
    assert answer.status_code == 200, answer.text
    new = answer.json()["ids"][0]
    assert built.wait(120)
    ann, bob = Viewer("ann", "annotator", ""), Viewer("bob", "annotator", "")
    state.mark_unsure(ann, new)  # the new image's record is there before the swap
    state.label(ann, new, "Bag", None, False)
    _, offered = state.offer(bob, "second", 100)  # not in the loop yet: offered with no suggestion, not an error
    assert [(o.suggestion, o.probability) for o in offered if o.image_id == new] == [(None, None)]
    assert client.post("/api/labels", json={"image_id": given, "label": "Bag"}).status_code == 200
    release.set()
    deadline = time.monotonic() + 60
    while state.view is old and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.view is not old and new in state.view.row_of
    state.view.loop.wait()
    assert state.view.loop.labels[state.view.row_of[given]] == "Bag"


def test_a_class_renamed_in_the_app_is_renamed_in_the_loop_its_suggestions_and_the_review(
    client: TestClient, copied: Path
) -> None:
    state = _state(client)
    old, other = state.classes()[:2]
    review = _review(client, 50)  # the issues found for this generation, naming the class about to be renamed
    assert any(old in (item["label"], item["suggestion"]) for item in review.values())
    answer = client.post("/api/classes/rename", json={"old": old, "new": "Renamed"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["classes"][:2] == ["Renamed", other] and answer.json()["images"] > 0
    assert old not in set(state.view.loop.labels) and "Renamed" in set(state.view.loop.labels)
    assert all(old not in (item["label"], item["suggestion"]) for item in _review(client, 50).values())
    refused = client.post("/api/classes/rename", json={"old": "Renamed", "new": other})
    assert refused.status_code == 422 and "labels merge" in refused.json()["detail"]
    _retrain(client, lambda _image_id: other)
    snapshot = state.view.loop.snapshot
    assert snapshot.head is not None and old not in snapshot.head.classes and "Renamed" in snapshot.head.classes
    issues = state.label_issues(snapshot.generation).values()
    assert all(old not in (issue.given, issue.suggested) for issue in issues)
    merged = client.post("/api/classes/merge", json={"classes": ["Renamed"], "into": other}).json()
    assert "Renamed" not in merged["classes"] and "Renamed" not in set(state.view.loop.labels)
    with Project.open(copied) as project:
        assert "Renamed" not in project.classes() and project.class_counts()[other] >= merged["images"]


def test_an_undo_takes_its_label_out_of_the_retrain_count_and_the_last_hour(client: TestClient) -> None:
    before = client.get("/api/stats").json()
    first, second = _ids(client, "hybrid", 2)
    for image_id in (first, second):
        client.post("/api/labels", json={"image_id": image_id, "label": "Bag"})
    client.post("/api/undo", json={"image_id": second})
    after = client.get("/api/stats").json()
    assert after["next_retrain_in"] == before["next_retrain_in"] - 1  # one label stands: one toward the retrain
    assert after["last_hour"] == before["last_hour"] + 1


def test_the_model_generation_goes_on_counting_after_a_restart(copied: Path) -> None:
    with TestClient(create_app(copied, retrain_every=10), base_url=LOCAL) as client:
        with_csrf(client)
        _retrain(client, lambda _image_id: "Bag")
        before = client.get("/api/stats").json()["generation"]
        _state(client).close()
    with TestClient(create_app(copied, retrain_every=10), base_url=LOCAL) as restarted:
        assert restarted.get("/api/stats").json()["generation"] == before + 1  # the restart's first fit
