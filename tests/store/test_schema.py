"""The store: WAL mode, versioned schema, migration of an older project, refusal of a newer one. The SQLite file's
own (WAL, migrations of files older tetsubans wrote) run on SQLite; the refusal of a newer schema on both."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tetsuban import Project, SchemaError
from tetsuban.store.db import DB_NAME
from tetsuban.store.schema import SCHEMA_VERSION, leases, meta

# The schema as tetsuban wrote it at version 1, frozen here so that the migration is tested against the real thing.
V1_DDL = """
CREATE TABLE meta (key VARCHAR(64) NOT NULL PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE import_runs (id INTEGER NOT NULL PRIMARY KEY, source TEXT NOT NULL, kind VARCHAR(16) NOT NULL,
    options TEXT NOT NULL, author VARCHAR(128) NOT NULL, started_at FLOAT NOT NULL, finished_at FLOAT,
    status VARCHAR(16) NOT NULL);
CREATE TABLE images (id INTEGER NOT NULL PRIMARY KEY, sha256 VARCHAR(64) NOT NULL UNIQUE, location TEXT NOT NULL,
    stored BOOLEAN NOT NULL, origin TEXT NOT NULL, bytes BIGINT NOT NULL, mtime_ns BIGINT, width INTEGER NOT NULL,
    height INTEGER NOT NULL, format VARCHAR(16) NOT NULL, mode VARCHAR(16) NOT NULL, orientation SMALLINT NOT NULL,
    frames INTEGER NOT NULL, added_at FLOAT NOT NULL, import_run_id INTEGER REFERENCES import_runs (id));
CREATE TABLE classes (id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL UNIQUE, added_at FLOAT NOT NULL);
CREATE TABLE labels (id INTEGER NOT NULL PRIMARY KEY, image_id INTEGER NOT NULL REFERENCES images (id),
    class_id INTEGER REFERENCES classes (id), source VARCHAR(16) NOT NULL, author VARCHAR(128) NOT NULL,
    created_at FLOAT NOT NULL);
CREATE TABLE import_outcomes (id INTEGER NOT NULL PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES import_runs (id),
    item TEXT NOT NULL, outcome VARCHAR(16) NOT NULL, reason TEXT, image_id INTEGER REFERENCES images (id),
    label TEXT);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO import_runs VALUES (1, '/old/photos', 'folder', '{}', 'ada', 1.0, 2.0, 'finished');
INSERT INTO images VALUES (1, 'ab', '/old/photos/cat/1.png', 0, '/old/photos/cat/1.png', 10, 5, 4, 3, 'PNG',
    'RGB', 1, 1, 1.0, 1);
INSERT INTO classes VALUES (1, 'cat', 1.0);
INSERT INTO labels VALUES (1, 1, 1, 'import', 'ada', 1.5);
"""


def _make_v1_project(root: Path) -> None:
    root.mkdir()
    (root / "tetsuban.toml").write_text('[project]\nname = "old"\n', encoding="utf-8")
    with sqlite3.connect(root / DB_NAME) as conn:
        conn.executescript(V1_DDL)


def _schema_version(root: Path) -> int:
    with sqlite3.connect(root / DB_NAME) as conn:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


@pytest.fixture()
def sqlite_project(tmp_path: Path) -> Iterator[Project]:
    with Project.init(tmp_path / "project") as opened:
        yield opened


def test_new_project_is_current_and_in_wal_mode(sqlite_project: Project) -> None:
    project = sqlite_project
    assert _schema_version(project.root) == SCHEMA_VERSION
    with sqlite3.connect(project.root / DB_NAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_opening_a_version_1_project_migrates_it_and_keeps_its_data(tmp_path: Path) -> None:
    root = tmp_path / "old"
    _make_v1_project(root)
    with Project.open(root) as opened:
        assert _schema_version(root) == SCHEMA_VERSION
        history = opened.label_history()
        assert [(e.label, e.source, e.author, e.seconds_on_screen) for e in history] == [("cat", "import", "ada", None)]
        opened.set_labels([(1, "dog")], author="bo", seconds_on_screen=2.5)
        assert [(e.label, e.seconds_on_screen) for e in opened.label_history(1)] == [
            ("cat", None),
            ("dog", 2.5),
        ]
        assert opened.images()[0].location == "/old/photos/cat/1.png"


def test_a_project_from_a_newer_tetsuban_is_refused(project: Project) -> None:
    with project.workspace.engine.begin() as conn:
        conn.execute(sa.update(meta).where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION + 1)))
    with pytest.raises(SchemaError, match="newer tetsuban"):
        Project.open(project.root)


def test_a_version_6_survey_table_gains_its_fingerprint_column(sqlite_project: Project) -> None:
    project = sqlite_project
    with sqlite3.connect(project.root / DB_NAME) as conn:
        conn.execute("ALTER TABLE survey DROP COLUMN fingerprint")  # the table as version 6 made it
        conn.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    Project.open(project.root).close()
    with sqlite3.connect(project.root / DB_NAME) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(survey)")}
    assert "fingerprint" in columns and _schema_version(project.root) == SCHEMA_VERSION


def test_the_latest_migration_runs_on_either_database(project: Project) -> None:
    """A store of version 11 (before leases were kept in it), on SQLite or PostgreSQL, gains the leases table when
    opened, and keeps its data: the same migration code serves both."""
    project.add_class("cat")
    root, engine = project.root, project.workspace.engine
    with engine.begin() as conn:
        leases.drop(conn)
        conn.execute(sa.update(meta).where(meta.c.key == "schema_version").values(value="11"))
    assert not sa.inspect(engine).has_table("leases")
    with Project.open(root) as opened:
        with opened.workspace.engine.connect() as conn:
            assert sa.inspect(conn).has_table("leases")
            assert conn.scalar(sa.select(meta.c.value).where(meta.c.key == "schema_version")) == str(SCHEMA_VERSION)
        assert opened.classes() == ["cat"]
