"""A fine-tuning run killed mid-way resumes from its last finished epoch when the same command runs again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import write_fashion_images
from tests.processes import descendants, still_running
from tests.run_cli import tetsuban
from tetsuban import Project


def _checkpoint_at(folder: Path) -> tuple[str, int] | None:
    for path in folder.glob("*.pt"):
        try:
            progress = torch.load(path, weights_only=True)["progress"]
        except Exception:  # mid-rename on a slow disk: look again
            return None
        return progress["stage"], progress["epochs_done"]
    return None


def _tuned_an_epoch(checkpoint: tuple[str, int] | None) -> bool:
    """Whether the run has finished a fine-tuning epoch (whichever: the kill's moment is read from the checkpoint it
    leaves, not from this poll)."""
    return checkpoint is not None and checkpoint[0] == "tune" and checkpoint[1] >= 1


@pytest.mark.slow
def test_a_killed_run_resumes_where_it_stopped(tmp_path: Path, fashion_dir: Path) -> None:
    with Project.init(tmp_path / "project") as project:
        project.import_folder(write_fashion_images(fashion_dir, tmp_path / "fashion", 40, start=100))
        project.split(test=0.25, val=0.25)
    command = [sys.executable, "-m", "tetsuban", "train", str(tmp_path / "project"), "--finetune", "--epochs", "6"]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    killed = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = tmp_path / "project" / ".cache" / "finetune"
    while not _tuned_an_epoch(_checkpoint_at(checkpoints)):
        assert killed.poll() is None, "the run ended before it could be killed"
        time.sleep(0.2)
    workers = descendants(killed.pid)  # the fork server and the data loader's workers
    assert workers
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert still_running(workers, within=15) == []  # none outlives the run
    progress = torch.load(next(checkpoints.glob("*.pt")), weights_only=True)["progress"]  # as the kill left it
    done, before = progress["epochs_done"], progress["history"]
    assert progress["stage"] == "tune" and 1 <= done < 6, progress  # an epoch takes a second, the polls 0.2 s
    assert not list((tmp_path / "project" / "models").glob("*/card.json"))  # killed before any model was written
    draws = sorted(path.name for path in checkpoints.glob("*/*.npy"))  # the lower blocks' outputs, kept for the resume
    assert draws == [f"draw-{n}.npy" for n in range(6)] + ["plain.npy"]

    resumed = tetsuban("train", tmp_path / "project", "--finetune", "--epochs", "6")
    assert f"Resuming from the checkpoint: epoch {done + 1}." in resumed.stderr
    (card_path,) = (tmp_path / "project" / "models").glob("*/card.json")
    history = json.loads(card_path.read_text())["head"]["history"]
    epochs = [(e["stage"], e["epoch"]) for e in history if e["stage"] != "mix"]
    assert epochs == [("probe", 0)] + [("tune", n) for n in range(1, 7)]
    assert history[: len(before)] == before  # the epochs done before the kill are kept, not run again
    assert not list(checkpoints.iterdir())  # checkpoint and cached outputs go once the model is written
    assert "6 of 6 fine-tuning epochs" in resumed.stdout


def test_finetune_options_are_refused_without_finetune(tmp_path: Path) -> None:
    with Project.init(tmp_path / "project"):
        pass
    result = tetsuban("train", tmp_path / "project", "--epochs", "3", check=False)
    assert result.returncode == 1 and "--epochs, --minutes and --device are for --finetune" in result.stderr
    result = tetsuban("train", tmp_path / "project", "--finetune", "--head", "svm", check=False)
    assert result.returncode == 1 and "--finetune trains its own linear classifier" in result.stderr
