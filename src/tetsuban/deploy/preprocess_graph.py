"""A model's preprocessing as ONNX operators: uint8 RGB images (N, H, W, 3) of any size in, the float32 (N, 3, S, S)
batch the model's graph takes out, computed as :mod:`tetsuban.pipeline.ops` computes it.

Each pixel step ends as ops do, in uint8: the graph rounds (half to even, as numpy's rint) and clips to [0, 255]
after every step that makes new values. Sizes are computed in float64 as Python computes them, so that the same
image gets the same crop, and resizing is OpenCV's, written as matrices (:mod:`tetsuban.deploy.resize_graph`).

Steps that are not pure functions of the pixels as graph operators (eye alignment finds faces with a detector;
edges and unsharp masking are not built yet) make :func:`preprocessing_graph` refuse, naming the step and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tetsuban.deploy.graph_parts import DOUBLE, FLOAT, GraphParts
from tetsuban.deploy.resize_graph import resize
from tetsuban.errors import ConfigError
from tetsuban.pipeline.spec import Pipeline
from tetsuban.pipeline.transforms import CenterCrop, Grey, Normalize, Resize, Transform, Whiten

IMAGE_INPUT = "image"  # the standalone graph's input: uint8 (N, H, W, 3), RGB
_LUMA = (0.299, 0.587, 0.114)  # as tetsuban.pipeline.ops.grey


@dataclass
class _Tensor:
    """The tensor between steps: its name, whether it still holds uint8 values (0-255 in float32), and the
    smallest its shorter side can be (None when unknown)."""

    name: str
    pixels: bool = True
    least_side: int | None = None


def preprocessing_graph(pipeline: Pipeline, output: str, parts: GraphParts) -> None:
    """Add to ``parts`` the nodes that turn :data:`IMAGE_INPUT` into ``output`` (float32 N, 3, S, S) as the
    preprocess part of ``pipeline`` does, or raise a ConfigError naming the steps that have no graph form."""
    reasons = pipeline.graph_refusals()
    if reasons:
        raise ConfigError("This model's preprocessing cannot run inside an ONNX graph: " + "; ".join(reasons) + ".")
    tensor = _Tensor(parts.op("Cast", [IMAGE_INPUT], "as_float", to=FLOAT))
    for step in pipeline.preprocess:
        tensor = _step(step, tensor, parts)
    channels_first = parts.op("Transpose", [tensor.name], "channels_first", perm=[0, 3, 1, 2])
    parts.nodes.append(_identity(channels_first, output))


def _step(step: Transform, tensor: _Tensor, parts: GraphParts) -> _Tensor:
    if isinstance(step, Resize):
        return _resize_short_side(tensor, step.size, parts, only_up=False)
    if isinstance(step, CenterCrop):
        return _center_crop(tensor, step.size, parts)
    if isinstance(step, Grey):
        return _grey(tensor, parts)
    if isinstance(step, Normalize):
        return _normalize(tensor, step, parts)
    if isinstance(step, Whiten):
        return _whiten(tensor, step, parts)
    raise ConfigError(f"The '{step.name}' step has no graph form.")  # graph_refusals names it before


def _height_width(tensor: _Tensor, parts: GraphParts) -> str:
    """int64 (2,): the tensor's height and width."""
    shape = parts.op("Shape", [tensor.name], "shape")
    return parts.op("Slice", [shape, parts.ints(1), parts.ints(3)], "height_width")


def _resize_short_side(tensor: _Tensor, size: int, parts: GraphParts, only_up: bool) -> _Tensor:
    """ops.resize_short_side: the shorter side becomes ``size`` (with ``only_up``, only when it is shorter), the
    other ``max(1, round(side * size / shorter))``, in float64 as Python computes it; then ops.resize."""
    hw = _height_width(tensor, parts)
    hw_double = parts.op("Cast", [hw], "hw_double", to=DOUBLE)
    shorter = parts.op("ReduceMin", [hw_double], "shorter", keepdims=1)
    scale = parts.op("Div", [parts.constant("size", np.array([float(size)])), shorter], "scale")
    if only_up:
        scale = parts.op("Max", [scale, parts.doubles(1.0)], "scale_up")
    scaled = parts.op("Round", [parts.op("Mul", [hw_double, scale], "scaled")], "rounded")
    sizes = parts.op("Max", [scaled, parts.doubles(1.0)], "sizes")  # float64 (2,): out h, w
    least = size if not only_up else max(size, tensor.least_side or 0)
    return _Tensor(_as_pixels(resize(tensor.name, hw_double, sizes, parts), parts), True, least)


