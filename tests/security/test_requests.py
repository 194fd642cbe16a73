"""Attacks 5 and 8: a flood of parallel logins, a forged X-Forwarded-For, and a page on another site that reaches
the app through a DNS name rebound to this machine."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.security.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.serving import start_serve
from tetsuban import Project
from tetsuban.server.binding import Binding
from tetsuban.server.security import LOGIN_FAILURES, HashingSlots

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def team_server(hostile: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`tetsuban serve` on a copy of the hostile project with a user: every request needs a login."""
    root = tmp_path_factory.mktemp("team")
    copy = root / "project"
    shutil.copytree(hostile, copy)
    with Project.open(copy) as project:
        project.accounts.add("ann", PASSWORD, "annotator")
    process, url = start_serve(copy, root / "serve.log")
    yield url
    process.terminate()
    process.wait(timeout=30)


def _try_login(url: str, name: str, password: str, forwarded: str | None = None) -> int:
    with httpx.Client(base_url=url, timeout=60) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
        answer = client.post(
            "/login", data={"name": name, "password": password, "csrf": token.group(1)}, headers=headers
        )
        return answer.status_code


@pytest.mark.slow
def test_forty_parallel_wrong_logins_get_at_most_the_limit_checked(team_server: str) -> None:
    """Each is counted as it begins, so no more than LOGIN_FAILURES passwords are ever checked."""
    with ThreadPoolExecutor(40) as pool:
        answers = Counter(pool.map(lambda n: _try_login(team_server, "ann", f"guess {n}"), range(40)))
    assert answers[401] <= LOGIN_FAILURES and answers[401] + answers[429] + answers[503] == 40, answers
    assert _try_login(team_server, "ann", PASSWORD) == 429  # even the right password waits out the window


@pytest.mark.slow
def test_a_forged_forwarded_for_does_not_reset_the_address_limit(team_server: str) -> None:
    """The address seen is the connection's: a different X-Forwarded-For on each try changes nothing."""
    answers = [_try_login(team_server, f"nobody{n}", "wrong password", forwarded=f"10.0.0.{n}") for n in range(8)]
    assert set(answers[LOGIN_FAILURES:]) == {429}, answers


def test_password_checks_run_one_at_a_time_and_a_flood_is_told_to_come_back() -> None:
    slots = HashingSlots(slots=1, wait=0.2)
    running, most, had = 0, 0, []
    lock = threading.Lock()

    def check() -> None:
        nonlocal running, most
        with slots.slot() as got:
            had.append(got)
            if got:
                with lock:
                    running += 1
                    most = max(most, running)
                time.sleep(0.15)
                with lock:
                    running -= 1

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1 and had.count(True) >= 1 and had.count(False) >= 1  # some waited their turn, the rest refused


@pytest.mark.parametrize(
    ("binding", "host", "answers"),
    [
        (Binding(port=8000), "127.0.0.1:8000", True),
        (Binding(port=8000), "localhost:8000", True),
        (Binding(port=8000), "[::1]:8000", True),
        (Binding(port=8000), "attacker.example:8000", False),
        (Binding(port=8000), "127.0.0.1:9000", False),
        (Binding(port=8000), "", False),
        (Binding(port=8000), "127.0.0.1:80x", False),
        (Binding("0.0.0.0", 8000, names=("labels.example.org",)), "labels.example.org:8000", True),
        (Binding("0.0.0.0", 8000, names=("labels.example.org",)), "attacker.example:8000", False),
        (Binding("192.0.2.5", 8000), "192.0.2.5:8000", True),
    ],
)
def test_the_app_answers_only_to_its_own_host_names(binding: Binding, host: str, answers: bool) -> None:
    assert binding.answers_to(host) is answers


@pytest.mark.slow
def test_a_rebound_dns_name_cannot_reach_the_open_app(served: str) -> None:
    """Chromium resolves attacker.test to 127.0.0.1 (as a rebound DNS name would): the app refuses that host, so
    the attacker's page can neither read it nor label through it."""
    port = served.rsplit(":", 1)[1]
    rules = "--host-resolver-rules=MAP attacker.test 127.0.0.1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, rules])
        page = browser.new_page()
        answer = page.goto(f"http://attacker.test:{port}/")
        assert answer is not None and answer.status == 421
        status = page.evaluate(
            """async () => (await fetch('/api/labels', {method: 'POST', headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({image_id: 1, label: 'x'})})).status"""
        )
        assert status == 421
        assert page.goto(served).status == 200  # the same app, by the name it was started for
        browser.close()
