"""The store's tests run on both databases a project may keep its tables in: the SQLite file in its folder, and a
PostgreSQL database on a real server (tests/postgres.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tetsuban import Project


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    """ "" (the SQLite file) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return ""
    url: str = request.getfixturevalue("postgres_server").new_database()
    return url


@pytest.fixture()
def project(tmp_path: Path, database: str) -> Iterator[Project]:
    with Project.init(tmp_path / "project", database=database) as opened:
        yield opened