def _center_crop(tensor: _Tensor, size: int, parts: GraphParts) -> _Tensor:
    """ops.center_crop: enlarged first when the shorter side is under ``size`` (skipped when an earlier step
    guarantees it is not), then the central ``size`` x ``size`` window, its corner at ((h - size) // 2, ...)."""
    if tensor.least_side is None or tensor.least_side < size:
        tensor = _resize_short_side(tensor, size, parts, only_up=True)
    hw = _height_width(tensor, parts)
    side = parts.ints(size)
    start = parts.op("Div", [parts.op("Sub", [hw, side], "margin"), parts.ints(2)], "start")
    end = parts.op("Add", [start, side], "end")
    cropped = parts.op("Slice", [tensor.name, start, end, parts.ints(1, 2)], "cropped")
    return _Tensor(cropped, tensor.pixels, size)


def _grey(tensor: _Tensor, parts: GraphParts) -> _Tensor:
    """ops.grey: the luma (ITU-R 601) of every pixel, rounded, in all three channels."""
    if not tensor.pixels:
        raise ConfigError("The 'grey' step must come before normalize and whiten.")
    luma = np.repeat(np.asarray(_LUMA, np.float32)[:, None], 3, axis=1)  # (3, 3): every column the weights
    mixed = parts.op("MatMul", [tensor.name, parts.constant("luma", luma)], "luma")
    return _Tensor(_as_pixels(mixed, parts), True, tensor.least_side)


def _normalize(tensor: _Tensor, step: Normalize, parts: GraphParts) -> _Tensor:
    """ops.normalize: (x / 255 - mean) / std for pixels, (x - mean) / std after another tensor step."""
    x = _unit_scale(tensor, parts)
    centred = parts.op("Sub", [x, parts.constant("mean", np.asarray(step.mean, np.float32))], "centred")
    scaled = parts.op("Div", [centred, parts.constant("std", np.asarray(step.std, np.float32))], "normalized")
    return _Tensor(scaled, False, tensor.least_side)


def _whiten(tensor: _Tensor, step: Whiten, parts: GraphParts) -> _Tensor:
    """ops.whiten: (x - mean) @ matrix.T, x scaled to [0, 1] first for pixels."""
    if not step.is_fitted:
        raise ConfigError("The 'whiten' step is not fitted; a model's pipeline always is, so the card is damaged.")
    x = _unit_scale(tensor, parts)
    centred = parts.op("Sub", [x, parts.constant("whiten_mean", np.asarray(step.mean, np.float32))], "centred")
    matrix = np.ascontiguousarray(np.asarray(step.matrix, np.float32).T)
    return _Tensor(
        parts.op("MatMul", [centred, parts.constant("whiten", matrix)], "whitened"), False, tensor.least_side
    )


def _unit_scale(tensor: _Tensor, parts: GraphParts) -> str:
    """Pixels divided by 255 (as float32, as ops does); a tensor step's output as it is."""
    if not tensor.pixels:
        return tensor.name
    return parts.op("Div", [tensor.name, parts.constant("levels", np.array(255.0, np.float32))], "unit")


def _as_pixels(name: str, parts: GraphParts) -> str:
    """What OpenCV's uint8 output holds: the values rounded half to even and clipped to [0, 255]."""
    rounded = parts.op("Round", [name], "round")
    low, high = parts.constant("zero", np.array(0.0, np.float32)), parts.constant("top", np.array(255.0, np.float32))
    return parts.op("Clip", [rounded, low, high], "clipped")


def _identity(source: str, target: str) -> Any:
    from onnx import helper

    return helper.make_node("Identity", [source], [target], name=f"{target}_from_preprocessing")
