"""What a run leaves in memory and on disk: the resident size of processes sampled while they work (Linux /proc), and
the size of a project's tables in PostgreSQL or SQLite. Used by bench/scale.py for the worked estimate in
docs/scale.md."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

PROC = Path("/proc")
MIB = 1024 * 1024


def command_line(pid: int) -> str:
    """The process's command line (or its title, for processes that set one), '' once it has gone."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def resident_mib(pid: int) -> float:
    """The process's resident set in MiB, 0 once it has gone."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / MIB
    except OSError:
        pass
    return 0.0


class PeakSampler:
    """The largest resident size seen of each process that ``find()`` names, sampled every ``interval`` seconds
    from a thread between ``with`` and its end (processes that come and go are caught while they live)."""

    def __init__(self, find: Callable[[], list[int]], interval: float = 0.5) -> None:
        self._find = find
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peaks: dict[int, float] = {}
        self.names: dict[int, str] = {}

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)

    def sample(self) -> None:
        for pid in self._find():
            line = command_line(pid)
            if line:
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), resident_mib(pid))
                self.names[pid] = line


def ray_actors() -> list[int]:
    """Ray Data's map workers (the actors that run our batches), by the title Ray gives their processes."""
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            line = command_line(int(entry.name))
            if line.startswith("ray::") and "MapWorker" in line:
                found.append(int(entry.name))
    return found


def postgres_table_mib(url: str) -> dict[str, float]:
    """Each table's size with its indexes and TOAST in MiB, and '(database)' for the whole database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
                )
            ).all()
            total = connection.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
    finally:
        engine.dispose()
    sizes = {str(name): int(size) / MIB for name, size in rows}
    sizes["(database)"] = int(total) / MIB
    return sizes


def sqlite_mib(project: Path) -> float:
    """The project's SQLite file with its write-ahead log, in MiB."""
    return sum(path.stat().st_size for path in project.glob("tetsuban.db*") if path.is_file()) / MIB
