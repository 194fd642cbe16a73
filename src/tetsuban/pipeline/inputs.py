"""What a model sees: one function that decodes and preprocesses an image the same way at training and prediction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tetsuban.errors import ConfigError
from tetsuban.imaging.decode import decode
from tetsuban.pipeline.spec import Pipeline


def model_input(source: Path | bytes, pipeline: Pipeline) -> np.ndarray:
    """The float32 (S, S, 3) array a model gets for ``source``: decoded (reduced where the pipeline allows) and
    run through the preprocess part of ``pipeline``. Raises an ImageError for a file that cannot be decoded."""
    return pipeline(decode(source, min_side=pipeline.decode_side))


def check_model_input(pipeline: Pipeline, size: int) -> None:
    """Refuse a pipeline whose preprocess part does not make float32 (size, size, 3) arrays for every image shape."""
    for shape in ((size * 3 // 2, size, 3), (size, size * 5 // 3, 3), (17, 23, 3)):
        out = pipeline(np.full(shape, 128, np.uint8))
        if out.dtype != np.float32 or out.shape != (size, size, 3):
            raise ConfigError(
                f"The backbone takes {size}x{size} normalized images, but the pipeline's preprocess turns a "
                f"{shape[1]}x{shape[0]} image into {out.dtype} {out.shape[1]}x{out.shape[0]}. "
                f"End [pipeline] preprocess with a crop to {size} and normalize, for example: "
                f"resize {size * 8 // 7}, center_crop {size}, normalize."
            )


def to_batch(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Stack (S, S, 3) arrays into the (N, 3, S, S) float32 batch an ONNX graph takes."""
    return np.ascontiguousarray(np.stack(arrays).transpose(0, 3, 1, 2), dtype=np.float32)
