"""An import killed half-way keeps what it committed and completes when run again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import start_as_from_a_terminal
from tetsuban import Project
from tetsuban.store.db import DB_NAME


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _start_import(project: Project, images: Path, labels: Path) -> subprocess.Popen[str]:
    """Run the CLI import and return once it has committed at least 1,000 images."""
    command = [sys.executable, "-m", "tetsuban", "import", str(project.root), str(images), "--labels", str(labels)]
    child = start_as_from_a_terminal(command)
    deadline = time.monotonic() + 60
    while _count(project.root / DB_NAME, "images") < 1000 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.01)
    return child


def test_killed_import_resumes(project: Project, fashion_dir: Path) -> None:
    images, labels = fashion_dir / "t10k-images-idx3-ubyte.gz", fashion_dir / "t10k-labels-idx1-ubyte.gz"
    child = _start_import(project, images, labels)
    os.killpg(child.pid, signal.SIGKILL)  # the CLI and its worker processes, with no chance to clean up
    child.communicate()
    db = project.root / DB_NAME

    kept = _count(db, "images")
    assert 1000 <= kept < 10_000, kept
    assert _count(db, "labels") == kept  # every committed image has its label: batches are atomic
    status = project.status()
    assert status.runs[0].status == "interrupted" and status.runs[0].finished_at is None  # its process is gone

    report = project.import_idx(images, labels)
    assert report.status == "finished"
    assert report.counts["added"] == 10_000 - kept
    assert report.counts["unchanged"] == kept
    assert len(project.images()) == 10_000
    assert len(project.label_history()) == 10_000
    assert sum(project.status().per_class.values()) == 10_000


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(project: Project, fashion_dir: Path) -> None:
    images, labels = fashion_dir / "train-images-idx3-ubyte.gz", fashion_dir / "train-labels-idx1-ubyte.gz"
    child = _start_import(project, images, labels)
    os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's process group
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr[-3000:]
    assert "run the same import again" in stderr and "Traceback" not in stderr
    run = project.status().runs[0]
    assert run.status == "interrupted" and run.finished_at is not None
    assert 1000 <= run.counts["added"] < 60_000
