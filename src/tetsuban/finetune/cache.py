"""The frozen lower part's outputs, computed once per image and augmentation draw and kept on disk for the run.

Each draw is one ``.npy`` file of bfloat16 values (stored as int16: numpy has no bfloat16) in channels-last order,
written under a temporary name and renamed when complete, then read back memory-mapped: a run over many images does
not need them in memory, and a killed run that starts again reuses every draw it finished. The folder is named by the
run's key and removed when the model is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tetsuban.finetune.data import PLAIN, AugmentedImages, DrawSampler, draw_loader

CACHE_BATCH = 32
PassFn = Callable[[int, int, int, int], None]  # (pass, passes, batch, batches), from 1


@dataclass(frozen=True)
class LowerOutputs:
    """The lower part's outputs (N, C, H, W) in bfloat16: ``draws`` augmented copies of the training images, and
    the training and validation images as prediction sees them (``val`` has no rows without validation images)."""

    draws: list[torch.Tensor]
    train: torch.Tensor
    val: torch.Tensor


@dataclass(frozen=True)
class LowerRun:
    """How to compute the outputs: the lower part (the torch module, or on a CPU its ONNX Runtime graph,
    :mod:`tetsuban.finetune.lower_graph`), the device, whether under bfloat16 autocast, loader workers."""

    lower: Callable[[torch.Tensor], torch.Tensor]
    device: torch.device
    bfloat16: bool
    workers: int


def lower_outputs(
    folder: Path, run: LowerRun, images: AugmentedImages, train_count: int, draws: int, on_pass: PassFn | None = None
) -> LowerOutputs:
    """The outputs for ``images`` (its first ``train_count`` are the training images, the rest validation ones),
    from ``folder`` where a previous attempt finished them, else computed and written there."""
    sampler = DrawSampler()
    loader = draw_loader(images, sampler, CACHE_BATCH, run.workers, run.device.type == "cuda")
    everything = range(len(images))
    jobs = [(f"draw-{n}", n, range(train_count)) for n in range(draws)] + [("plain", PLAIN, everything)]
    found = []
    for number, (name, draw_number, indices) in enumerate(jobs, start=1):
        path = folder / f"{name}.npy"
        array = _finished(path, len(indices))
        if array is None:
            sampler.start(draw_number, indices)
            report = None if on_pass is None else _pass_reporter(on_pass, number, len(jobs))
            array = _compute(path, run, loader, len(indices), report)
        found.append(_as_tensor(array))
    plain = found[-1]
    return LowerOutputs(found[:-1], plain[:train_count], plain[train_count:])


def _pass_reporter(on_pass: PassFn, number: int, passes: int) -> Callable[[int, int], None]:
    return lambda batch, batches: on_pass(number, passes, batch, batches)


def _finished(path: Path, rows: int) -> np.ndarray | None:
    """The draw written at ``path`` by an earlier attempt, or None when there is none or it does not fit."""
    if not path.is_file():
        return None
    try:
        array = np.load(path, mmap_mode="c")
    except (OSError, ValueError):
        return None
    return array if array.dtype == np.int16 and array.ndim == 4 and len(array) == rows else None


def _compute(
    path: Path, run: LowerRun, loader: torch.utils.data.DataLoader, rows: int, report: Callable[[int, int], None] | None
) -> np.ndarray:
    """Run the lower part over one draw's batches into ``path`` (complete, or not there at all)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    out: np.memmap | None = None
    row = 0
    batches = len(loader)
    try:
        for batch, (images, _) in enumerate(loader, start=1):
            outputs = _run_lower(run, images)
            if out is None:
                out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.int16, shape=(rows, *outputs.shape[1:]))
            out[row : row + len(outputs)] = outputs
            row += len(outputs)
            if report is not None:
                report(batch, batches)
        assert out is not None and row == rows
        out.flush()
        del out
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return np.load(path, mmap_mode="c")


@torch.inference_mode()
def _run_lower(run: LowerRun, images: torch.Tensor) -> np.ndarray:
    """One batch through the lower part: bfloat16 bits (as int16), channels last, (B, H, W, C)."""
    x = images.to(run.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
    with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=run.bfloat16):
        y = run.lower(x)
    return y.to(torch.bfloat16).permute(0, 2, 3, 1).contiguous().view(torch.int16).cpu().numpy()


def _as_tensor(array: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) int16 bits -> a (N, C, H, W) channels-last bfloat16 tensor over the same memory."""
    return torch.from_numpy(array).view(torch.bfloat16).permute(0, 3, 1, 2)
