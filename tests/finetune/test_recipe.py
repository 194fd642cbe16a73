from __future__ import annotations

import pytest

from tetsuban.errors import ConfigError
from tetsuban.finetune.recipe import MAX_EPOCHS, MIN_EPOCHS, recipe_for


@pytest.mark.parametrize(
    ("images", "batch", "epochs"),
    [(20, 8, MAX_EPOCHS), (63, 8, 20), (64, 16, 20), (200, 16, 15), (320, 32, 10), (1000, 32, 3), (10**5, 32, 3)],
)
def test_batch_size_and_epochs_follow_the_data_size(images: int, batch: int, epochs: int) -> None:
    recipe = recipe_for(images)
    assert (recipe.batch_size, recipe.body_epochs, recipe.head_epochs) == (batch, epochs, 2)
    assert MIN_EPOCHS <= recipe.body_epochs <= MAX_EPOCHS


def test_the_earliest_layers_move_least() -> None:
    recipe = recipe_for(100)
    rates = [*recipe.body_lrs, recipe.head_lr]
    assert rates == sorted(rates) and rates[0] < rates[-1] / 50


def test_epochs_cap_the_whole_network_stage() -> None:
    assert recipe_for(100, epochs=1).body_epochs == 1 and recipe_for(100, epochs=1).head_epochs == 1
    assert recipe_for(100, epochs=7).body_epochs == 7 and recipe_for(100, epochs=7).head_epochs == 2


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
