"""Helpers for the app's tests: the CSRF token a page carries, and clients with it; the browser the page tests
drive (Debian's chromium through Playwright) and where their pictures go."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking")

LOCAL = "http://127.0.0.1"
"""The test client's address: the app answers only to this machine's host names."""

_CSRF = re.compile(r'<meta name="csrf" content="([^"]+)">')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page carries no CSRF token"
    return found.group(1)


def with_csrf(client: TestClient) -> TestClient:
    """``client`` sending the CSRF token of the page it gets at / (as the page's script does)."""
    page = client.get("/")
    assert page.status_code == 200, page.text
    client.headers["X-CSRF-Token"] = csrf_of(page.text)
    return client


def log_in(client: TestClient, name: str, password: str) -> TestClient:
    """Log ``client`` in through the form (its CSRF cookie and field), then take the page's token."""
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    answer = client.post("/login", data={"name": name, "password": password, "csrf": token.group(1)})
    assert answer.status_code == 200 and answer.url.path == "/", answer.text[:300]
    return with_csrf(client)


@pytest.fixture()
def screenshots(tmp_path: Path) -> Path:
    """Where the pages' pictures go: a temp folder, or the folder named by TETSUBAN_SCREENSHOTS (`make screenshots`
    sets it to docs/ to refresh the pictures the docs show)."""
    chosen = os.environ.get("TETSUBAN_SCREENSHOTS")
    return Path(chosen) if chosen else tmp_path


@pytest.fixture()
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        opened = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=list(BROWSER_ARGS),
        )
        yield opened
        opened.close()


@pytest.fixture()
def page(browser: Browser) -> Page:
    return browser.new_page(viewport={"width": 1200, "height": 820}, locale="en-GB")
