"""The training data: augmentation drawn per (seed, draw, image), preprocessing as prediction's."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_fashion_images
from tetsuban.finetune.data import PLAIN, AugmentedImages, DrawSampler, Example, epoch_order
from tetsuban.pipeline.inputs import model_input
from tetsuban.pipeline.spec import Pipeline, default_pipeline


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> list[Example]:
    folder = write_fashion_images(fashion_dir, tmp_path_factory.mktemp("data"), 6)
    return [Example(path, n, path.parent.name) for n, path in enumerate(sorted(folder.rglob("*.png")))]


def test_an_images_augmentation_is_fixed_by_its_draw(examples: list[Example]) -> None:
    dataset = AugmentedImages(examples, default_pipeline().to_dict(), seed=3)
    first, target = dataset[(0, 2)]
    assert first.shape == (3, 224, 224) and first.dtype == np.float32 and target == 2
    assert np.array_equal(first, dataset[(0, 2)][0])
    assert not np.array_equal(first, dataset[(1, 2)][0])
    assert not np.array_equal(first, AugmentedImages(examples, default_pipeline().to_dict(), seed=4)[(0, 2)][0])


def test_a_worker_copy_draws_the_same_images(examples: list[Example]) -> None:
    dataset = AugmentedImages(examples, default_pipeline().to_dict(), seed=0)
    before = dataset[(1, 4)][0]  # builds the pipeline, which the copy must not carry
    copy = pickle.loads(pickle.dumps(dataset))
    assert copy._pipeline is None
    assert np.array_equal(before, copy[(1, 4)][0])


def test_without_augmentation_training_sees_what_prediction_sees(examples: list[Example]) -> None:
    plain = Pipeline(default_pipeline().preprocess)
    dataset = AugmentedImages(examples, plain.to_dict(), seed=0)
    for index, example in enumerate(examples):
        expected = model_input(example.path, plain).transpose(2, 0, 1)
        assert np.array_equal(dataset[(5, index)][0], expected)


def test_the_plain_draw_is_what_prediction_sees_even_with_augmentation(examples: list[Example]) -> None:
    dataset = AugmentedImages(examples, default_pipeline().to_dict(), seed=0)
    for index, example in enumerate(examples):
        expected = model_input(example.path, default_pipeline()).transpose(2, 0, 1)
        assert np.array_equal(dataset[(PLAIN, index)][0], expected)
        assert not np.array_equal(dataset[(0, index)][0], expected)


def test_every_epoch_visits_every_image_once_in_its_own_order() -> None:
    orders = [epoch_order(0, epoch, 50) for epoch in range(3)]
    assert all(sorted(order) == list(range(50)) for order in orders)
    assert orders[0] != orders[1] != orders[2] and orders[0] == epoch_order(0, 0, 50) != epoch_order(1, 0, 50)


def test_a_draw_sampler_yields_its_draws_images_in_order() -> None:
    sampler = DrawSampler()
    sampler.start(2, range(10, 15))
    assert list(sampler) == [(2, n) for n in range(10, 15)] and len(sampler) == 5
