"""Attack 14 (a killed process): after kill -9, an import leaves no worker process behind, and its run is shown as
interrupted, not running for ever. (The same for fine-tuning: tests/finetune/test_resume.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.processes import descendants, still_running
from tests.run_cli import tetsuban
from tetsuban import Project


def test_a_killed_import_leaves_no_worker_and_is_shown_interrupted(tmp_path: Path, emoji_dir: Path) -> None:
    tetsuban("init", tmp_path / "p")
    command = [sys.executable, "-m", "tetsuban", "import", str(tmp_path / "p"), str(emoji_dir)]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    killed = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while len(workers) < 3:  # the fork server and its two workers, at least
        assert killed.poll() is None and time.monotonic() < deadline, "the import ended before it could be killed"
        workers = descendants(killed.pid)
        time.sleep(0.05)
    with Project.open(tmp_path / "p") as project:
        assert project.status().runs[0].status == "running"  # alive, and seen to be
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert still_running(workers, within=15) == []
    with Project.open(tmp_path / "p") as project:
        assert project.status().runs[0].status == "interrupted"
    assert "interrupted" in tetsuban("status", tmp_path / "p").stdout
