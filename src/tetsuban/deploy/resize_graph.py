"""OpenCV's resize (as tetsuban.pipeline.ops.resize calls it) as ONNX operators, for uint8 images of any size.

Both of OpenCV's ways are computed from the sizes in the graph, and the one OpenCV would take is kept:
- area averaging, when either side shrinks by 2x or more: each axis by one matrix (rows: output pixels, columns:
  input pixels), each output pixel the mean of the input it covers, partial pixels in proportion;
- bilinear interpolation otherwise, in OpenCV's fixed point for uint8, step for step: 11-bit weights rounded from
  float32 positions, the rows interpolated in integers, then the columns with its SIMD path's shifts and rounding.
The graph's pixels are then OpenCV's: on emoji (64 to 256 px) and photographs every one of them; at some ratios a
rare pixel is a level off still (fashion-mnist's 28 px to 40: 0.2% of them), from a corner of OpenCV not followed.
ONNX's own Resize has no area mode and interpolates in float: 7-12% of the pixels a level off.
"""

from __future__ import annotations

import numpy as np

from tetsuban.deploy.graph_parts import FLOAT, INT32, INT64, GraphParts

_ONE = 2048  # OpenCV's INTER_RESIZE_COEF_SCALE: bilinear weights in 11 bits


def resize(x: str, sizes_in: str, sizes_out: str, parts: GraphParts) -> str:
    """``x`` (N, H, W, C, float holding uint8 values) resized from ``sizes_in`` to ``sizes_out`` (float64 (2,):
    height, width), as ops.resize resizes a uint8 image: whole values, to be clipped to [0, 255]."""
    sides = [(_element(sizes_in, axis, parts), _element(sizes_out, axis, parts)) for axis in (0, 1)]
    shrinks = [
        parts.op("GreaterOrEqual", [n, parts.op("Mul", [m, parts.doubles(2.0)], "twice")], "shrinks") for n, m in sides
    ]
    area = parts.op("Or", shrinks, "area")
    channels_first = parts.op("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    averaged = _area(channels_first, sides, parts)
    interpolated = _bilinear(channels_first, sides, parts)
    chosen = parts.op("Where", [area, averaged, interpolated], "resized")
    return parts.op("Transpose", [chosen], "nhwc", perm=[0, 2, 3, 1])  # (N, out h, out w, C)


def _area(x: str, sides: list[tuple[str, str]], parts: GraphParts) -> str:
    """Area averaging of ``x`` (N, C, h, w): one float32 matrix per axis, then OpenCV's rounding: half up where
    both sides shrink by whole numbers (its integer path adds half the cell before dividing), else half to even."""
    height, width = (_area_matrix(n, m, parts) for n, m in sides)  # (out h, in h), (out w, in w)
    rows = parts.op("MatMul", [height, x], "rows")  # (N, C, out h, in w)
    mean = parts.op("MatMul", [rows, parts.op("Transpose", [width], "width_t", perm=[1, 0])], "averaged")
    whole = parts.op("And", [_whole_ratio(n, m, parts) for n, m in sides], "whole_ratios")
    half_up = parts.op(
        "Floor", [parts.op("Add", [mean, parts.constant("half", np.array(0.5, np.float32))], "plus_half")], "half_up"
    )
    return parts.op("Where", [whole, half_up, parts.op("Round", [mean], "half_even")], "area_rounded")


def _whole_ratio(n: str, m: str, parts: GraphParts) -> str:
    """Whether ``n`` / ``m`` is a whole number as OpenCV decides it: 1 / (m / n) within 2.2e-16 of its rounding."""
    ratio = parts.op("Div", [parts.doubles(1.0), parts.op("Div", [m, n], "inverse_ratio")], "ratio")
    off = parts.op("Abs", [parts.op("Sub", [ratio, parts.op("Round", [ratio], "ratio_rounded")], "ratio_off")], "off")
    return parts.op("Less", [off, parts.doubles(2.220446049250313e-16)], "whole")


def _area_matrix(n: str, m: str, parts: GraphParts) -> str:
    """float32 (m, n): the share of each of ``n`` input pixels in each of ``m`` output pixels (float64, (1,))."""
    scale = parts.op("Div", [n, m], "axis_scale")
    out = parts.op("Unsqueeze", [_range(m, parts), parts.ints(1)], "out_index")  # (m, 1)
    source = parts.op("Unsqueeze", [_range(n, parts), parts.ints(0)], "in_index")  # (1, n)
    return parts.op("Cast", [_area_weights(out, source, scale, parts)], "area_float", to=FLOAT)


def _bilinear(x: str, sides: list[tuple[str, str]], parts: GraphParts) -> str:
    """OpenCV's uint8 bilinear resize of ``x`` (N, C, h, w): across each row in integers (weights summing to
    2048), then down each column as its SIMD code does: each row's sum shifted right by 4, times its weight,
    shifted right by 16, the two added with 2 and shifted right by 2. Every value stays below 2^31."""
    pixels = parts.op("Cast", [x], "pixels_int", to=INT32)
    left, right, left_weight, right_weight = _taps(*sides[1], parts)
    across = parts.op(
        "Add",
        [
            parts.op("Mul", [parts.op("Gather", [pixels, left], "left_pixels", axis=3), left_weight], "left_part"),
            parts.op("Mul", [parts.op("Gather", [pixels, right], "right_pixels", axis=3), right_weight], "right_part"),
        ],
        "across",
    )
    sixteenths = parts.op("Div", [across, _int32(parts, 16)], "across_shifted")  # non-negative: Div floors
    top, bottom, top_weight, bottom_weight = _taps(*sides[0], parts)
    column = [parts.ints(-1), parts.ints(1)]
    halves = []
    for rows, weight in ((top, top_weight), (bottom, bottom_weight)):
        gathered = parts.op("Gather", [sixteenths, rows], "row_sums", axis=2)
        weighted = parts.op(
            "Mul",
            [gathered, parts.op("Reshape", [weight, parts.op("Concat", column, "shape", axis=0)], "column_weight")],
            "weighted",
        )
        halves.append(parts.op("Div", [weighted, _int32(parts, 65536)], "high_half"))
    total = parts.op("Add", [parts.op("Add", halves, "sum"), _int32(parts, 2)], "rounding")
    return parts.op("Cast", [parts.op("Div", [total, _int32(parts, 4)], "interpolated_int")], "interpolated", to=FLOAT)


def _taps(n: str, m: str, parts: GraphParts) -> tuple[str, str, str, str]:
    """For ``m`` output pixels from ``n`` (float64, (1,)): the input pixels on either side (int64 (m,)) and their
    int32 weights, as OpenCV computes them: position x = (i + 0.5) / (m / n) - 0.5 in float64, taken to float32;
    weights round((1 - f) * 2048) and round(f * 2048) of its fraction f; before the first pixel or from the last
    on, the border pixel with all the weight."""
    zero, one = parts.constant("zero", np.array([0.0], np.float32)), parts.constant("one", np.array([1.0], np.float32))
    scale = parts.op("Div", [parts.doubles(1.0), parts.op("Div", [m, n], "inverse_scale")], "bilinear_scale")
    half = parts.doubles(0.5)
    position = parts.op(
        "Sub",
        [parts.op("Mul", [parts.op("Add", [_range(m, parts), half], "mid"), scale], "mid_scaled"), half],
        "position",
    )
    x = parts.op("Cast", [position], "position_float", to=FLOAT)
    floor = parts.op("Floor", [x], "floor")
    fraction = parts.op("Sub", [x, floor], "fraction")
    last = parts.op("Cast", [parts.op("Sub", [n, parts.doubles(1.0)], "last_index")], "last_float", to=FLOAT)
    before = parts.op("Less", [floor, zero], "before")
    after = parts.op("GreaterOrEqual", [floor, last], "after")
    fraction = parts.op("Where", [parts.op("Or", [before, after], "border"), zero, fraction], "fraction_clamped")
    floor = parts.op("Min", [parts.op("Max", [floor, zero], "floor_low"), last], "floor_clamped")
    low = parts.op("Cast", [floor], "low_index", to=INT64)
    high = parts.op(
        "Cast", [parts.op("Min", [parts.op("Add", [floor, one], "next"), last], "next_clamped")], "high_index", to=INT64
    )
    scale_int = parts.constant("coefficient_scale", np.array([float(_ONE)], np.float32))
    low_weight = parts.op(
        "Round",
        [parts.op("Mul", [parts.op("Sub", [one, fraction], "complement"), scale_int], "low_scaled")],
        "low_rounded",
    )
    high_weight = parts.op("Round", [parts.op("Mul", [fraction, scale_int], "high_scaled")], "high_rounded")
    return (
        low,
        high,
        parts.op("Cast", [low_weight], "low_weight", to=INT32),
        parts.op("Cast", [high_weight], "high_weight", to=INT32),
    )


def _int32(parts: GraphParts, value: int) -> str:
    return parts.constant("int32", np.array(value, np.int32))


def _area_weights(out: str, source: str, scale: str, parts: GraphParts) -> str:
    """The share of input pixel [j, j + 1) in output pixel i's cell [i * scale, (i + 1) * scale), over scale."""
    start = parts.op("Mul", [out, scale], "cell_start")
    end = parts.op("Add", [start, scale], "cell_end")
    overlap_end = parts.op("Min", [parts.op("Add", [source, parts.doubles(1.0)], "pixel_end"), end], "overlap_end")
    overlap_start = parts.op("Max", [source, start], "overlap_start")
    overlap = parts.op("Relu", [parts.op("Sub", [overlap_end, overlap_start], "overlap_signed")], "overlap")
    return parts.op("Div", [overlap, scale], "area_weights")


def _element(vector: str, index: int, parts: GraphParts) -> str:
    """Element ``index`` of a 1-D tensor, as a tensor of shape (1,)."""
    return parts.op("Slice", [vector, parts.ints(index), parts.ints(index + 1)], "element")


def _range(count: str, parts: GraphParts) -> str:
    """0.0, 1.0, ..., count - 1 (float64), for a float64 ``count`` of shape (1,)."""
    limit = parts.op("Squeeze", [count, parts.ints(0)], "limit")
    return parts.op("Range", [parts.scalar(0.0), limit, parts.scalar(1.0)], "range")
