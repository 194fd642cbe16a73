"""Checkpoints of a fine-tuning run, one per run key, so that a killed run resumes where its last epoch ended.

A checkpoint is written after every epoch to a temporary file and renamed into place; it holds tensors, numbers and
strings only and is read back with ``weights_only=True`` (nothing is unpickled).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECKPOINT_FORMAT = 1


@dataclass
class Progress:
    """Where a run stands: the stage, the epochs it has finished in it, the best validation result so far (its
    score and the network's state then), the epochs since it last improved, and the probe's classifier (weight and
    bias) that the run started from."""

    stage: str = "head"
    epochs_done: int = 0
    best_score: tuple[float, float] | None = None  # (balanced accuracy, -loss) on the validation images
    best_epoch: int = 0
    best_state: dict[str, Any] | None = None
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    probe_head: dict[str, Any] | None = None

    def record(
        self, entry: dict[str, Any], score: tuple[float, float] | None, state: Callable[[], dict[str, Any]]
    ) -> None:
        """Add a finished epoch (``entry``) and its validation ``score`` (None without validation images); keep
        ``state()`` when the score is the best so far (higher balanced accuracy, then lower loss)."""
        self.history.append(entry)
        self.epochs_done = int(entry["epoch"])
        if score is None:
            return
        if self.best_score is None or score > self.best_score:
            self.best_score, self.best_epoch, self.best_state, self.bad_epochs = score, len(self.history), state(), 0
        else:
            self.bad_epochs += 1


def run_key(settings: dict[str, Any]) -> str:
    """Names a run by everything that shapes it (data hashes, backbone, pipeline, recipe, seed)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:20]


def save_checkpoint(
    path: Path, key: str, progress: Progress, model: dict[str, Any], optimizer: dict[str, Any], schedule: dict[str, Any]
) -> None:
    """Write the run's state atomically: the old checkpoint stays whole until the new one is complete."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": CHECKPOINT_FORMAT,
        "key": key,
        "progress": {name: getattr(progress, name) for name in Progress.__dataclass_fields__},
        "model": model,
        "optimizer": optimizer,
        "schedule": schedule,
    }
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".part", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        torch.save(state, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@dataclass(frozen=True)
class Checkpoint:
    progress: Progress
    model: dict[str, Any]
    optimizer: dict[str, Any]
    schedule: dict[str, Any]


def load_checkpoint(path: Path, key: str) -> Checkpoint | None:
    """The checkpoint of run ``key`` at ``path``, or None when there is none, it is another run's, or it is damaged
    (a run then starts afresh)."""
    import torch

    if not path.is_file():
        return None
    try:
        with warnings.catch_warnings():  # torch's notes on its unpickler are not the user's business here
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # any damage means: start again, the data is all still there
        return None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT or state.get("key") != key:
        return None
    saved = state["progress"]
    if saved.get("best_score") is not None:
        saved["best_score"] = tuple(saved["best_score"])
    return Checkpoint(Progress(**saved), state["model"], state["optimizer"], state["schedule"])
