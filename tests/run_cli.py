"""Run the command line as a user does: a real process, its output and its exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def tetsuban(*args: str | Path, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "tetsuban", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        env={
            "COLUMNS": "200",
            "PATH": "/usr/bin:/bin",
            "HOME": str(Path.home()),
            "TETSUBAN_CACHE": os.environ.get("TETSUBAN_CACHE", ""),
            "OMP_WAIT_POLICY": "PASSIVE",
        },
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result
