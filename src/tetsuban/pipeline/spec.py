"""A pipeline: ``preprocess`` steps (always, at training and at prediction) and ``augment`` steps (training only).

An image goes through the pixel steps of ``preprocess``, then (training only) the ``augment`` steps, then the
tensor steps of ``preprocess`` (normalize, whiten), which must come last. A pipeline is a frozen value: it
serializes to a dict and back exactly, and its preprocess part has a hash that names the embeddings it makes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import Any

import numpy as np

from tetsuban.errors import ConfigError
from tetsuban.pipeline.transforms import (
    TRANSFORMS,
    BrightnessContrast,
    CenterCrop,
    HFlip,
    Normalize,
    Params,
    RandomResizedCrop,
    Resize,
    Transform,
    Whiten,
)

Trace = list[tuple[str, Params]]


@dataclass(frozen=True)
class Pipeline:
    """Ordered transforms in two parts; see the module docstring."""

    preprocess: tuple[Transform, ...]
    augment: tuple[Transform, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "preprocess", tuple(self.preprocess))
        object.__setattr__(self, "augment", tuple(self.augment))
        stages = [t.stage for t in self.preprocess]
        if "tensor" in stages and "pixels" in stages[stages.index("tensor") :]:
            raise ConfigError("In [pipeline] preprocess, normalize and whiten must come after every pixel step.")
        for step in self.augment:
            if step.stage != "pixels":
                raise ConfigError(f"The '{step.name}' step belongs in preprocess, not augment: it changes no pixels.")

    # -- running ------------------------------------------------------------------------------------------------

    def __call__(
        self, img: np.ndarray, rng: np.random.Generator | None = None, label: str | None = None, train: bool = False
    ) -> np.ndarray:
        """The float32 (H, W, 3) array the model sees (uint8 when the pipeline has no tensor step)."""
        return self.trace(img, rng, label, train)[0]

    def trace(
        self, img: np.ndarray, rng: np.random.Generator | None = None, label: str | None = None, train: bool = False
    ) -> tuple[np.ndarray, Trace]:
        """Run the pipeline and also return each step's name and parameters, in order."""
        pixels, trace = self.pixels(img, rng, label, train)
        fixed = _fixed_if_none(rng)
        for step in self.tensor_steps:
            params = step.sample(fixed, pixels, label)
            pixels = step.apply(pixels, params)
            trace.append((step.name, params))
        return pixels, trace

    def finish(self, pixels: np.ndarray) -> np.ndarray:
        """Run the tensor steps (normalize, whiten) on the uint8 output of :meth:`pixels`."""
        fixed = _fixed_if_none(None)
        for step in self.tensor_steps:
            pixels = step.apply(pixels, step.sample(fixed, pixels, None))
        return pixels

    @cached_property
    def tensor_key(self) -> bytes:
        """Names the tensor steps with their settings: equal pixels and equal keys give equal model inputs."""
        steps = [{"step": t.name, **t.settings()} for t in self.tensor_steps]
        return json.dumps(steps, sort_keys=True, separators=(",", ":")).encode()

    def pixels(
        self, img: np.ndarray, rng: np.random.Generator | None = None, label: str | None = None, train: bool = False
    ) -> tuple[np.ndarray, Trace]:
        """The uint8 image before the tensor steps (what a person can look at), with the trace so far."""
        if train and rng is None:
            raise ConfigError("Training-time augmentation needs a numpy Generator (rng) for its random choices.")
        steps = self._training_steps if train else self.pixel_steps
        generator = _fixed_if_none(rng)
        trace: Trace = []
        for step in steps:
            params = step.sample(generator, img, label)
            img = step.apply(img, params)
            trace.append((step.name, params))
        return img, trace

    @property
    def decode_side(self) -> int | None:
        """The shorter side a decoder must keep for this pipeline: a leading resize's size, else None (full size)."""
        first = self.pixel_steps[0] if self.pixel_steps else None
        return first.size if isinstance(first, Resize) else None

    def graph_refusals(self) -> list[str]:
        """Why each preprocess step that cannot run as ONNX operators cannot, one sentence a step; empty when the
        whole preprocessing can go inside an exported graph (tetsuban.deploy)."""
        return [f"the '{step.name}' step: {step.no_graph_form}" for step in self.preprocess if step.no_graph_form]

    @cached_property
    def pixel_steps(self) -> tuple[Transform, ...]:
        return tuple(t for t in self.preprocess if t.stage == "pixels")

    @cached_property
    def tensor_steps(self) -> tuple[Transform, ...]:
        return tuple(t for t in self.preprocess if t.stage == "tensor")

    @cached_property
    def _training_steps(self) -> tuple[Transform, ...]:
        return self.pixel_steps + self.augment

    # -- fitting ------------------------------------------------------------------------------------------------

    @property
    def needs_fit(self) -> bool:
        """Whether a step (whitening) still has to be fitted on the project's images."""
        return any(isinstance(t, Whiten) and not t.is_fitted for t in self.preprocess)

    def fit(self, images: Iterable[np.ndarray], seed: int = 0, pixels_per_image: int = 4096) -> Pipeline:
        """A copy with every fitted step fitted on ``images`` (decoded RGB uint8), each seeing what reaches it."""
        sample = list(images)
        if not sample:
            raise ConfigError("Fitting the pipeline needs images, and the project has none. Import images first.")
        steps = list(self.preprocess)
        for index, step in enumerate(steps):
            if isinstance(step, Whiten):
                head = Pipeline(tuple(steps[:index]))
                rng = np.random.default_rng(seed)
                values = [_some_pixels(head(img), rng, pixels_per_image) for img in sample]
                steps[index] = step.fit(np.concatenate(values))
        return replace(self, preprocess=tuple(steps))

    # -- serialization ------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """``{"preprocess": [{"step": name, **settings}, ...], "augment": [...]}``; JSON- and TOML-ready."""
        return {
            "preprocess": [{"step": t.name, **t.settings()} for t in self.preprocess],
            "augment": [{"step": t.name, **t.settings()} for t in self.augment],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pipeline:
        """Build a pipeline from ``to_dict``'s form (or tetsuban.toml's [pipeline] table)."""
        unknown = set(data) - {"preprocess", "augment"}
        if unknown:
            listed = ", ".join(sorted(unknown))
            raise ConfigError(f"Unknown key(s) in [pipeline]: {listed}. Known: preprocess, augment.")
        return cls(
            tuple(_build(entry, "preprocess") for entry in data.get("preprocess", [])),
            tuple(_build(entry, "augment") for entry in data.get("augment", [])),
        )

    def preprocess_hash(self) -> str:
        """sha256 of the preprocess part, fitted state included: equal hashes give equal model inputs."""
        canonical = json.dumps(self.to_dict()["preprocess"], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def default_pipeline() -> Pipeline:
    """The default for the default backbone (224 px, mean = std = 0.5): mild, safe augmentation. The random crop
    keeps at least 70% of the image: fine-tuning on crops down to 35% lost what tells small centred objects apart
    (fashion-mnist's garments: bench/finetune_partial.py, +0.016 over the probe at 70% against +0.001)."""
    return Pipeline(
        preprocess=(Resize(256), CenterCrop(224), Normalize()),
        augment=(RandomResizedCrop(224, 0.7), HFlip(0.5), BrightnessContrast(0.2, 0.2)),
    )


def _build(entry: object, part: str) -> Transform:
    if not isinstance(entry, dict) or "step" not in entry:
        raise ConfigError(f"Each [pipeline] {part} entry must be a table with a 'step' name. Got {entry!r}.")
    settings = dict(entry)
    name = settings.pop("step")
    kind = TRANSFORMS.get(name)
    if kind is None:
        raise ConfigError(f"Unknown pipeline step {name!r} in {part}. Known: {', '.join(sorted(TRANSFORMS))}.")
    known = {f.name for f in fields(kind)}
    extra = sorted(set(settings) - known)
    if extra:
        listed = ", ".join(sorted(known)) or "(none)"
        raise ConfigError(f"Unknown setting(s) {', '.join(extra)} for step '{name}'. Known: {listed}.")
    return kind(**{k: _tupled(v) for k, v in settings.items()})


def _tupled(value: object) -> object:
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value


def _fixed_if_none(rng: np.random.Generator | None) -> np.random.Generator:
    """Without training there is nothing random: the deterministic steps get a fixed generator they ignore."""
    return rng if rng is not None else np.random.default_rng(0)


def _some_pixels(img: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    flat = img.reshape(-1, img.shape[-1])
    if len(flat) <= count:
        return flat
    return flat[rng.choice(len(flat), size=count, replace=False)]
