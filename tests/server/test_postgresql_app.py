"""The labeling app on a project whose tables live in PostgreSQL: labels, retrains, the review queue, accounts and a
restart work as on SQLite (one process here; several in test_team.py and test_workers.py)."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import write_fashion_images, write_unlabelled_fashion_images
from tests.postgres import PostgresServer
from tests.server.conftest import LOCAL, log_in
from tetsuban import Project
from tetsuban.server.app import create_app
from tetsuban.server.leases import StoredLeases
from tetsuban.server.state import AppState


def _state(client: TestClient) -> AppState:
    state: AppState = client.app.state.tetsuban  # type: ignore[attr-defined]
    return state


def test_the_app_labels_retrains_and_resumes_on_a_postgresql_project(
    tmp_path: Path, fashion_dir: Path, postgres_server: PostgresServer
) -> None:
    root = tmp_path / "project"
    with Project.init(root, database=postgres_server.new_database()) as project:
        project.import_folder(write_fashion_images(fashion_dir, tmp_path / "labelled", 60))
        project.import_folder(write_unlabelled_fashion_images(fashion_dir, tmp_path / "unlabelled", 60, start=60))
        project.split(test=0.2, val=0.2)
        project.embed()
        project.accounts.add("ann", "a long password", "reviewer")
    with TestClient(create_app(root, retrain_every=10), base_url=LOCAL) as client:
        log_in(client, "ann", "a long password")
        generation = _state(client).view.loop.snapshot.generation
        images = client.get("/api/next", params={"count": 10}).json()["images"]
        leases = _state(client).leases
        assert isinstance(leases, StoredLeases)  # in the store, for every worker on this database to see
        assert all(StoredLeases(leases.engine).holder(item["id"]) == "ann" for item in images)
        for item in images:
            answer = client.post("/api/labels", json={"image_id": item["id"], "label": "Bag", "seconds": 1.0})
            assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 10  # the team sync counts the labels from the store, a few times a second
        while _state(client).view.loop.snapshot.generation == generation and time.monotonic() < deadline:
            time.sleep(0.05)
        _state(client).view.loop.wait()
        stats = client.get("/api/stats").json()
        assert stats["generation"] > generation and stats["last_hour"] == 10
        review = client.get("/api/next", params={"queue": "review", "count": 20})
        assert review.status_code == 200 and review.json()["expected_wrong"] is not None
    with Project.open(root) as project:
        assert project.workspace.engine.dialect.name == "postgresql"
        given = {e.image_id: e for e in project.label_history() if e.author == "ann"}
        assert set(given) == {item["id"] for item in images} and all(e.label == "Bag" for e in given.values())
        assert project.retrains()[-1].generation == stats["generation"]
    with TestClient(create_app(root, retrain_every=10), base_url=LOCAL) as again:  # a restart reads it all back
        log_in(again, "ann", "a long password")
        assert again.get("/api/stats").json()["generation"] >= stats["generation"]
        assert not {item["id"] for item in again.get("/api/next", params={"count": 50}).json()["images"]} & set(given)
