"""Attacks 12 and 13: a model folder or a weights file made by someone else. A weights file that holds more than
tensors is refused in our words (it is never unpickled, and loading it unsafely is never advised)."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from tests.run_cli import tetsuban


class _Payload:
    """Unpickling this creates the file ``marker``: what a hostile pickle does, harmlessly."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


@pytest.fixture()
def small_project(tmp_path: Path, emoji_dir: Path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    for source in sorted(emoji_dir.glob("1f6*.png"))[:4]:
        shutil.copy2(source, images / source.name)
    tetsuban("init", tmp_path / "p")
    tetsuban("import", tmp_path / "p", images)
    return tmp_path / "p"


@pytest.mark.parametrize("kind", ["code", "module"])
def test_a_pickled_weights_file_is_refused_in_our_words(small_project: Path, tmp_path: Path, kind: str) -> None:
    import torch

    marker = tmp_path / "pwned"
    weights = tmp_path / "evil.pt"
    if kind == "code":
        weights.write_bytes(pickle.dumps({"conv.weight": _Payload(marker)}))
    else:
        torch.save(torch.nn.Linear(2, 2), weights)  # a whole module, not its state dict
    result = tetsuban("embed", small_project, "--weights", weights, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "loads tensors only" in result.stderr and "Traceback" not in result.stderr
    assert "weights_only" not in result.stdout + result.stderr  # never advised to load unsafely
    assert not marker.exists()
