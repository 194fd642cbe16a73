"""`tetsuban serve` in its own process, as a user starts it, and what the browser tests wait for on its pages: for
the browser tests and the app's benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(
    project: Path, log: Path, retrain_every: int = 10, timeout: float = 120.0, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    """The server process and its address, once it answers; its output goes to ``log`` (a file, not a pipe: a
    full pipe would stall the server)."""
    port = free_port()
    command = ["serve", str(project), "--port", str(port), "--retrain-every", str(retrain_every)]
    command += ["--workers", str(workers)]
    with log.open("ab") as output:
        process = subprocess.Popen([sys.executable, "-m", "tetsuban", *command], stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/login", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise AssertionError(f"the server did not start: {log.read_text(errors='replace')[-3000:]}")


def until(condition: Callable[[], object], timeout: float = 60.0, every: float = 0.05) -> float:
    """Seconds until ``condition`` held, polled every ``every`` seconds; fails after ``timeout``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "never happened"
        time.sleep(every)
    return time.monotonic() - start


def wait_until(page: Page, expression: str, arg: object = None, timeout: float = 30.0) -> object:
    """Poll ``expression`` (a JavaScript function of ``arg``) until it is truthy; its value.

    Playwright's own wait_for_function evaluates a string with eval() inside the page, which the app's
    Content-Security-Policy rightly forbids; page.evaluate goes through the debugging protocol, which it does not.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.02)


def wait_for_label_count(page: Page, count: int) -> None:
    expect(page.locator("#status")).to_contain_text(f"{count} labelled")


def captions(page: Page) -> dict[str, str]:
    page.wait_for_selector("#grid .tile")
    tiles = page.locator("#grid .tile")
    return {tiles.nth(i).get_attribute("data-id") or "": tiles.nth(i).inner_text() for i in range(tiles.count())}


def dialog_message(page: Page, accept: bool, action: Callable[[], None]) -> str:
    """Run ``action``, answering the confirm dialog it opens; the dialog's message."""
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept() if accept else dialog.dismiss()))
    action()
    deadline = time.monotonic() + 10
    while not asked and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert asked, "no dialog asked"
    return asked[0]


def panel_stats(url: str) -> dict[str, Any]:
    """The panel's figures once the curve for the labels as they are is drawn (the app draws it in the background)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stats: dict[str, Any] = httpx.get(url + "/api/stats").json()
        if not stats["curve_pending"]:
            return stats
        time.sleep(0.2)
    raise AssertionError("the panel's curve was never drawn")
