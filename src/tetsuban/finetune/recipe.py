"""The fine-tuning recipe: fixed, sound settings, with batch size and epochs chosen from the data size.

There is no hyperparameter hunt. Two stages, as the field does it: the new head alone with the pretrained body
frozen, then the whole network with discriminative learning rates (the earliest layers move least) under a
one-cycle schedule. AdamW, label smoothing and class-balanced loss weights throughout; early stopping on the
validation images. Batch-norm statistics stay as pretrained: with small batches on small data, re-estimating them
costs more than it gives.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from tetsuban.params import check_int

PASSES = 3000  # image passes the whole-network stage aims at: enough for small sets, bounded on a CPU
MIN_EPOCHS, MAX_EPOCHS = 3, 20


@dataclass(frozen=True)
class Recipe:
    """Every setting of a fine-tuning run. ``body_lrs`` are the peak rates of the body's parameter groups, from
    the input side to the output side; the head's peak rate is ``head_lr`` in the second stage."""

    batch_size: int
    head_epochs: int
    body_epochs: int
    head_stage_lr: float = 3e-3
    head_lr: float = 1e-3
    body_lrs: tuple[float, ...] = (1e-5, 5e-5, 2.5e-4)
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    warmup_share: float = 0.3
    patience: int = 3

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "body_lrs": list(self.body_lrs)}


def recipe_for(train_images: int, epochs: int | None = None) -> Recipe:
    """The recipe for ``train_images`` labelled training images; ``epochs`` caps the whole-network stage.

    Batch size grows with the data (8, 16 or 32); the whole-network stage gets about 3,000 image passes, from 3 to
    20 epochs; the head stage 2 epochs (1 when ``epochs`` is 1).
    """
    check_int("train_images", train_images, 1, 10**9)
    batch = 32 if train_images >= 320 else 16 if train_images >= 64 else 8
    body = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(PASSES / train_images)))
    recipe = Recipe(batch_size=batch, head_epochs=2, body_epochs=body)
    if epochs is None:
        return recipe
    check_int("epochs", epochs, 1, 1000)
    return replace(recipe, head_epochs=min(2, epochs), body_epochs=epochs)
