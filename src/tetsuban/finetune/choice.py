"""The end of a run: the fine-tuned network and the probe it started from, both validated in float32 from the files
as prediction will see them, and the better one kept, so that fine-tuning never ships a model that validated worse
than the probe. Epochs were compared during training on cached bfloat16 outputs; this comparison is the exact one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tetsuban.finetune.data import finished_batch, validation_inputs
from tetsuban.finetune.probe import scored
from tetsuban.learn.validate import Validation
from tetsuban.pipeline.spec import Pipeline

if TYPE_CHECKING:
    import torch

    from tetsuban.finetune.run import LabelledFiles

VAL_BATCH = 64
NO_VALIDATION = "no validation split (tetsuban split makes one): the last epoch is kept, not compared with the probe"


@dataclass(frozen=True)
class Candidate:
    """A network that could be shipped: the probe (epoch 0) or a fine-tuned epoch, whose weights may be mixed with
    the probe's (``share``: the fine-tuned weights' share of the mix, 1 unmixed)."""

    network: torch.nn.Module
    stage: str  # "probe" or "tune"
    epoch: int
    share: float = 1.0

    def name(self) -> str:
        """How the card names it: "the probe", "fine-tuned epoch 7", "fine-tuned epoch 7 mixed 0.5 with the probe"."""
        if self.stage != "tune":
            return "the probe"
        mixed = "" if self.share == 1.0 else f" mixed {self.share:g} with the probe (WiSE-FT)"
        return f"fine-tuned epoch {self.epoch}{mixed}"


@dataclass(frozen=True)
class Kept:
    """The network kept, its validation, how it was chosen ("validation", or "last" without validation images) and
    one sentence saying why."""

    candidate: Candidate
    validation: Validation
    chosen_by: str
    because: str


@dataclass(frozen=True)
class ValData:
    """What validating needs: the classes, the val files (None: no validation split), the pipeline, the device."""

    classes: tuple[str, ...]
    val: LabelledFiles | None
    pipeline: Pipeline
    device: torch.device


def keep_better(tuned: Candidate | None, probe: Candidate, data: ValData) -> Kept:
    """The better of ``tuned`` (None when no epoch ran) and ``probe`` by balanced accuracy on val, then by its lower
    log loss (the probe on a full tie: it is the simpler model). Without val: ``tuned``, else the probe."""
    if data.val is None or not data.val.paths:
        kept = tuned or probe
        what = tuned.name() if tuned is not None else "the probe (no fine-tuning epoch ran)"
        return Kept(kept, Validation("none", 0, 0, None, None, {}, NO_VALIDATION), "last", f"{what}: {NO_VALIDATION}")
    pixels = validation_inputs(data.val.paths, data.pipeline)
    probe_val, probe_loss = _validate(probe.network, pixels, data)
    if tuned is None:
        return Kept(probe, probe_val, "validation", "the probe: no fine-tuning epoch ran within the time budget")
    tuned_val, tuned_loss = _validate(tuned.network, pixels, data)
    p, t = probe_val.balanced_accuracy or 0.0, tuned_val.balanced_accuracy or 0.0
    if (t, -tuned_loss) > (p, -probe_loss):
        said = f"{tuned.name()}: validation balanced accuracy {t:.3f} against the probe's {p:.3f}"
        return Kept(tuned, tuned_val, "validation", said + _tie(t, p, tuned_loss, probe_loss))
    said = f"the probe: validation balanced accuracy {p:.3f} against {t:.3f} for {tuned.name()}"
    return Kept(probe, probe_val, "validation", said + _tie(t, p, tuned_loss, probe_loss))


def _tie(tuned: float, probe: float, tuned_loss: float, probe_loss: float) -> str:
    return f" (a tie, decided by log loss: {tuned_loss:.3f} against {probe_loss:.3f})" if tuned == probe else ""


def _validate(network: torch.nn.Module, pixels: np.ndarray, data: ValData) -> tuple[Validation, float]:
    """``network``'s validation and log loss on the val ``pixels``, in float32."""
    import torch

    assert data.val is not None
    network.eval()
    rows = []
    with torch.inference_mode():
        for start in range(0, len(pixels), VAL_BATCH):
            batch = finished_batch(pixels[start : start + VAL_BATCH], data.pipeline).to(data.device)
            rows.append(torch.softmax(network(batch).float(), dim=1).cpu().numpy())
    probabilities = np.concatenate(rows).astype(np.float64)
    return scored(data.classes, probabilities, list(data.val.labels))


def mixed_state(probe: dict[str, Any], tuned: dict[str, Any], share: float) -> dict[str, Any]:
    """WiSE-FT: ``share`` of each fine-tuned floating-point tensor plus the rest of the probe network's; counters
    (integer tensors) as fine-tuned."""
    return {
        k: (1 - share) * probe[k].to(v.device) + share * v if v.is_floating_point() and share != 1.0 else v
        for k, v in tuned.items()
    }


def classifier_state(network: torch.nn.Module) -> dict[str, Any]:
    """A copy of the classifier's weight and bias (the probe, kept in the checkpoint to rebuild it later)."""
    from tetsuban.finetune.network import classifier_of

    return {k: v.detach().cpu().clone() for k, v in classifier_of(network).state_dict().items()}
