"""`tetsuban serve` in its own process, as a user starts it: for the browser tests and the app's benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(
    project: Path, log: Path, retrain_every: int = 10, timeout: float = 120.0
) -> tuple[subprocess.Popen[bytes], str]:
    """The server process and its address, once it answers; its output goes to ``log`` (a file, not a pipe: a
    full pipe would stall the server)."""
    port = free_port()
    command = ["serve", str(project), "--port", str(port), "--retrain-every", str(retrain_every)]
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
