from __future__ import annotations

from pathlib import Path

import torch

from tetsuban.finetune.checkpoint import Progress, load_checkpoint, run_key, save_checkpoint


def test_the_best_epoch_is_kept_and_stalls_are_counted() -> None:
    progress = Progress(stage="body")
    scores = [(0.5, -1.0), (0.7, -0.9), (0.7, -0.95), (0.6, -0.8), (0.7, -0.8)]
    for epoch, score in enumerate(scores, start=1):
        progress.record({"stage": "body", "epoch": epoch}, score, lambda e=epoch: {"epoch": torch.tensor(e)})
    assert progress.best_epoch == 5 and progress.best_score == (0.7, -0.8) and progress.bad_epochs == 0
    assert progress.best_state is not None and int(progress.best_state["epoch"]) == 5
    progress.record({"stage": "body", "epoch": 6}, (0.1, -3.0), dict)
    assert progress.bad_epochs == 1 and progress.best_epoch == 5 and progress.epochs_done == 6


def test_without_validation_nothing_is_chosen() -> None:
    progress = Progress()
    progress.record({"stage": "head", "epoch": 1}, None, dict)
    assert progress.best_state is None and progress.best_epoch == 0 and progress.epochs_done == 1


def test_a_checkpoint_comes_back_only_for_its_own_run(tmp_path: Path) -> None:
    path = tmp_path / "run.pt"
    progress = Progress(stage="body", epochs_done=2, best_score=(0.8, -0.4), best_epoch=3, history=[{"epoch": 1}])
    model = {"w": torch.arange(6.0).reshape(2, 3)}
    save_checkpoint(path, "abc", progress, model, {"state": {}, "param_groups": []}, {"last_epoch": 7})
    back = load_checkpoint(path, "abc")
    assert back is not None and back.progress == progress and torch.equal(back.model["w"], model["w"])
    assert back.schedule == {"last_epoch": 7}
    assert load_checkpoint(path, "another run") is None
    assert list(tmp_path.iterdir()) == [path]  # no partial file left behind


def test_a_damaged_checkpoint_means_starting_again(tmp_path: Path) -> None:
    path = tmp_path / "run.pt"
    save_checkpoint(path, "abc", Progress(), {"w": torch.zeros(1000)}, {}, {})
    path.write_bytes(path.read_bytes()[:500])
    assert load_checkpoint(path, "abc") is None
    assert load_checkpoint(tmp_path / "none.pt", "abc") is None


def test_the_run_key_changes_with_what_shapes_the_run() -> None:
    settings = {"data": "d1", "val": "v1", "recipe": {"batch_size": 8}, "seed": 0}
    assert run_key(settings) == run_key(dict(reversed(settings.items())))
    for name, other in (("data", "d2"), ("val", None), ("recipe", {"batch_size": 16}), ("seed", 1)):
        assert run_key({**settings, name: other}) != run_key(settings)
