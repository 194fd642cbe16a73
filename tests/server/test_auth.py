"""Users, sessions, CSRF, roles, rate-limited logins, leases and agreement, through FastAPI's TestClient."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import embedded_project
from tests.run_cli import tetsuban
from tests.server.conftest import LOCAL, log_in, with_csrf
from tetsuban import Project
from tetsuban.cli import app as cli
from tetsuban.server.app import create_app
from tetsuban.server.security import LOGIN_FAILURES

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> Path:
    return embedded_project(fashion_dir, tmp_path_factory.mktemp("auth"), 60, 60, test=0.2, val=0.1)


@pytest.fixture()
def team(served: Path, tmp_path: Path) -> Path:
    """A copy of the project with three users: ann (annotator), bob (annotator), rev (reviewer)."""
    import shutil

    copy = tmp_path / "project"
    shutil.copytree(served, copy)
    with Project.open(copy) as project:
        for name, role in (("ann", "annotator"), ("bob", "annotator"), ("rev", "reviewer")):
            project.accounts.add(name, PASSWORD, role)
    return copy


@pytest.fixture()
def app_of_team(team: Path) -> Iterator[TestClient]:
    with TestClient(create_app(team, retrain_every=50), base_url=LOCAL) as client:
        yield client


def _token(form: str) -> str:
    return form.split('name="csrf" value="')[1].split('"')[0]


def _second_client(first: TestClient) -> TestClient:
    """Another browser on the same running app (its own cookies)."""
    return TestClient(first.app, base_url=LOCAL)


def test_with_users_every_page_and_request_needs_a_session(app_of_team: TestClient) -> None:
    page = app_of_team.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert app_of_team.get("/api/next").status_code == 401
    assert app_of_team.get("/images/1").status_code == 401
    assert app_of_team.post("/api/labels", json={"image_id": 1, "label": "Bag"}).status_code == 401


def test_login_sets_an_httponly_samesite_cookie_and_csrf_guards_every_change(
    app_of_team: TestClient, team: Path
) -> None:
    form = app_of_team.get("/login")
    answer = app_of_team.post(
        "/login", data={"name": "ann", "password": PASSWORD, "csrf": _token(form.text)}, follow_redirects=False
    )
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "tetsuban_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    image_id = app_of_team.get("/api/next", params={"count": 1}).json()["images"][0]["id"]
    body = {"image_id": image_id, "label": "Bag"}
    refused = app_of_team.post("/api/labels", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    wrong = app_of_team.post("/api/labels", json=body, headers={"X-CSRF-Token": "guessed"})
    assert wrong.status_code == 403
    with_csrf(app_of_team)
    foreign = app_of_team.post("/api/labels", json=body, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert app_of_team.post("/api/labels", json=body).status_code == 200
    with Project.open(team) as project:
        events = project.label_history(image_id)
    assert [(e.label, e.author) for e in events] == [("Bag", "ann")]


def test_the_login_form_needs_its_own_csrf_token(app_of_team: TestClient) -> None:
    answer = app_of_team.post("/login", data={"name": "ann", "password": PASSWORD, "csrf": "made-up"})
    assert answer.status_code == 403
    assert "tetsuban_session" not in app_of_team.cookies


def test_failed_logins_are_rate_limited_even_for_the_right_password(app_of_team: TestClient) -> None:
    form = app_of_team.get("/login")
    for _ in range(LOGIN_FAILURES):  # each answer is a new form with a new token, as a browser would send it
        form = app_of_team.post("/login", data={"name": "bob", "password": "wrong password", "csrf": _token(form.text)})
        assert form.status_code == 401 and "Wrong name or password" in form.text
    limited = app_of_team.post("/login", data={"name": "bob", "password": PASSWORD, "csrf": _token(form.text)})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "tetsuban_session" not in app_of_team.cookies


def test_passwords_are_argon2_hashes_and_session_tokens_are_not_stored(app_of_team: TestClient, team: Path) -> None:
    log_in(app_of_team, "ann", PASSWORD)
    token = app_of_team.cookies["tetsuban_session"]
    with sqlite3.connect(team / "tetsuban.db") as db:
        hashes = [row[0] for row in db.execute("SELECT password_hash FROM users")]
        digests = [row[0] for row in db.execute("SELECT token_digest FROM sessions")]
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    assert digests and token not in digests


def test_logging_out_ends_the_session(app_of_team: TestClient) -> None:
    log_in(app_of_team, "ann", PASSWORD)
    assert app_of_team.post("/logout", follow_redirects=False).status_code == 303
    assert app_of_team.get("/api/next").status_code == 401


def test_roles_annotators_label_reviewers_review_and_add_classes_also_by_labelling(app_of_team: TestClient) -> None:
    ann = log_in(app_of_team, "ann", PASSWORD)
    rev = log_in(_second_client(app_of_team), "rev", PASSWORD)
    assert ann.get("/api/next", params={"queue": "review"}).status_code == 403
    assert ann.post("/api/classes", json={"name": "Hat"}).status_code == 403
    image_id = ann.get("/api/next", params={"count": 1}).json()["images"][0]["id"]
    assert ann.post("/api/labels", json={"image_id": image_id, "label": "Hat"}).status_code == 403  # a new class
    assert rev.post("/api/classes", json={"name": "Hat"}).json()["classes"].count("Hat") == 1
    assert ann.post("/api/labels", json={"image_id": image_id, "label": "Hat"}).status_code == 200
    labelled_by_rev = rev.get("/api/next", params={"count": 1}).json()["images"][0]["id"]
    assert rev.post("/api/labels", json={"image_id": labelled_by_rev, "label": "Scarf"}).status_code == 200
    third = ann.get("/api/next", params={"count": 1}).json()["images"][0]["id"]
    assert ann.post("/api/labels", json={"image_id": third, "label": "Scarf"}).status_code == 200  # rev's new class
    assert ann.get("/api/agreement").status_code == 403
    other = rev.get("/api/next", params={"count": 1}).json()["images"][0]["id"]
    assert rev.post("/api/labels", json={"image_id": other, "label": "Bag"}).status_code == 200
    assert ann.post("/api/undo", json={"image_id": other}).status_code == 403  # rev's label
    assert rev.post("/api/undo", json={"image_id": image_id}).status_code == 200  # a reviewer may
    review = rev.get("/api/next", params={"queue": "review", "count": 5})
    assert review.status_code == 200


def test_two_annotators_never_get_the_same_image_and_both_labels_are_kept(app_of_team: TestClient, team: Path) -> None:
    ann = log_in(app_of_team, "ann", PASSWORD)
    bob = log_in(_second_client(app_of_team), "bob", PASSWORD)
    for queue in ("hybrid", "random", "uncertainty"):
        mine = {i["id"] for i in ann.get("/api/next", params={"count": 10, "queue": queue}).json()["images"]}
        theirs = {i["id"] for i in bob.get("/api/next", params={"count": 10, "queue": queue}).json()["images"]}
        assert len(mine) == 10 and len(theirs) == 10 and not mine & theirs, queue
    # a second opinion: bob labels what ann labelled, without seeing her label
    shared = sorted(mine)[:4]
    for image_id in shared:
        ann.post("/api/labels", json={"image_id": image_id, "label": "Bag"})
    assert len(bob.get("/api/next", params={"count": 2, "queue": "second"}).json()["images"]) == 2  # of more
    second = bob.get("/api/next", params={"count": 10, "queue": "second"}).json()["images"]
    assert {i["id"] for i in second} >= set(shared) and all(i["label"] is None for i in second)
    for n, image_id in enumerate(shared):
        bob.post("/api/labels", json={"image_id": image_id, "label": "Bag" if n < 3 else "Sandal"})
    with Project.open(team) as project:
        authors = {e.author for i in shared for e in project.label_history(i)}
    assert authors == {"ann", "bob"}
    rev = log_in(_second_client(app_of_team), "rev", PASSWORD)
    report = rev.get("/api/agreement").json()
    assert report["images"] == 4 and report["unanimous"] == 3 and report["disputed"] == [shared[3]]
    (pair,) = report["pairs"]
    assert (pair["first"], pair["second"], pair["images"], pair["agreed"]) == ("ann", "bob", 4, 3)
    printed = tetsuban("agreement", team).stdout
    assert "4 images labelled by two or more people; all agree on 3" in printed
    assert "ann and bob: 3/4 alike (75%)" in printed


def test_two_reviewers_never_get_the_same_label_to_review(team: Path) -> None:
    with Project.open(team) as project:
        project.accounts.add("rex", PASSWORD, "reviewer")
        labels = project.labelled()
        wrong = [i for i, label in labels.items() if label == "Trouser"][:3]
        project.set_labels([(i, "Bag") for i in wrong], "human", "careless")  # label issues to review
    with TestClient(create_app(team, retrain_every=50), base_url=LOCAL) as app:
        rev = log_in(app, "rev", PASSWORD)
        rex = log_in(_second_client(app), "rex", PASSWORD)
        mine = [i["id"] for i in rev.get("/api/next", params={"count": 2, "queue": "review"}).json()["images"]]
        theirs = [i["id"] for i in rex.get("/api/next", params={"count": 2, "queue": "review"}).json()["images"]]
        again = [i["id"] for i in rev.get("/api/next", params={"count": 2, "queue": "review"}).json()["images"]]
    assert len(mine) == len(theirs) == 2 and not set(mine) & set(theirs)
    assert again == mine  # hers, held for her


def test_restarting_the_app_keeps_sessions_and_labels(app_of_team: TestClient, team: Path) -> None:
    ann = log_in(app_of_team, "ann", PASSWORD)
    image_id = ann.get("/api/next", params={"count": 1}).json()["images"][0]["id"]
    assert ann.post("/api/labels", json={"image_id": image_id, "label": "Bag"}).status_code == 200
    cookie = ann.cookies["tetsuban_session"]
    with TestClient(create_app(team, retrain_every=50), base_url=LOCAL) as again:
        again.cookies.set("tetsuban_session", cookie)
        shown = {i["id"] for i in again.get("/api/next", params={"count": 50}).json()["images"]}
        assert image_id not in shown


def test_another_address_needs_users_first(served: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "lonely"
    shutil.copytree(served, copy)
    result = tetsuban("serve", copy, "--host", "0.0.0.0", check=False)
    assert result.returncode == 1 and "users add" in result.stderr and "Traceback" not in result.stderr


def test_users_add_list_remove_from_the_command_line(served: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "cli"
    shutil.copytree(served, copy)
    runner = CliRunner()
    added = runner.invoke(
        cli, ["users", "add", str(copy), "kim", "--role", "admin", "--password-stdin"], input=PASSWORD
    )
    assert added.exit_code == 0, added.output
    short = tetsuban("users", "add", copy, "lee", "--password-stdin", check=False, stdin="short\n")
    assert short.returncode == 1 and "8 to 1024" in short.stderr
    listed = runner.invoke(cli, ["users", "list", str(copy)])
    assert [line.split() for line in listed.output.splitlines()] == [["kim", "admin"]]
    assert runner.invoke(cli, ["users", "remove", str(copy), "kim"]).exit_code == 0
    with Project.open(copy) as project:
        assert project.accounts.users() == []
