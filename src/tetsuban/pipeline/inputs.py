"""What a model sees: one function that decodes and preprocesses an image the same way at training and prediction."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tetsuban.errors import ConfigError
from tetsuban.imaging.decode import decode
from tetsuban.pipeline.spec import Pipeline
from tetsuban.pipeline.transforms import Normalize


def model_input(source: Path | bytes, pipeline: Pipeline) -> np.ndarray:
    """The float32 (S, S, 3) array a model gets for ``source``: decoded (reduced where the pipeline allows) and
    run through the preprocess part of ``pipeline``. Raises an ImageError for a file that cannot be decoded."""
    return pipeline.finish(model_pixels(source, pipeline))


def model_pixels(source: Path | bytes, pipeline: Pipeline) -> np.ndarray:
    """The uint8 image of :func:`model_input` before its tensor steps."""
    return pipeline.pixels(decode(source, min_side=pipeline.decode_side))[0]


def input_digest(pixels: np.ndarray, pipeline: Pipeline) -> str:
    """Names a model input exactly: the uint8 ``pixels`` and the tensor steps that turn them into floats.

    Equal digests mean equal inputs, so equal embeddings; hashing the uint8 pixels costs a quarter of the floats.
    """
    digest = hashlib.sha256(pipeline.tensor_key)
    digest.update(repr(pixels.shape).encode())
    digest.update(np.ascontiguousarray(pixels).data)
    return digest.hexdigest()[:32]


def check_model_input(
    pipeline: Pipeline,
    size: int,
    mean: tuple[float, float, float] | None = None,
    std: tuple[float, float, float] | None = None,
) -> None:
    """Refuse a pipeline whose preprocess part does not make float32 (size, size, 3) arrays for every image shape,
    or whose normalize step disagrees with the backbone's ``mean`` and ``std`` (when given)."""
    if mean is not None and std is not None:
        _check_normalization(pipeline, mean, std)
    for shape in ((size * 3 // 2, size, 3), (size, size * 5 // 3, 3), (17, 23, 3)):
        out = pipeline(np.full(shape, 128, np.uint8))
        if out.dtype != np.float32 or out.shape != (size, size, 3):
            raise ConfigError(
                f"The backbone takes {size}x{size} normalized images, but the pipeline's preprocess turns a "
                f"{shape[1]}x{shape[0]} image into {out.dtype} {out.shape[1]}x{out.shape[0]}. "
                f"End [pipeline] preprocess with a crop to {size} and normalize, for example: "
                f"resize {size * 8 // 7}, center_crop {size}, normalize."
            )


def _check_normalization(pipeline: Pipeline, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
    for step in pipeline.tensor_steps:
        if isinstance(step, Normalize) and not (
            np.allclose(step.mean, mean, atol=1e-3) and np.allclose(step.std, std, atol=1e-3)
        ):
            raise ConfigError(
                f"The backbone was trained on images normalized with mean {list(mean)} and std {list(std)}, "
                f"but [pipeline] normalize has mean {list(step.mean)} and std {list(step.std)}. "
                f'Set them to the backbone\'s: {{ step = "normalize", mean = {list(mean)}, std = {list(std)} }}.'
            )


def to_batch(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Stack (S, S, 3) arrays into the (N, 3, S, S) float32 batch an ONNX graph takes."""
    h, w, c = arrays[0].shape
    batch = np.empty((len(arrays), c, h, w), np.float32)
    for row, array in enumerate(arrays):
        batch[row] = array.transpose(2, 0, 1)  # one strided copy per image: faster than stack, then transpose
    return batch
