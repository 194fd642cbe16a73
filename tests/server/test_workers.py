"""`tetsuban serve --workers 2` on a PostgreSQL project, as a team runs it: two annotators in two browsers share
one loop across two worker processes, and a worker killed with SIGKILL loses nothing and is replaced."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import embedded_project
from tests.postgres import PostgresServer
from tests.run_cli import tetsuban
from tests.server.conftest import csrf_of
from tests.serving import free_port, start_serve, until, wait_until
from tetsuban import Project

pytestmark = pytest.mark.slow

RETRAIN_EVERY = 10
PASSWORD = "a long password"


def _workers(server: subprocess.Popen[bytes]) -> set[int]:
    """The worker processes of ``server``: its children that multiprocessing spawned (not its resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue
        if parent == server.pid and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


@pytest.fixture()
def served(
    tmp_path: Path, fashion_dir: Path, postgres_server: PostgresServer
) -> Iterator[tuple[Path, str, subprocess.Popen[bytes]]]:
    """A PostgreSQL project of 40 labelled and 120 unlabelled images served by two workers, with its annotators
    ann and bob."""
    project_dir = embedded_project(fashion_dir, tmp_path, 40, 120, 0.1, 0.1, postgres_server.new_database())
    with Project.open(project_dir) as project:
        project.accounts.add("ann", PASSWORD, "annotator")
        project.accounts.add("bob", PASSWORD, "annotator")
    process, url = start_serve(project_dir, tmp_path / "serve.log", RETRAIN_EVERY, workers=2)
    try:
        until(lambda: len(_workers(process)) == 2)
        yield project_dir, url, process
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl+C: the supervisor stops its workers
        process.wait(timeout=60)


def _log_in(browser: Browser, url: str, name: str) -> Page:
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(url)
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button")
    wait_until(page, "() => document.getElementById('image')?.dataset.id")
    return page


def _label_shown(page: Page, key: str) -> int:
    shown = page.locator("#image").get_attribute("data-id") or ""
    page.keyboard.press(key)
    expect(page.locator("#image")).not_to_have_attribute("data-id", shown)
    return int(shown)


def test_two_annotators_in_browsers_share_one_loop_across_two_workers(
    served: tuple[Path, str, subprocess.Popen[bytes]], browser: Browser
) -> None:
    project_dir, url, _ = served
    with Project.open(project_dir) as project:
        retrains = len(project.retrains())
    ann, bob = _log_in(browser, url, "ann"), _log_in(browser, url, "bob")
    given: dict[str, list[int]] = {"ann": [], "bob": []}
    for _ in range(15):
        given["ann"].append(_label_shown(ann, "1"))
        given["bob"].append(_label_shown(bob, "2"))
    assert not set(given["ann"]) & set(given["bob"])  # no image went to both
    assert len(set(given["ann"])) == len(set(given["bob"])) == 15
    with Project.open(project_dir) as project:
        classes = project.classes()
        expected = {name: {i: classes[key] for i in given[name]} for name, key in (("ann", 0), ("bob", 1))}
        until(lambda: _labels_by_author(project) == expected)  # the last ones may still be on their way
        # 30 labels, a retrain due every 10 from either annotator (labels given during one count toward the next)
        until(lambda: len(project.retrains()) >= retrains + 2)
        generations = [r.generation for r in project.retrains()]
    assert len(generations) == len(set(generations))  # one process retrains: no generation twice
    for page in (ann, bob):  # each page's next requests see the latest retrain, whichever worker answers them
        wait_until(page, "async (g) => (await (await fetch('/api/stats')).json()).generation >= g", generations[-1])


def _labels_by_author(project: Project) -> dict[str, dict[int, str | None]]:
    found: dict[str, dict[int, str | None]] = {}
    for event in project.label_history():
        if event.source == "human":
            found.setdefault(event.author, {})[event.image_id] = event.label
    return found


def _open_client(url: str) -> tuple[str, dict[str, str]]:
    """The CSRF header of the open app's page (one per project, whichever worker serves it)."""
    page = httpx.get(url + "/")
    assert page.status_code == 200, page.text[:300]
    return url, {"X-CSRF-Token": csrf_of(page.text)}


def test_a_worker_killed_with_sigkill_loses_nothing_and_is_replaced(
    tmp_path: Path, fashion_dir: Path, postgres_server: PostgresServer
) -> None:
    project_dir = embedded_project(fashion_dir, tmp_path, 40, 120, 0.1, 0.1, postgres_server.new_database())
    process, url = start_serve(project_dir, tmp_path / "serve.log", RETRAIN_EVERY, workers=2)
    try:
        until(lambda: len(_workers(process)) == 2)
        _, headers = _open_client(url)
        given: list[int] = []

        def label(count: int) -> None:
            for _ in range(count):  # a new connection each time: the kernel hands them to either worker
                (item,) = httpx.get(url + "/api/next", params={"count": 1}, timeout=60).json()["images"]
                body = {"image_id": item["id"], "label": "Bag"}
                answer = httpx.post(url + "/api/labels", json=body, headers=headers, timeout=60)
                assert answer.status_code == 200, answer.text
                given.append(item["id"])

        label(RETRAIN_EVERY)
        for victim in sorted(_workers(process)):  # both, one after the other: the retraining one dies too
            os.kill(victim, signal.SIGKILL)
            until(lambda v=victim: v not in _workers(process) and len(_workers(process)) == 2)
            until(lambda: httpx.get(url + "/login", timeout=60).status_code == 200)  # slow while one starts
            label(RETRAIN_EVERY // 2)
        with Project.open(project_dir) as project:
            generation = project.retrains()[-1].generation
        label(RETRAIN_EVERY)  # a retrain is due again: the worker that took over the lock runs it
        with Project.open(project_dir) as project:
            until(lambda: project.retrains()[-1].generation > generation)
            stored = {e.image_id for e in project.label_history() if e.label == "Bag" and e.source == "human"}
            generations = [r.generation for r in project.retrains()]
        assert len(given) == len(set(given)) == 3 * RETRAIN_EVERY and set(given) <= stored  # nothing lost
        assert len(generations) == len(set(generations))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    assert process.returncode == 0, (tmp_path / "serve.log").read_text(errors="replace")[-3000:]


def test_several_workers_need_a_postgresql_project(tmp_path: Path, fashion_dir: Path) -> None:
    project_dir = embedded_project(fashion_dir, tmp_path, 10, 10, 0.1, 0.1)
    result = tetsuban("serve", project_dir, "--workers", "2", "--port", str(free_port()), check=False, timeout=120)
    assert result.returncode == 1
    assert "PostgreSQL" in result.stderr and "one worker" in result.stderr and "Traceback" not in result.stderr
