"""Transforms: each is a frozen dataclass of settings that draws its parameters (``sample``) and applies a pure
function from ``ops`` (``apply``). The same Generator state gives the same parameters, so the same output.

A transform's ``stage`` says where it may stand: ``pixels`` steps map uint8 (H, W, 3) to uint8; ``tensor`` steps
(normalize, whiten) map to float32 and come last. The registry ``TRANSFORMS`` maps each step name to its class.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from tetsuban.errors import ConfigError
from tetsuban.params import check_float, check_int
from tetsuban.pipeline import ops
from tetsuban.pipeline.eyes import find_eyes

Params = dict[str, Any]


@dataclass(frozen=True)
class Transform(ABC):
    """Base of every transform. Subclasses set ``name`` and ``stage`` and override ``apply`` (and ``sample``)."""

    name: ClassVar[str] = ""
    stage: ClassVar[str] = "pixels"
    fitted: ClassVar[bool] = False
    # why the step cannot run as ONNX operators inside an exported graph (tetsuban.deploy); empty when it can
    no_graph_form: ClassVar[str] = "it is not a preprocessing step with a graph form"

    def sample(self, rng: np.random.Generator, img: np.ndarray, label: str | None) -> Params:
        """The parameters for ``img``: drawn from ``rng`` by random transforms, read off the image by alignment."""
        return {}

    @abstractmethod
    def apply(self, img: np.ndarray, params: Params) -> np.ndarray:
        """The transformed image, for parameters from ``sample``."""

    def settings(self) -> dict[str, Any]:
        """The constructor arguments, JSON-ready (tuples as lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class Resize(Transform):
    """Resize so that the shorter side is ``size`` pixels."""

    name: ClassVar[str] = "resize"
    no_graph_form: ClassVar[str] = ""
    size: int = 256

    def __post_init__(self) -> None:
        check_int("resize.size", self.size, 8, 4096)

    def apply(self, img: np.ndarray, params: Params) -> np.ndarray:
        return ops.resize_short_side(img, self.size)


@dataclass(frozen=True)
class CenterCrop(Transform):
    """Keep the central ``size`` x ``size`` square."""

    name: ClassVar[str] = "center_crop"
    no_graph_form: ClassVar[str] = ""
    size: int = 224

    def __post_init__(self) -> None:
        check_int("center_crop.size", self.size, 8, 4096)

    def apply(self, img: np.ndarray, params: Params) -> np.ndarray:
        return ops.center_crop(img, self.size)


@dataclass(frozen=True)
class Grey(Transform):
    """Drop colour: luma in all three channels."""

    name: ClassVar[str] = "grey"
    no_graph_form: ClassVar[str] = ""

    def apply(self, img: np.ndarray, params: Params) -> np.ndarray:
        return ops.grey(img)


@dataclass(frozen=True)
class EnhanceEdges(Transform):
    """Sharpen by unsharp masking."""

    name: ClassVar[str] = "enhance_edges"
    no_graph_form: ClassVar[str] = "its graph form is not built yet"
    amount: float = 1.0
    sigma: float = 2.0

    def __post_init__(self) -> None:
        check_float("enhance_edges.amount", self.amount, 0.0, 10.0)
        check_float("enhance_edges.sigma", self.sigma, 0.1, 50.0)

    def apply(self, img: np.ndarray, params: Params) -> np.ndarray:
        return ops.enhance_edges(img, self.amount, self.sigma)


@dataclass(frozen=True)
class Edges(Transform):
    """Replace the image by its edges (gradient magnitude of the luma)."""

    name: ClassVar[str] = "edges"
    no_graph_form: ClassVar[str] = "its graph form is not built yet"

    def apply(self, img: np.ndarray, params: Params) -> np.ndarray:
        return ops.extract_edges(img)


@dataclass(frozen=True)
class AlignEyes(Transform):
    """Turn the image so that the eyes of its largest face lie level; without a face it passes unchanged.

    Its parameters record whether a face was found (``face``), so that callers count the images without one.
    """

    name: ClassVar[str] = "align_eyes"
    no_graph_form: ClassVar[str] = "it finds faces with a detector, which is not a graph of ONNX operators"

    def sample(self, rng: np.random.Generator, img: np.ndarray, label: str | None) -> Params:
        eyes = find_eyes(img)
        if eyes is None:
            return {"face": False}
        return {"face": True, "angle": eyes.angle, "center": eyes.center}

    def apply(self, img: np.ndarray, params: Params) -> np.ndarray:
        return ops.rotate(img, params["angle"], params["center"]) if params["face"] else img


@dataclass(frozen=True)
class HFlip(Transform):
    """Mirror left to right with probability ``p``; never for the classes in ``never`` (digits, text)."""

    name: ClassVar[str] = "hflip"
    p: float = 0.5
    never: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_float("hflip.p", self.p, 0.0, 1.0)
        object.__setattr__(self, "never", tuple(str(c) for c in self.never))

    def sample(self, rng: np.random.Generator, img: np.ndarray, label: str | None) -> Params:
        draw = bool(rng.random() < self.p)
        return {"flip": draw and label not in self.never}

    def apply(self, img: np.ndarray, params: Params) -> np.ndarray:
        return ops.hflip(img) if params["flip"] else img


@dataclass(frozen=True)
class RandomResizedCrop(Transform):
    """Crop a random window of at least ``min_area`` of the image, aspect ratio in ``ratio``, resized to ``size``."""

    name: ClassVar[str] = "random_resized_crop"
    size: int = 224
    min_area: float = 0.7
    ratio: tuple[float, float] = (3 / 4, 4 / 3)

    def __post_init__(self) -> None:
        check_int("random_resized_crop.size", self.size, 8, 4096)
        check_float("random_resized_crop.min_area", self.min_area, 0.01, 1.0)
        low, high = (check_float("random_resized_crop.ratio", r, 0.1, 10.0) for r in self.ratio)
        if low > high:
            raise ConfigError(f"The 'random_resized_crop.ratio' parameter must be [low, high]. Got {self.ratio!r}.")
        object.__setattr__(self, "ratio", (low, high))

    def sample(self, rng: np.random.Generator, img: np.ndarray, label: str | None) -> Params:
        h, w = img.shape[:2]
        low, high = math.log(self.ratio[0]), math.log(self.ratio[1])
        for u in rng.random((10, 4)).tolist():  # one draw per attempt: area, aspect, top, left
            area = h * w * (self.min_area + (1.0 - self.min_area) * u[0])
            aspect = math.exp(low + (high - low) * u[1])
            cw, ch = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if 1 <= cw <= w and 1 <= ch <= h and cw * ch >= self.min_area * h * w:
                top, left = min(int(u[2] * (h - ch + 1)), h - ch), min(int(u[3] * (w - cw + 1)), w - cw)
                return {"top": top, "left": left, "height": ch, "width": cw}
        return {"top": 0, "left": 0, "height": h, "width": w}  # the whole image always qualifies

    def apply(self, img: np.ndarray, params: Params) -> np.ndarray:
        return ops.resized_crop(img, params["top"], params["left"], params["height"], params["width"], self.size)


@dataclass(frozen=True)
class BrightnessContrast(Transform):
    """Random brightness shift in [-brightness, brightness] and contrast change in [-contrast, contrast]."""

    name: ClassVar[str] = "brightness_contrast"
    brightness: float = 0.2
    contrast: float = 0.2

    def __post_init__(self) -> None:
        check_float("brightness_contrast.brightness", self.brightness, 0.0, 1.0)
        check_float("brightness_contrast.contrast", self.contrast, 0.0, 1.0)

    def sample(self, rng: np.random.Generator, img: np.ndarray, label: str | None) -> Params:
        u, v = rng.random(2).tolist()
        return {"brightness": self.brightness * (2 * u - 1), "contrast": self.contrast * (2 * v - 1)}

    def apply(self, img: np.ndarray, params: Params) -> np.ndarray:
        return ops.brightness_contrast(img, params["brightness"], params["contrast"])


@dataclass(frozen=True)
class Normalize(Transform):
    """Scale to [0, 1], subtract ``mean`` and divide by ``std`` per channel (the backbone's convention)."""

    name: ClassVar[str] = "normalize"
    stage: ClassVar[str] = "tensor"
    no_graph_form: ClassVar[str] = ""
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _triple("normalize.mean", self.mean, -10.0, 10.0))
        object.__setattr__(self, "std", _triple("normalize.std", self.std, 1e-6, 100.0))

    def apply(self, img: np.ndarray, params: Params) -> np.ndarray:
        return ops.normalize(img, self.mean, self.std)


