"""The fine-tuning recipe: fixed settings chosen by measurement (bench/finetune_partial.py, bench/finetune.py), with
the number of epochs from the data size. There is no hyperparameter hunt.

- The network is cut in two. The lower part (the stem and the first blocks: on a CPU most of a forward pass, and
  what fine-tuning changes least) stays as pretrained and runs once per image and augmentation draw (on a CPU in
  ONNX Runtime, :mod:`tetsuban.finetune.lower_graph`); its outputs are cached. Only the upper part and the
  classifier train, over the cached draws, so an epoch costs a fifth of a whole-network one.
- The classifier starts as the linear probe fitted on the network's own embedding (LP-FT): training starts
  from the probe's accuracy instead of tearing the features apart to fit a random head.
- Batch-norm statistics and parameters stay as pretrained; AdamW with a one-cycle schedule (peak 6e-4 at batch
  32, less in proportion for smaller batches, reached after 30% of the steps), label smoothing and class-balanced
  loss weights; the last epoch is kept (the best validating one where a time budget ends the run early).
- The gradient's norm is clipped to 1 before each step. Its median runs at 7-12 in the first epochs and 1.0-1.6 in
  the last, with single steps at 35-144; clipped, one label draw of each dataset ended 0.005-0.010 higher at the
  last epoch (bench/finetune_partial.py; three draws in bench/finetune.py). It does not remove the dip in
  validation accuracy around the peak rate.
- That epoch's weights are mixed with the probe's (WiSE-FT, Wortsman et al. 2022) at the largest share of the
  fine-tuned weights that validates within the noise of the best share (1: no mix;
  :func:`tetsuban.finetune.choice.widest_share`); then that network and the probe itself are validated again on
  the same images, and the probe is shipped where it leads by more than the comparison's noise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from tetsuban.params import check_int

PASSES = 10_000  # image passes the recipe aims at: 10 epochs of 1,000 images, bounded on a CPU
MIN_EPOCHS, MAX_EPOCHS = 3, 10
MAX_DRAWS = 6  # augmentation draws cached: epochs beyond them see the draws again, in another order
LITE0_CUT = 3  # EfficientNet blocks below this one stay frozen (blocks 2-6 trained bought nothing more for 1.65x)
FULL_BATCH, PEAK_LR = 32, 6e-4  # the peak rate at the full batch; smaller batches scale it down in proportion


@dataclass(frozen=True)
class Recipe:
    """Every setting of a fine-tuning run. ``cut`` is the first trained block (0: the whole network trains)."""

    batch_size: int
    epochs: int
    draws: int
    cut: int = LITE0_CUT
    lr: float = PEAK_LR
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    warmup_share: float = 0.3
    clip_norm: float = 1.0  # the gradient's largest norm per step
    wise_shares: tuple[float, ...] = (0.25, 0.5, 0.75)  # tried besides 1 (the fine-tuned weights unmixed)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "wise_shares": list(self.wise_shares)}


def recipe_for(train_images: int, epochs: int | None = None) -> Recipe:
    """The recipe for ``train_images`` labelled training images; ``epochs`` overrides the number of epochs.

    Batch size grows with the data (8, 16 or 32) and the peak rate with it (linear scaling: 1.5e-4 at 8, 6e-4 at
    32; at 6e-4, 30 fashion-mnist images in batches of 8 drove the training loss from 0.64 to 2.8, above a uniform
    guess's 2.3, where 1.5e-4 kept it near 0.7); about 10,000 image passes, from 3 to 10 epochs; as many cached
    augmentation draws as epochs, at most 6.
    """
    check_int("train_images", train_images, 1, 10**9)
    batch = 32 if train_images >= 320 else 16 if train_images >= 64 else 8
    chosen = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(PASSES / train_images)))
    if epochs is not None:
        check_int("epochs", epochs, 1, 1000)
        chosen = epochs
    return Recipe(batch_size=batch, epochs=chosen, draws=min(chosen, MAX_DRAWS), lr=PEAK_LR * batch / FULL_BATCH)
