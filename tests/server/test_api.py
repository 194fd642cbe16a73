"""The app's API through FastAPI's TestClient on a real project: next images, labels, images by id, hostile input."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import embedded_project
from tests.server.conftest import LOCAL, with_csrf
from tetsuban import Project
from tetsuban.server.app import MAX_BODY, create_app


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> Path:
    """A project of 60 labelled and 60 unlabelled fashion-mnist images, embedded and split."""
    return embedded_project(fashion_dir, tmp_path_factory.mktemp("served"), 60, 60, test=0.2, val=0.1)


@pytest.fixture()
def copied(served: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(served, copy)
    return copy


@pytest.fixture()
def client(copied: Path) -> Iterator[TestClient]:
    with TestClient(create_app(copied, retrain_every=5), base_url=LOCAL) as opened:
        yield with_csrf(opened)


def test_next_images_are_unlabelled_train_images_with_suggestions(client: TestClient, served: Path) -> None:
    body = client.get("/api/next", params={"count": 5}).json()
    images = body["images"]
    assert len(images) == 5 and body["generation"] >= 1
    with Project.open(served) as project:
        splits, labels = project.splits(), project.labelled()
        classes = set(labels.values())
    assert all(splits[i["id"]] == "train" and i["id"] not in labels for i in images)
    assert all(i["suggestion"] in classes and 0 < i["probability"] <= 1 for i in images)


def test_a_label_is_stored_with_its_provenance_and_leaves_the_queue(client: TestClient, copied: Path) -> None:
    first = client.get("/api/next", params={"count": 5}).json()
    for item in first["images"]:
        response = client.post(
            "/api/labels", json={"image_id": item["id"], "label": item["suggestion"], "seconds": 1.5, "accepted": True}
        )
        assert response.status_code == 200, response.text
    after = client.get("/api/next", params={"count": 5}).json()
    assert not {i["id"] for i in after["images"]} & {i["id"] for i in first["images"]}
    with Project.open(copied) as project:
        events = {e.image_id: e for e in project.label_history()}
    for item in first["images"]:
        event = events[item["id"]]
        assert event.label == item["suggestion"] and event.source == "model-accepted"
        assert event.seconds_on_screen == 1.5 and event.author


def test_images_and_thumbnails_are_served_by_id_only(client: TestClient) -> None:
    image_id = client.get("/api/next", params={"count": 1}).json()["images"][0]["id"]
    picture = client.get(f"/images/{image_id}")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    assert picture.content.startswith(b"\x89PNG")
    thumb = client.get(f"/thumbs/{image_id}")
    assert thumb.status_code == 200 and thumb.content.startswith(b"\xff\xd8")
    assert client.get(f"/thumbs/{image_id}").content == thumb.content  # cached on disk, the same bytes
    for path in (
        "/images/99999",
        "/thumbs/0",
        "/images/..%2F..%2Fetc%2Fpasswd",
        "/images/../../etc/passwd",
        "/static/../state.py",
        "/static/..%2Fstate.py",
    ):
        assert client.get(path).status_code in (404, 422), path


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"image_id": 99999, "label": "Bag"}, 404),
        ({"image_id": 1, "label": ""}, 422),
        ({"image_id": 1, "label": "x" * 65}, 422),
        ({"image_id": 1, "label": "Bag\x00"}, 422),
        ({"image_id": 1, "label": "   "}, 422),
        ({"image_id": "1; DROP TABLE labels", "label": "Bag"}, 422),
        ({"image_id": 1, "label": "Bag", "seconds": -3}, 422),
        ({"label": "Bag"}, 422),
    ],
)
def test_hostile_labels_are_refused_and_nothing_is_stored(client: TestClient, body: dict, status: int) -> None:
    before = client.get("/api/next", params={"count": 1}).json()
    response = client.post("/api/labels", json=body)
    assert response.status_code == status, response.text
    assert "detail" in response.json()
    assert client.get("/api/next", params={"count": 1}).json()["generation"] == before["generation"]


def test_an_oversized_body_is_refused_before_it_is_read(client: TestClient) -> None:
    response = client.post(
        "/api/labels", content=b"{" + b" " * (MAX_BODY + 10) + b"}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_the_page_lists_the_classes_and_loads_its_script(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "T-shirt-top" in page.text and "/static/label.js" in page.text
    script = client.get("/static/label.js")
    assert script.status_code == 200 and "keydown" in script.text


def test_undo_takes_a_label_back_and_the_history_keeps_both(client: TestClient, copied: Path) -> None:
    image_id = client.get("/api/next", params={"count": 1}).json()["images"][0]["id"]
    assert client.post("/api/labels", json={"image_id": image_id, "label": "Bag"}).status_code == 200
    labelled = client.post("/api/undo", json={"image_id": image_id}).json()["labelled"]
    assert client.post("/api/undo", json={"image_id": 99999}).status_code == 404
    with Project.open(copied) as project:
        assert image_id not in project.labelled() and len(project.labelled()) == labelled
        assert [e.label for e in project.label_history(image_id)] == ["Bag", None]


def test_undoing_a_change_puts_back_the_label_it_replaced_also_ones_own(client: TestClient, copied: Path) -> None:
    image_id = client.get("/api/next", params={"count": 1}).json()["images"][0]["id"]
    for label in ("Bag", "Trouser"):  # a label, then a change of mind on the same image (going back to it)
        assert client.post("/api/labels", json={"image_id": image_id, "label": label}).status_code == 200
    assert client.post("/api/undo", json={"image_id": image_id}).status_code == 200
    with Project.open(copied) as project:
        assert project.labelled()[image_id] == "Bag"
        assert [e.label for e in project.label_history(image_id)] == ["Bag", "Trouser", None, "Bag"]


def test_a_page_of_changes_is_undone_in_one_request_or_not_at_all(client: TestClient, copied: Path) -> None:
    ids = [item["id"] for item in client.get("/api/next", params={"count": 3}).json()["images"]]
    with Project.open(copied) as project:
        project.set_labels([(ids[0], "Bag")], "human", "ann")  # someone else's label, changed below by the page
    items = [{"image_id": i, "label": "Trouser"} for i in ids]
    assert client.post("/api/labels/batch", json={"items": items}).status_code == 200
    assert client.post("/api/undo/batch", json={"image_ids": [*ids, 99999]}).status_code == 404  # nothing undone
    assert client.post("/api/undo/batch", json={"image_ids": []}).status_code == 422
    with Project.open(copied) as project:
        assert all(project.labelled()[i] == "Trouser" for i in ids)
    answer = client.post("/api/undo/batch", json={"image_ids": ids})
    assert answer.status_code == 200
    with Project.open(copied) as project:
        labels = project.labelled()
        assert labels.get(ids[0]) == "Bag" and ids[1] not in labels and ids[2] not in labels
        assert answer.json()["labelled"] == len(labels)
        assert project.label_history(ids[0])[-1].author == "ann"  # put back under its own author's name
