"""Two app processes on one PostgreSQL project, here as two apps in one test process, each with its own engine,
loop and team sync: they see each other's labels, exactly one of them retrains, the other serves its suggestions
within a second, and when the retraining one stops the other takes over."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import write_fashion_images, write_unlabelled_fashion_images
from tests.postgres import PostgresServer
from tests.server.conftest import LOCAL, with_csrf
from tests.serving import until
from tetsuban import Project
from tetsuban.server.app import create_app
from tetsuban.server.state import AppState
from tetsuban.server.team import POLL_SECONDS, EventWindow
from tetsuban.store.labels import LabelEvent

RETRAIN_EVERY = 10


def _state(client: TestClient) -> AppState:
    state: AppState = client.app.state.tetsuban  # type: ignore[attr-defined]
    return state


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds until ``condition`` held, polled every 10 ms (the waits measured here are short); fails after
    ``timeout``."""
    return until(condition, timeout, every=0.01)


@pytest.fixture()
def team_project(tmp_path: Path, fashion_dir: Path, postgres_server: PostgresServer) -> Path:
    root = tmp_path / "project"
    with Project.init(root, database=postgres_server.new_database()) as project:
        project.import_folder(write_fashion_images(fashion_dir, tmp_path / "labelled", 40))
        project.import_folder(write_unlabelled_fashion_images(fashion_dir, tmp_path / "unlabelled", 80, start=40))
        project.split(test=0.2, val=0.2)
        project.embed()
    return root


def _client(root: Path) -> TestClient:
    return TestClient(create_app(root, retrain_every=RETRAIN_EVERY), base_url=LOCAL)


def _label(client: TestClient, count: int, label: str = "Bag") -> list[int]:
    ids = [item["id"] for item in client.get("/api/next", params={"count": count}).json()["images"]]
    for image_id in ids:
        answer = client.post("/api/labels", json={"image_id": image_id, "label": label})
        assert answer.status_code == 200, answer.text
    return ids


def test_two_apps_share_labels_and_one_retrains_for_both(team_project: Path) -> None:
    with contextlib.ExitStack() as stopping_first:  # the first app stops halfway, the second at the end
        first = stopping_first.enter_context(_client(team_project))
        with _client(team_project) as second:
            leader, follower = _state(with_csrf(first)), _state(with_csrf(second))
            assert leader.team is not None and follower.team is not None
            assert leader.team.leading and not follower.team.leading  # one advisory lock, the first app's
            with Project.open(team_project) as project:
                retrains_before = len(project.retrains())
            generation = leader.view.loop.snapshot.generation
            _until(lambda: follower.view.loop.snapshot.generation == generation)
            given = _label(first, RETRAIN_EVERY // 2) + _label(second, RETRAIN_EVERY // 2, "Sandal")
            assert len(set(given)) == RETRAIN_EVERY  # the store's leases kept the two queues apart
            # the second app's labels reach the first one's loop and count there: together they make a retrain due
            _until(lambda: leader.view.loop.snapshot.generation == generation + 1)
            leader.view.loop.wait()
            published = leader.view.loop.snapshot
            waited = _until(lambda: follower.view.loop.snapshot.generation == published.generation, timeout=5.0)
            assert waited < 1.0
            adopted = follower.view.loop.snapshot
            assert adopted.classes == published.classes and adopted.labelled == published.labelled
            assert adopted.probabilities is not None and published.probabilities is not None
            assert (adopted.probabilities == published.probabilities.astype(np.float32)).all()  # as stored
            assert [follower.view.image_ids[r] for r in adopted.queue] == [
                leader.view.image_ids[r] for r in published.queue
            ]
            rows = [follower.view.row_of[i] for i in given]
            assert all(follower.view.labelled[rows]) and all(
                leader.view.labelled[[leader.view.row_of[i] for i in given]]
            )
            suggested = second.get("/api/next", params={"count": 3}).json()
            assert suggested["generation"] == published.generation
            for item in suggested["images"]:
                row = leader.view.row_of[item["id"]]
                assert item["suggestion"] == published.classes[int(published.probabilities[row].argmax())]
            time.sleep(5 * POLL_SECONDS)
            assert follower.view.loop.snapshot.generation == published.generation  # the follower never retrained
            with Project.open(team_project) as project:
                generations = [r.generation for r in project.retrains()[retrains_before:]]
            assert generations == sorted(set(generations)) and generations[-1] == published.generation  # once each

            stopping_first.close()  # the retraining app stops: the other takes over its lock
            _until(lambda: follower.team is not None and follower.team.leading, timeout=5.0)
            _label(second, RETRAIN_EVERY, "Trouser")
            _until(lambda: follower.view.loop.snapshot.generation == published.generation + 1)
    with Project.open(team_project) as project:
        assert project.retrains()[-1].generation == published.generation + 1
        assert project.suggestions()  # the one that took over stored its snapshot


def test_an_undo_in_one_app_takes_the_label_back_in_the_other(team_project: Path) -> None:
    with _client(team_project) as first, _client(team_project) as second:
        leader, follower = _state(with_csrf(first)), _state(with_csrf(second))
        assert first.headers["X-CSRF-Token"] == second.headers["X-CSRF-Token"]  # one secret, kept in the store
        before = leader.view.loop.labels_until_retrain
        (image_id,) = _label(second, 1)
        row = leader.view.row_of[image_id]
        _until(lambda: leader.view.loop.labels[row] == "Bag" and leader.view.loop.labels_until_retrain == before - 1)
        assert second.post("/api/undo", json={"image_id": image_id}).status_code == 200
        _until(lambda: leader.view.loop.labels[row] is None and not leader.view.labelled[row])
        time.sleep(5 * POLL_SECONDS)
        assert leader.view.loop.labels_until_retrain == before  # label and undo leave the count as it was
        assert not follower.view.labelled[follower.view.row_of[image_id]]


def _event(event_id: int) -> LabelEvent:
    return LabelEvent(event_id, 1, "Bag", "human", "ann", 0.0, None)


def test_events_seen_out_of_order_are_applied_once_each() -> None:
    """An id committed late (below ids seen already) is still applied, once; the floor moves up only past ids seen
    long enough ago."""
    now = [0.0]
    window = EventWindow(10, clock=lambda: now[0])
    assert [e.id for e in window.fresh([_event(11), _event(13)])] == [11, 13]
    assert [e.id for e in window.fresh([_event(11), _event(12), _event(13)])] == [12]  # 12 committed late
    assert window.floor == 10
    now[0] = 60.0
    assert window.fresh([_event(12), _event(13), _event(14)])[0].id == 14
    assert window.floor == 13
    assert window.fresh([_event(9), _event(13)]) == []
