"""Where tetsuban keeps what it can make again (exported ONNX backbones, fetched datasets): one folder per user."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$TETSUBAN_CACHE``, else ``$XDG_CACHE_HOME/tetsuban``, else ``~/.cache/tetsuban``; made when missing."""
    explicit = os.environ.get("TETSUBAN_CACHE")
    if explicit:
        path = Path(explicit).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "tetsuban"
    path.mkdir(parents=True, exist_ok=True)
    return path
