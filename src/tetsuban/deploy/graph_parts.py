"""Building ONNX graphs by hand: nodes and constants gathered under unique names, one call a node."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FLOAT, DOUBLE, INT32, INT64 = 1, 11, 6, 7  # onnx.TensorProto's element types, without importing onnx at import time


@dataclass
class GraphParts:
    """Nodes and constants being added to one graph, each name made unique with a prefix and a counter."""

    prefix: str
    nodes: list[Any] = field(default_factory=list)
    initializers: list[Any] = field(default_factory=list)
    _count: int = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{self.prefix}{hint}_{self._count}"

    def constant(self, hint: str, value: np.ndarray) -> str:
        """A constant tensor (an initializer) holding ``value``; its name."""
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def ints(self, *values: int) -> str:
        return self.constant("ints", np.asarray(values, np.int64))

    def doubles(self, *values: float) -> str:
        return self.constant("doubles", np.asarray(values, np.float64))

    def scalar(self, value: float) -> str:
        return self.constant("scalar", np.array(value, np.float64))

    def op(self, op_type: str, inputs: Sequence[str], hint: str, **attributes: Any) -> str:
        """A node of ``op_type`` on ``inputs``; the name of its one output."""
        from onnx import helper

        out = self.name(hint)
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attributes))
        return out
