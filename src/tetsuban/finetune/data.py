"""Training images for torch: decoded and run through the project's pipeline, augmentation included, in DataLoader
worker processes, for the network's frozen lower part to run on once per augmentation draw.

Each image's random augmentation in draw ``d`` comes from a generator seeded by (seed, d, index), so a draw is the
same whichever worker takes which image, and a resumed run that computes a draw again gets it exactly as it was.
Draw -1 is no augmentation: the image as prediction sees it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tetsuban.imaging.decode import decode
from tetsuban.parallel import exit_with
from tetsuban.pipeline.inputs import model_pixels, to_batch
from tetsuban.pipeline.spec import Pipeline

if TYPE_CHECKING:
    import torch
    from torch.utils.data import DataLoader

PLAIN = -1  # the draw that is no augmentation
_ORDERS = 1_000_003  # the generator stream of epoch orders, apart from every augmentation draw's


@dataclass(frozen=True)
class Example:
    """One labelled training image: its file, its class index and its label (augmentations may read the label)."""

    path: Path
    target: int
    label: str


def draw(seed: int, number: int, index: int) -> np.random.Generator:
    """The generator of one image's augmentation in draw ``number``."""
    return np.random.default_rng([seed, number, index])


def epoch_order(seed: int, epoch: int, count: int) -> list[int]:
    """The order the training images come in, one epoch: a permutation fixed by (seed, epoch)."""
    return [int(i) for i in np.random.default_rng([seed, _ORDERS, epoch]).permutation(count)]


class AugmentedImages:
    """A map-style dataset whose keys are ``(draw, index)``: the image at ``index`` augmented as that draw makes it
    (:data:`PLAIN`: not augmented). Picklable (files, a pipeline dict and a seed), so worker processes build their
    own."""

    def __init__(self, examples: Sequence[Example], pipeline: dict[str, Any], seed: int) -> None:
        self.examples = list(examples)
        self.pipeline_dict = pipeline
        self.seed = seed
        self._pipeline: Pipeline | None = None

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, key: tuple[int, int]) -> tuple[np.ndarray, int]:
        number, index = key
        example = self.examples[index]
        pipeline = self._pipeline or self._load()
        img = decode(example.path, min_side=pipeline.decode_side)
        if number == PLAIN:
            pixels, _ = pipeline.pixels(img)
        else:
            pixels, _ = pipeline.pixels(img, draw(self.seed, number, index), example.label, train=True)
        return to_batch([pipeline.finish(pixels)])[0], example.target

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pipeline": None}

    def _load(self) -> Pipeline:
        self._pipeline = Pipeline.from_dict(self.pipeline_dict)
        return self._pipeline


class DrawSampler:
    """Yields the keys of one draw of :class:`AugmentedImages` over a run of its images, in order; :meth:`start`
    sets which draw and which images."""

    def __init__(self) -> None:
        self.number = PLAIN
        self.indices = range(0)

    def start(self, number: int, indices: range) -> None:
        self.number, self.indices = number, indices

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index in self.indices:
            yield (self.number, index)

    def __len__(self) -> int:
        return len(self.indices)


def draw_loader(
    dataset: AugmentedImages, sampler: DrawSampler, batch_size: int, workers: int, pin: bool
) -> DataLoader[Any]:
    """Batches of (images (B, 3, S, S), targets (B,)) from ``workers`` processes (0: in this one). Workers come from a
    fork server, like every other pool here, and run one thread each."""
    from torch.utils.data import DataLoader

    extra: dict[str, Any] = {}
    if workers > 0:
        extra = {
            "multiprocessing_context": multiprocessing.get_context("forkserver"),
            "worker_init_fn": partial(_worker_init, main=os.getpid()),
            "persistent_workers": True,
            "prefetch_factor": 4,
        }
    return DataLoader(
        dataset,  # type: ignore[arg-type]  # keys are tuples, not ints: torch's typing assumes ints
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=pin,
        **extra,
    )


def validation_inputs(paths: Sequence[Path], pipeline: Pipeline) -> np.ndarray:
    """The validation images as the model sees them at prediction: uint8 (N, S, S, 3), decoded once."""
    return np.stack([model_pixels(path, pipeline) for path in paths])


def finished_batch(pixels: np.ndarray, pipeline: Pipeline) -> torch.Tensor:
    """uint8 (B, S, S, 3) validation pixels -> the float (B, 3, S, S) batch the network takes."""
    import torch

    return torch.from_numpy(to_batch([pipeline.finish(p) for p in pixels]))


def _worker_init(_worker: int, main: int) -> None:
    import cv2
    import torch

    exit_with(main)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
