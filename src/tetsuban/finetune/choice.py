"""The end of a run: the fine-tuned network and the probe it started from, both validated in float32 from the files
as prediction will see them on the same val images, and the probe kept only where it validates better by more than
the comparison's noise. Epochs were compared during training on cached bfloat16 outputs; this comparison is the
exact one. The frozen lower part, the same in both, runs once for both (on a CPU in ONNX Runtime, float32)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tetsuban.finetune.data import finished_batch, validation_inputs
from tetsuban.finetune.probe import scored
from tetsuban.learn.validate import Gap, Validation, balanced_accuracy_gap, held_out_validation
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
    """What validating needs: the classes, the val files (None: no validation split), the pipeline, the device and
    the blocks the embedding taps; ``lower``: the frozen lower part below block ``cut`` that every candidate shares
    (on a CPU its ONNX Runtime graph), run once for all of them (None: each network runs whole)."""

    classes: tuple[str, ...]
    val: LabelledFiles | None
    pipeline: Pipeline
    device: torch.device
    taps: tuple[int, ...] = ()
    lower: Callable[[torch.Tensor], torch.Tensor] | None = None
    cut: int = 0


def keep_better(tuned: Candidate | None, probe: Candidate, data: ValData) -> Kept:
    """``tuned`` (None when no epoch ran) unless the probe validates better by more than the noise of the comparison:
    its lead in balanced accuracy on the val images beyond one standard error of the paired difference. Without val:
    ``tuned``, else the probe.

    A lead within the noise goes to the fine-tuned network: it is what the user asked for, and it tested better than
    the probe in all six label draws of bench/results/finetune.md, one of them where the probe led on val by 0.015
    with a standard error of 0.053 (312 val images, a dozen in some classes)."""
    if data.val is None or not data.val.paths:
        kept = tuned or probe
        what = tuned.name() if tuned is not None else "the probe (no fine-tuning epoch ran)"
        return Kept(kept, Validation("none", 0, 0, None, None, {}, NO_VALIDATION), "last", f"{what}: {NO_VALIDATION}")
    labels = list(data.val.labels)
    inputs = _inputs(validation_inputs(data.val.paths, data.pipeline), data)
    probe_probabilities = _probabilities(probe.network, inputs, data)
    if tuned is None:
        probe_val = held_out_validation(data.classes, probe_probabilities, labels)
        return Kept(probe, probe_val, "validation", "the probe: no fine-tuning epoch ran within the time budget")
    return compared(
        tuned, probe, (_probabilities(tuned.network, inputs, data), probe_probabilities), data.classes, labels
    )


def compared(
    tuned: Candidate,
    probe: Candidate,
    probabilities: tuple[np.ndarray, np.ndarray],
    classes: Sequence[str],
    labels: Sequence[str],
) -> Kept:
    """The choice between ``tuned`` and ``probe`` given their (tuned, probe) ``probabilities`` on the same val images
    labelled ``labels``: the probe only where :func:`probe_leads`."""
    tuned_val, probe_val = (held_out_validation(classes, p, labels) for p in probabilities)
    gap = balanced_accuracy_gap(classes, probabilities[0], probabilities[1], labels)
    p, t = probe_val.balanced_accuracy or 0.0, tuned_val.balanced_accuracy or 0.0
    if probe_leads(gap):
        said = f"the probe: validation balanced accuracy {p:.3f} against {t:.3f} for {tuned.name()}"
        return Kept(probe, probe_val, "validation", f"{said}, a lead beyond {_noise(gap)}")
    said = f"{tuned.name()}: validation balanced accuracy {t:.3f} against the probe's {p:.3f}"
    if gap.difference < 0:
        said += f" (the probe's lead is within {_noise(gap)})"
    return Kept(tuned, tuned_val, "validation", said)


def _noise(gap: Gap) -> str:
    return f"one standard error of the paired difference ({gap.standard_error:.3f})"


def probe_leads(gap: Gap) -> bool:
    """Whether the probe's lead over the fine-tuned network (``gap``: tuned minus probe) is beyond one standard
    error of the paired difference."""
    return gap.difference < -gap.standard_error


def _inputs(pixels: np.ndarray, data: ValData) -> list[Any]:
    """The val ``pixels`` in batches, as :func:`_probabilities` takes them: the shared lower part's float32 outputs
    where ``data`` has one (the pixels are not kept), else the uint8 pixels themselves, each batch finished when a
    network takes it (a float copy of every val image at once would be 600 KB an image)."""
    import torch

    chunks = [pixels[start : start + VAL_BATCH] for start in range(0, len(pixels), VAL_BATCH)]
    if data.lower is None:
        return chunks
    if isinstance(data.lower, torch.nn.Module):
        data.lower.eval()
    with torch.inference_mode():
        return [data.lower(finished_batch(chunk, data.pipeline).to(data.device)).float() for chunk in chunks]


def _probabilities(network: torch.nn.Module, inputs: list[Any], data: ValData) -> np.ndarray:
    """``network``'s class probabilities for the val ``inputs`` (:func:`_inputs`), in float32 (returned as
    float64)."""
    import torch

    from tetsuban.finetune.network import classifier_of, network_logits
    from tetsuban.finetune.split import split_network

    network.eval()
    upper = None if data.lower is None else split_network(network, data.cut, data.taps)[1]
    rows = []
    with torch.inference_mode():
        for batch in inputs:
            if upper is None:
                logits = network_logits(network, data.taps, finished_batch(batch, data.pipeline).to(data.device))
            else:
                logits = classifier_of(network)(upper(batch.to(data.device)))
            rows.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(rows).astype(np.float64)


def widest_share(probabilities: dict[float, np.ndarray], classes: Sequence[str], labels: Sequence[str]) -> float:
    """The WiSE-FT share to keep, given each share's val ``probabilities`` (1: the fine-tuned weights unmixed): the
    largest share whose balanced accuracy trails the best share's by at most one standard error of the paired
    difference. The best share itself (the higher balanced accuracy, then the lower loss, then the larger share)
    is kept only where it leads every larger share beyond that noise.

    Not simply the best-validating share: on fashion-mnist's three label draws (bench/results/finetune_ends.md)
    500 val images chose 0.5, 0.75 and 0.25, testing 0.880, 0.884 and 0.863, where the unmixed weights tested
    0.884, 0.881 and 0.881; test accuracy rose with the share in every draw but by less than val's noise."""
    if not probabilities:
        raise ValueError("widest_share needs at least one share's probabilities")
    found = {share: scored(classes, p, labels) for share, p in probabilities.items()}
    best = max(found, key=lambda s: (found[s][0].balanced_accuracy or 0.0, -found[s][1], s))
    gaps = {share: balanced_accuracy_gap(classes, p, probabilities[best], labels) for share, p in probabilities.items()}
    return max(share for share, gap in gaps.items() if gap.difference >= -gap.standard_error)  # best's gap is 0


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
