"""Run the command line as a user does: a real process, its output and its exit code."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import typer.main


def tetsuban(
    *args: str | Path,
    check: bool = True,
    stdin: str | None = None,
    memory: int | None = None,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``tetsuban ARGS``; with ``memory``, in an address space of at most that many bytes (as ``ulimit -v``
    does: its worker processes inherit the limit), and with ``timeout``, killed after that many seconds; ``env``:
    more environment variables (the rest of this process's environment is not passed on)."""
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
            **(env or {}),
        },
        preexec_fn=None if memory is None else partial(_limit_memory, memory),
        timeout=timeout,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _limit_memory(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def command_tree() -> dict[str, Any]:
    """Every command the Typer app has (Typer's own click commands), by the words that call it: ``"train"``, and
    ``"labels export"`` for a group's sub-command (the group itself is there too, as ``"labels"``)."""
    from tetsuban.cli import app

    found: dict[str, Any] = {}
    for name, command in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        found[name] = command
        found.update({f"{name} {sub}": inner for sub, inner in getattr(command, "commands", {}).items()})
    return found


def is_group(command: Any) -> bool:
    """Whether ``command`` (from :func:`command_tree`) only gathers sub-commands."""
    return bool(getattr(command, "commands", None))
