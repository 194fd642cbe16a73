"""Helpers for the app's tests: the CSRF token a page carries, and clients with it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

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
