"""int8 weights and activations for a model's convolutions: ONNX Runtime's static quantization (QDQ, per-channel
weights, signed activations), the activations' ranges calibrated on the project's own training images as the
pipeline preprocesses them.

Only the backbone's convolutions (with the ReLU6 clips after them, which quantization folds into their ranges) are
quantized. The embedding (pooled features and block 5's mean side by side) and the head stay float, as does the
preprocessing in front: on a fashion-mnist probe (200 test images) int8 everywhere kept the float graph's class for
55 images, convolutions alone 155, convolutions with their clips 190 (bench/results/export.md has the accuracy).

The weights keep 7 bits of the 8 (ONNX Runtime's ``reduce_range``). On CPUs without VNNI (AVX2, older AVX-512)
its int8 kernels add pairs of 8-bit products in a 16-bit register, which full 8-bit weights overflow: there, a
smiling emoji the graph's own arithmetic gives 0.99 came out 0.91, emoji's test accuracy fell to 0.737 where the
exact arithmetic gives 0.854, and the exported web page (whose runtime does not saturate) disagreed with a desktop
client of the same file. With 7 bits the sum fits on every CPU, for 0.008-0.009 of accuracy where 8 bits are
computed exactly (bench/results/export.md).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tetsuban.errors import ConfigError, ImageError
from tetsuban.infer import INPUT_NAME
from tetsuban.learn.artifact import Artifact
from tetsuban.params import check_int
from tetsuban.pipeline.inputs import model_input, to_batch

CALIBRATION_IMAGES = 256
WEIGHT_BITS = 7  # see the module; 8 only for benches that compare
QUANTIZED_OPS = ("Conv", "Clip")
_BATCH = 16


def quantized_graph(artifact: Artifact, files: Sequence[Path], weight_bits: int = WEIGHT_BITS) -> Any:
    """The artifact's graph (float input ``images``) with int8 convolutions, calibrated on up to
    CALIBRATION_IMAGES of ``files`` spread evenly over them (an onnx ModelProto); the weights keep ``weight_bits``
    bits (7 or 8)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    check_int("weight_bits", weight_bits, 7, 8)
    chosen = _spread(files, CALIBRATION_IMAGES)
    if not chosen:
        raise ConfigError("int8 needs images to calibrate on, and none was given.")
    with tempfile.TemporaryDirectory(prefix="tetsuban-int8-") as tmp, _quiet():
        out = Path(tmp) / "model-int8.onnx"
        quantize_static(
            str(artifact.model_path),
            str(out),
            _Calibration(artifact, chosen),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTIZED_OPS),
            per_channel=True,
            reduce_range=weight_bits == 7,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        return onnx.load(str(out))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ONNX Runtime's quantizer logs advice on the root logger; it is not the user's business."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _spread(files: Sequence[Path], count: int) -> list[Path]:
    """At most ``count`` of ``files``, evenly spaced: the same choice every time."""
    if len(files) <= count:
        return list(files)
    return [files[int(i)] for i in np.linspace(0, len(files) - 1, count).round()]


class _Calibration:
    """ONNX Runtime's calibration reader: batches of the preprocessed images, then None. Files that cannot be
    decoded are skipped."""

    def __init__(self, artifact: Artifact, files: Sequence[Path]) -> None:
        self._batches: Iterator[np.ndarray] = _batches(artifact, files)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch}


def _batches(artifact: Artifact, files: Sequence[Path]) -> Iterator[np.ndarray]:
    arrays: list[np.ndarray] = []
    for path in files:
        try:
            arrays.append(model_input(path, artifact.pipeline))
        except (ImageError, OSError):
            continue
        if len(arrays) == _BATCH:
            yield to_batch(arrays)
            arrays = []
    if arrays:
        yield to_batch(arrays)
