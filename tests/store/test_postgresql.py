"""A project whose tables live in PostgreSQL: made by `tetsuban init --database URL`, opened by its folder like any
other, one project per database, and clear words for a URL that is not PostgreSQL's or a server out of reach."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import write_fashion_images
from tests.postgres import PostgresServer
from tests.run_cli import tetsuban
from tests.serving import free_port
from tetsuban import Project
from tetsuban.errors import ConfigError, SchemaError
from tetsuban.store.db import DB_NAME, postgresql_engine


def test_init_with_a_database_keeps_the_tables_there_and_the_folder_opens_them(
    tmp_path: Path, postgres_server: PostgresServer, fashion_dir: Path
) -> None:
    url = postgres_server.new_database()
    folder = tmp_path / "team"
    printed = tetsuban("init", folder, "--database", url).stdout
    assert f"Created project team in {folder}" in printed
    assert not (folder / DB_NAME).exists()  # nothing in the folder but the configuration
    assert f'url = "{url}"' in (folder / "tetsuban.toml").read_text()
    tetsuban("import", folder, write_fashion_images(fashion_dir, tmp_path / "images", 20))
    with Project.open(folder) as project:
        assert len(project.images()) == 20 and len(project.labelled()) == 20
        assert project.workspace.engine.dialect.name == "postgresql"


def test_a_database_that_holds_a_project_is_not_given_a_second(tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database()
    Project.init(tmp_path / "first", database=url).close()
    with pytest.raises(SchemaError, match="already holds a tetsuban project"):
        Project.init(tmp_path / "second", database=url)
    assert not (tmp_path / "second").exists()  # no half-made project left behind


def test_a_server_out_of_reach_is_said_in_one_line_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://ann:secret-word@127.0.0.1:{free_port()}/labels"
    result = tetsuban("init", tmp_path / "p", "--database", url, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "The database postgresql+psycopg://ann:***@127.0.0.1:" in result.stderr
    assert "cannot be reached" in result.stderr and "secret-word" not in result.stderr + result.stdout
    assert not (tmp_path / "p").exists()  # nothing made


@pytest.mark.parametrize("url", ["mysql://ann@db/labels", "sqlite:///labels.db", "postgresql://ann@db/", "nonsense"])
def test_a_url_that_is_not_a_postgresql_database_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="postgresql\\+psycopg://USER@HOST:PORT/DATABASE"):
        Project.init(tmp_path / "p", database=url)
    assert not (tmp_path / "p").exists()


def test_init_takes_the_database_from_the_environment(tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database()
    env = {**os.environ, "TETSUBAN_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "tetsuban", "init", str(tmp_path / "p")], env=env, check=True, timeout=120)
    with Project.open(tmp_path / "p") as project:
        assert project.config.store.url == url and project.workspace.engine.dialect.name == "postgresql"


def test_a_forked_child_opens_its_own_connections_and_leaves_the_parents_alone(
    postgres_server: PostgresServer,
) -> None:
    """A child forked while the pool holds a connection does not use it (two processes on one server session would
    corrupt it): it gets a session of its own, and the parent's still works afterwards."""
    engine = postgresql_engine(postgres_server.new_database())
    backend = "SELECT pg_backend_pid()"
    with engine.connect() as conn:
        parent_session = conn.execute(sa.text(backend)).scalar_one()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report its session, then leave without running the parent's clean-up
        try:
            with engine.connect() as conn:
                os.write(write, str(conn.execute(sa.text(backend)).scalar_one()).encode())
        finally:
            os._exit(0)
    os.close(write)
    child_session = int(os.read(read, 64) or b"0")
    os.waitpid(child, 0)
    assert child_session not in (0, parent_session)
    with engine.connect() as conn:
        assert conn.execute(sa.text(backend)).scalar_one() == parent_session  # the parent's pooled session lives
    engine.dispose()
