"""The lower part's outputs: one file per augmentation draw, exact to bfloat16, reused by a run that starts again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import write_fashion_images
from tetsuban.finetune.cache import LowerRun, lower_outputs
from tetsuban.finetune.data import PLAIN, AugmentedImages, Example
from tetsuban.pipeline.spec import default_pipeline


class _Counting(torch.nn.Module):
    """A lower part that halves the image to 4 channels and counts the images it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen += len(x)
        return torch.nn.functional.avg_pool2d(torch.cat([x, x[:, :1]], dim=1), 8)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> AugmentedImages:
    folder = write_fashion_images(fashion_dir, tmp_path_factory.mktemp("cache"), 7)
    examples = [Example(path, n % 3, path.parent.name) for n, path in enumerate(sorted(folder.rglob("*.png")))]
    return AugmentedImages(examples, default_pipeline().to_dict(), seed=1)


def test_each_draw_is_the_lower_parts_output_of_that_draws_images(tmp_path: Path, images: AugmentedImages) -> None:
    lower = _Counting()
    found = lower_outputs(tmp_path, LowerRun(lower, torch.device("cpu"), False, 0), images, 5, draws=2)
    assert len(found.draws) == 2 and found.draws[0].shape == (5, 4, 28, 28) and found.draws[0].dtype == torch.bfloat16
    assert found.train.shape[0] == 5 and found.val.shape[0] == len(images) - 5
    expected = lower(torch.from_numpy(np.stack([images[(1, 3)][0]])))[0].to(torch.bfloat16)
    assert torch.equal(found.draws[1][3], expected)
    assert torch.equal(found.val[0], lower(torch.from_numpy(images[(PLAIN, 5)][0][None]))[0].to(torch.bfloat16))
    assert not torch.equal(found.draws[0], found.draws[1])


def test_a_run_that_starts_again_reuses_every_finished_draw(tmp_path: Path, images: AugmentedImages) -> None:
    first = _Counting()
    before = lower_outputs(tmp_path, LowerRun(first, torch.device("cpu"), False, 0), images, 5, draws=2)
    assert first.seen == 2 * 5 + len(images)
    (tmp_path / "draw-1.npy").unlink()  # as if killed while computing draw 1
    again = _Counting()
    after = lower_outputs(tmp_path, LowerRun(again, torch.device("cpu"), False, 0), images, 5, draws=2)
    assert again.seen == 5  # draw 1 only
    assert torch.equal(after.draws[1], before.draws[1]) and torch.equal(after.train, before.train)
    assert not list(tmp_path.glob("*.part"))
