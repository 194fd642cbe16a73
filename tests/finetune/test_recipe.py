from __future__ import annotations

import pytest

from tetsuban.errors import ConfigError
from tetsuban.finetune.recipe import MAX_DRAWS, MAX_EPOCHS, MIN_EPOCHS, PEAK_LR, recipe_for


@pytest.mark.parametrize(
    ("images", "batch", "epochs"),
    [(20, 8, MAX_EPOCHS), (63, 8, 10), (64, 16, 10), (320, 32, 10), (1000, 32, 10), (2000, 32, 5), (10**5, 32, 3)],
)
def test_batch_size_epochs_and_rate_follow_the_data_size(images: int, batch: int, epochs: int) -> None:
    recipe = recipe_for(images)
    assert (recipe.batch_size, recipe.epochs, recipe.draws) == (batch, epochs, min(epochs, MAX_DRAWS))
    assert recipe.lr == pytest.approx(PEAK_LR * batch / 32)  # linear scaling: a smaller batch, a smaller step
    assert MIN_EPOCHS <= recipe.epochs <= MAX_EPOCHS


def test_epochs_override_the_recipes_and_draws_follow_them() -> None:
    assert (recipe_for(100, epochs=1).epochs, recipe_for(100, epochs=1).draws) == (1, 1)
    assert (recipe_for(100, epochs=20).epochs, recipe_for(100, epochs=20).draws) == (20, MAX_DRAWS)


@pytest.mark.parametrize("epochs", [0, -1, 1001])
def test_a_wrong_epoch_count_is_refused(epochs: int) -> None:
    with pytest.raises(ConfigError, match="'epochs' parameter"):
        recipe_for(100, epochs)


def test_a_device_is_cuda_or_cpu_and_cuda_only_where_there_is_one() -> None:
    import torch

    from tetsuban.finetune.run import chosen_device

    assert chosen_device("cpu") == "cpu"
    assert chosen_device(None) == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="'device' parameter"):
        chosen_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="finds no CUDA GPU"):
            chosen_device("cuda")
