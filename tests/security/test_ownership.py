"""Attack 6: one annotator overwriting or erasing another's label, or labelling an image handed to someone else."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.security.conftest import CLASS_NAMES
from tests.server.conftest import LOCAL, log_in
from tetsuban import Project
from tetsuban.server.app import create_app

PASSWORD = "correct horse battery"
Team = tuple[TestClient, TestClient, TestClient, Path]
A, B = CLASS_NAMES[0], CLASS_NAMES[2]


@pytest.fixture()
def team(hostile: Path, tmp_path: Path) -> Iterator[Team]:
    """The app on a copy of the hostile project, with ann and bob (annotators) and rev (reviewer) logged in."""
    copy = tmp_path / "project"
    shutil.copytree(hostile, copy)
    with Project.open(copy) as project:
        for name, role in (("ann", "annotator"), ("bob", "annotator"), ("rev", "reviewer")):
            project.accounts.add(name, PASSWORD, role)
    with TestClient(create_app(copy, retrain_every=50), base_url=LOCAL) as first:
        clients = [first, TestClient(first.app, base_url=LOCAL), TestClient(first.app, base_url=LOCAL)]
        ann, bob, rev = (log_in(c, n, PASSWORD) for c, n in zip(clients, ("ann", "bob", "rev"), strict=True))
        yield ann, bob, rev, copy


def _label(client: TestClient, image_id: int, label: str) -> int:
    return client.post("/api/labels", json={"image_id": image_id, "label": label}).status_code


def test_an_image_leased_to_one_annotator_is_not_written_by_another(team: Team) -> None:
    ann, bob, _, _ = team
    image_id = ann.get("/api/next", params={"count": 1}).json()["images"][0]["id"]
    assert _label(bob, image_id, B) == 409
    assert bob.post("/api/labels/batch", json={"items": [{"image_id": image_id, "label": B}]}).status_code == 409
    assert bob.post("/api/unsure", json={"image_id": image_id}).status_code == 409
    assert _label(ann, image_id, A) == 200


def test_an_annotator_cannot_overwrite_or_erase_another_persons_label(team: Team) -> None:
    ann, bob, rev, project_dir = team
    image_id = ann.get("/api/next", params={"count": 1}).json()["images"][0]["id"]
    assert _label(ann, image_id, A) == 200
    assert _label(bob, image_id, B) == 403  # not handed to bob: ann's label stays
    assert bob.post("/api/undo", json={"image_id": image_id}).status_code == 403
    with Project.open(project_dir) as project:
        assert project.labelled()[image_id] == A
    assert _label(rev, image_id, B) == 200  # a reviewer may correct it


def test_undoing_a_second_opinion_puts_the_first_label_back(team: Team) -> None:
    ann, bob, _, project_dir = team
    image_id = ann.get("/api/next", params={"count": 1}).json()["images"][0]["id"]
    assert _label(ann, image_id, A) == 200
    second = [i["id"] for i in bob.get("/api/next", params={"count": 50, "queue": "second"}).json()["images"]]
    assert image_id in second
    assert _label(bob, image_id, B) == 200  # handed to bob for a second opinion
    assert bob.post("/api/undo", json={"image_id": image_id}).status_code == 200
    with Project.open(project_dir) as project:
        history = project.label_history(image_id)
        assert project.labelled()[image_id] == A  # ann's label is back, not erased
    assert [(e.label, e.author, e.source) for e in history][-2:] == [(None, "bob", "human"), (A, "ann", "restored")]
