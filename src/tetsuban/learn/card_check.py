"""A model folder made by someone else is checked before anything in it is used: its card while it is read
(learn.card), and here its graph, for what it may load (no external data, whose paths could lead anywhere) and for
agreeing with the card (a list of classes that disagrees with the graph's outputs, another input size)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tetsuban.errors import ProjectError

MAX_MODEL_BYTES = 2 * 1024**3  # ONNX's own protobuf limit


def check_graph(path: Path, classes: Sequence[str], input_size: int, outputs: tuple[str, str]) -> None:
    """Refuse a ``model.onnx`` that is too large, loads external data, or disagrees with its card (another number
    of classes, another input size, missing outputs); ONNX Runtime opens only a graph that passed."""
    import onnx

    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ProjectError(f"{path} holds {size:,} bytes, more than the {MAX_MODEL_BYTES:,} a model may have.")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own DecodeError, and others, for damaged bytes
        raise ProjectError(
            f"{path} is not a readable ONNX graph ({type(exc).__name__}); the artifact is damaged."
        ) from None
    problem = _graph_problem(model, classes, input_size, outputs)
    if problem is not None:
        raise ProjectError(f"{path} does not fit its card: {problem}. Train again, or restore the folder.")


def _graph_problem(model: Any, classes: Sequence[str], input_size: int, outputs: tuple[str, str]) -> str | None:
    from onnx import TensorProto

    graph = model.graph
    if any(t.data_location == TensorProto.EXTERNAL for t in graph.initializer):
        return "it loads tensors from files outside itself"
    named = {o.name: o for o in graph.output}
    missing = [name for name in outputs if name not in named]
    if missing:
        return f"it has no output named {missing[0]!r}"
    width = named[outputs[0]].type.tensor_type.shape.dim
    if len(width) != 2 or (width[1].dim_value and width[1].dim_value != len(classes)):
        return f"its {outputs[0]!r} output does not have one column per class of the card ({len(classes)})"
    props = {p.key: p.value for p in model.metadata_props}
    if "classes" in props and props["classes"] != json.dumps(list(classes)):
        return "the classes stored in the graph differ from the card's"
    if not graph.input:
        return "it takes no input"
    dims = graph.input[0].type.tensor_type.shape.dim
    sides = [d.dim_value for d in list(dims)[2:] if d.dim_value]
    if any(side != input_size for side in sides):
        return f"its input is {sides} pixels, not the card's {input_size}"
    return None
