"""A real PostgreSQL server for the tests: Debian's `postgresql` package (`.ci/run` installs it where missing),
`initdb` and `pg_ctl` in a temporary folder, listening on a free port of 127.0.0.1 only, stopped when done.
`initdb` refuses to run as root, so as root (as in CI) the server runs as the `postgres` user."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from tests.serving import free_port

BIN_ROOT = Path("/usr/lib/postgresql")  # Debian's layout: /usr/lib/postgresql/<major>/bin


@dataclass(frozen=True)
class PostgresServer:
    """A running server: its folder, port and the superuser's URL prefix (add a database name)."""

    folder: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database's URL: one per project, as the guide asks."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        admin = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin folder; an AssertionError saying what to install when there is none."""
    found = sorted(BIN_ROOT.glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    assert found, "PostgreSQL is not installed: apt-get install -y postgresql (.ci/run does this)"
    return found[-1].parent


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start_postgres() -> PostgresServer:
    """initdb (trust on loopback only, UTF-8, C locale) and pg_ctl start, waiting until it accepts connections."""
    bindir = postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="tetsuban-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    init = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"]
    subprocess.run(_as_server_user(init), check=True, capture_output=True)
    options = f"-h 127.0.0.1 -p {port} -k {folder} -F -c max_connections=200"  # -F: no fsync, a test server
    start = [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w", "start"]
    subprocess.run(_as_server_user(start), check=True, capture_output=True, timeout=120)
    return PostgresServer(folder, port)


def stop_postgres(server: PostgresServer) -> None:
    stop = [str(postgres_bin() / "pg_ctl"), "-D", str(server.folder / "data"), "-m", "immediate", "stop"]
    subprocess.run(_as_server_user(stop), check=False, capture_output=True, timeout=120)
    shutil.rmtree(server.folder, ignore_errors=True)