@dataclass(frozen=True)
class Whiten(Transform):
    """Channel ZCA whitening fitted on the project's images: decorrelated channels of unit variance.

    Unfitted (``matrix`` empty) it cannot run; ``Pipeline.fit`` fills ``mean`` and ``matrix``.
    """

    name: ClassVar[str] = "whiten"
    stage: ClassVar[str] = "tensor"
    no_graph_form: ClassVar[str] = ""
    fitted: ClassVar[bool] = True
    eps: float = 1e-4
    mean: tuple[float, ...] = ()
    matrix: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self) -> None:
        check_float("whiten.eps", self.eps, 0.0, 1.0)
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "matrix", tuple(tuple(float(v) for v in row) for row in self.matrix))

    @property
    def is_fitted(self) -> bool:
        return len(self.matrix) == 3

    def fit(self, pixels: np.ndarray) -> Whiten:
        """A copy fitted on ``pixels`` (N, 3), as they reach this step (uint8 values are scaled to [0, 1])."""
        scaled = pixels.astype(np.float64) / 255.0 if pixels.dtype == np.uint8 else pixels
        mean, matrix = ops.fit_whitening(scaled, self.eps)
        return Whiten(self.eps, tuple(mean.tolist()), tuple(tuple(row) for row in matrix.tolist()))

    def apply(self, img: np.ndarray, params: Params) -> np.ndarray:
        if not self.is_fitted:
            raise ConfigError("The 'whiten' step is not fitted yet: fit the pipeline on the project's images first.")
        return ops.whiten(img, self.mean, self.matrix)


TRANSFORMS: dict[str, type[Transform]] = {
    t.name: t
    for t in (
        Resize,
        CenterCrop,
        Grey,
        EnhanceEdges,
        Edges,
        AlignEyes,
        HFlip,
        RandomResizedCrop,
        BrightnessContrast,
        Normalize,
        Whiten,
    )
}


def _triple(name: str, value: object, low: float, high: float) -> tuple[float, float, float]:
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise ConfigError(f"The '{name}' parameter must be three numbers, one per channel. Got {value!r}.")
    a, b, c = (check_float(name, v, low, high) for v in value)
    return (a, b, c)


def _jsonable(value: object) -> object:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value
