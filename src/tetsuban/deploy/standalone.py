"""One ONNX file from pixels to classes: a model's preprocessing, backbone and head in one graph, so that a phone,
a C++ service or a browser runs it with nothing of tetsuban's.

Input ``image``: uint8 RGB images (batch, height, width, 3), any size (one size per batch), decoded and turned
upright as displayed (EXIF orientation applied), transparency composited onto white, as tetsuban decodes.
Outputs ``probabilities`` (batch, classes) and ``labels`` (batch,): the most probable class's name. The class names
in order are also in the graph's metadata (``classes``, JSON), with a note of the input it expects (``input``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tetsuban.deploy.graph_parts import GraphParts
from tetsuban.deploy.preprocess_graph import IMAGE_INPUT, preprocessing_graph
from tetsuban.files import write_atomic
from tetsuban.learn.artifact import PROBABILITIES_NAME, Artifact

LABELS_NAME = "labels"
INPUT_NOTE = (
    "image: uint8 RGB (batch, height, width, 3), decoded upright (EXIF orientation applied), transparency "
    "composited onto white; the graph resizes, crops and normalizes."
)


def standalone_model(artifact: Artifact, inner: Any | None = None) -> Any:
    """The artifact's graph (or ``inner``, a graph of it such as its int8 form) behind its preprocessing, with
    ``probabilities`` and ``labels`` as its only outputs (an onnx ModelProto, checked). Raises a ConfigError when a
    preprocessing step has no graph form."""
    import onnx
    from onnx import TensorProto, helper

    model = inner if inner is not None else onnx.load(str(artifact.model_path))
    graph = model.graph
    parts = GraphParts("preprocess_")
    preprocessing_graph(artifact.pipeline, graph.input[0].name, parts)
    labels = GraphParts("labels_")
    _label_nodes(artifact.classes, labels)
    nodes = [*parts.nodes, *graph.node, *labels.nodes]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend([*parts.initializers, *labels.initializers])
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info(IMAGE_INPUT, TensorProto.UINT8, ["batch", "height", "width", 3]))
    kept = [o for o in graph.output if o.name == PROBABILITIES_NAME]
    del graph.output[:]
    graph.output.extend([*kept, helper.make_tensor_value_info(LABELS_NAME, TensorProto.STRING, ["batch"])])
    helper.set_model_props(model, {"classes": json.dumps(list(artifact.classes)), "input": INPUT_NOTE})
    model.producer_name = "tetsuban"
    onnx.checker.check_model(model, full_check=True)
    return model


def write_standalone(artifact: Artifact, output: Path, inner: Any | None = None) -> Path:
    """Write :func:`standalone_model` to ``output`` at once (a killed export leaves no half-written file)."""
    out = Path(output).expanduser()
    write_atomic(out, standalone_model(artifact, inner).SerializeToString())
    return out


def _label_nodes(classes: tuple[str, ...], parts: GraphParts) -> None:
    """``labels`` = the class names gathered at each row's most probable column."""
    from onnx import helper

    best = parts.op("ArgMax", [PROBABILITIES_NAME], "best", axis=1, keepdims=0)
    names = parts.constant("classes", np.array(list(classes), dtype=object))
    parts.nodes.append(helper.make_node("Gather", [names, best], [LABELS_NAME], name="labels_gather", axis=0))
