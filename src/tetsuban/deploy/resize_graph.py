"""OpenCV's resize (as tetsuban.pipeline.ops.resize calls it) as ONNX operators, for images of any size.

Each axis is resized by one matrix (rows: output pixels, columns: input pixels), computed in the graph from the
sizes: area averaging when either side shrinks by 2x or more (each output pixel the mean of the input it covers,
partial pixels in proportion), else bilinear interpolation with pixel centres at half-integers, clamped at the
border. This is what OpenCV computes, except that OpenCV interpolates uint8 bilinearly in fixed point (11-bit
weights), so that after rounding a pixel may differ by one level; ONNX's own Resize has no area mode.
"""

from __future__ import annotations

from tetsuban.deploy.graph_parts import DOUBLE, FLOAT, GraphParts


def resize(x: str, sizes_in: str, sizes_out: str, parts: GraphParts) -> str:
    """``x`` (N, H, W, C, float) resized from ``sizes_in`` to ``sizes_out`` (float64 (2,): height, width), as
    ops.resize resizes a uint8 image before its rounding."""
    sides = [(_element(sizes_in, axis, parts), _element(sizes_out, axis, parts)) for axis in (0, 1)]
    shrinks = [
        parts.op("GreaterOrEqual", [n, parts.op("Mul", [m, parts.doubles(2.0)], "twice")], "shrinks") for n, m in sides
    ]
    area = parts.op("Or", shrinks, "area")
    height = _axis_matrix(*sides[0], area, parts)  # (out h, in h)
    width = _axis_matrix(*sides[1], area, parts)  # (out w, in w)
    channels_first = parts.op("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    rows = parts.op("MatMul", [height, channels_first], "rows")  # (N, C, out h, in w)
    both = parts.op("MatMul", [rows, parts.op("Transpose", [width], "width_t", perm=[1, 0])], "both")
    return parts.op("Transpose", [both], "nhwc", perm=[0, 2, 3, 1])  # (N, out h, out w, C)


def _axis_matrix(n: str, m: str, area: str, parts: GraphParts) -> str:
    """float32 (m, n): the weights that take ``n`` pixels of one axis to ``m`` (float64, shape (1,)): area
    averaging where ``area``, else bilinear."""
    scale = parts.op("Div", [n, m], "axis_scale")
    out = parts.op("Unsqueeze", [_range(m, parts), parts.ints(1)], "out_index")  # (m, 1)
    source = parts.op("Unsqueeze", [_range(n, parts), parts.ints(0)], "in_index")  # (1, n)
    averaging = _area_weights(out, source, scale, parts)
    bilinear = _bilinear_weights(out, source, scale, n, parts)
    return parts.op("Cast", [parts.op("Where", [area, averaging, bilinear], "weights")], "weights_float", to=FLOAT)


def _area_weights(out: str, source: str, scale: str, parts: GraphParts) -> str:
    """The share of input pixel [j, j + 1) in output pixel i's cell [i * scale, (i + 1) * scale), over scale."""
    start = parts.op("Mul", [out, scale], "cell_start")
    end = parts.op("Add", [start, scale], "cell_end")
    overlap_end = parts.op("Min", [parts.op("Add", [source, parts.doubles(1.0)], "pixel_end"), end], "overlap_end")
    overlap_start = parts.op("Max", [source, start], "overlap_start")
    overlap = parts.op("Relu", [parts.op("Sub", [overlap_end, overlap_start], "overlap_signed")], "overlap")
    return parts.op("Div", [overlap, scale], "area_weights")


def _bilinear_weights(out: str, source: str, scale: str, n: str, parts: GraphParts) -> str:
    """Output pixel i's centre lies at x = (i + 0.5) * scale - 0.5: weight 1 - (x - floor(x)) on input pixel
    floor(x) and x - floor(x) on the next; where floor(x) is outside [0, n - 1), the border pixel takes it all."""
    zero, one, half = parts.doubles(0.0), parts.doubles(1.0), parts.doubles(0.5)
    centre = parts.op(
        "Sub", [parts.op("Mul", [parts.op("Add", [out, half], "mid"), scale], "mid_scaled"), half], "centre"
    )
    left = parts.op("Floor", [centre], "left")
    last = parts.op("Sub", [n, one], "last")
    before = parts.op("Less", [left, zero], "before")
    after = parts.op("GreaterOrEqual", [left, last], "after")
    fraction = parts.op("Sub", [centre, left], "fraction")
    fraction = parts.op("Where", [parts.op("Or", [before, after], "outside"), zero, fraction], "fraction_clamped")
    left = parts.op("Max", [left, zero], "left_clamped")  # never past n - 1: x < n - 1 whenever scale > 1
    right = parts.op("Add", [left, one], "right")
    on_left = parts.op("Cast", [parts.op("Equal", [source, left], "is_left")], "on_left", to=DOUBLE)
    on_right = parts.op("Cast", [parts.op("Equal", [source, right], "is_right")], "on_right", to=DOUBLE)
    left_part = parts.op("Mul", [on_left, parts.op("Sub", [one, fraction], "left_weight")], "left_part")
    return parts.op("Add", [left_part, parts.op("Mul", [on_right, fraction], "right_part")], "bilinear_weights")


def _element(vector: str, index: int, parts: GraphParts) -> str:
    """Element ``index`` of a 1-D tensor, as a tensor of shape (1,)."""
    return parts.op("Slice", [vector, parts.ints(index), parts.ints(index + 1)], "element")


def _range(count: str, parts: GraphParts) -> str:
    """0.0, 1.0, ..., count - 1 (float64), for a float64 ``count`` of shape (1,)."""
    limit = parts.op("Squeeze", [count, parts.ints(0)], "limit")
    return parts.op("Range", [parts.scalar(0.0), limit, parts.scalar(1.0)], "range")
