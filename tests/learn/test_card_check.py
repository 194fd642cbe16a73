"""A model's graph is checked against its card before ONNX Runtime opens it: small real graphs, each broken in one
way, are refused with the reason, and the sound one passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tetsuban.errors import ProjectError
from tetsuban.learn.artifact import CARD_NAME, MODEL_NAME, load_artifact
from tetsuban.learn.card_check import check_graph

CLASSES = ("cat", "dog", "fox")
OUTPUTS = ("probabilities", "embedding")


def _graph(
    path: Path,
    classes: int = 3,
    side: int = 32,
    outputs: tuple[str, str] = OUTPUTS,
    stored_classes: list[str] | None = list(CLASSES),  # noqa: B006 - read only
    external: Path | None = None,
) -> Path:
    """A tiny real model: image (N, 3, side, side) -> embedding (N, 4) by a mean and a MatMul -> softmax."""
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, classes), np.float32), "weight")
    if external is not None:
        weight.ClearField("raw_data")
        weight.data_location = TensorProto.EXTERNAL
        entry = weight.external_data.add()
        entry.key, entry.value = "location", str(external)
    axes = numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
    pad = numpy_helper.from_array(np.array([[1.0, 0.0, 0.0, 0.5]] * 3, np.float32), "pad")
    nodes = [
        helper.make_node("ReduceMean", ["image", "axes"], ["pooled"], keepdims=0),  # (N, 3)
        helper.make_node("MatMul", ["pooled", "pad"], [outputs[1]]),  # (N, 4)
        helper.make_node("MatMul", [outputs[1], "weight"], ["logits"]),
        helper.make_node("Softmax", ["logits"], [outputs[0]], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, side, side])],
        [
            helper.make_tensor_value_info(outputs[0], TensorProto.FLOAT, ["batch", classes]),
            helper.make_tensor_value_info(outputs[1], TensorProto.FLOAT, ["batch", 4]),
        ],
        [weight, axes, pad],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    if stored_classes is not None:
        helper.set_model_props(model, {"classes": json.dumps(stored_classes)})
    path.write_bytes(model.SerializeToString())
    return path


def test_a_sound_graph_passes(tmp_path: Path) -> None:
    check_graph(_graph(tmp_path / "model.onnx"), CLASSES, 32, OUTPUTS)
    check_graph(_graph(tmp_path / "bare.onnx", stored_classes=None), CLASSES, 32, OUTPUTS)  # no classes stored


@pytest.mark.parametrize(
    ("broken", "said"),
    [
        ({"classes": 4}, "its 'probabilities' output does not have one column per class of the card (3)"),
        ({"outputs": ("probabilities", "features")}, "it has no output named 'embedding'"),
        ({"outputs": ("scores", "embedding")}, "it has no output named 'probabilities'"),
        ({"stored_classes": ["dog", "cat", "fox"]}, "the classes stored in the graph differ from the card's"),
        ({"side": 64}, "its input is [64, 64] pixels, not the card's 32"),
    ],
)
def test_a_graph_that_disagrees_with_its_card_is_refused(tmp_path: Path, broken: dict[str, Any], said: str) -> None:
    path = _graph(tmp_path / "model.onnx", **broken)
    with pytest.raises(ProjectError) as refused:
        check_graph(path, CLASSES, 32, OUTPUTS)
    assert said in str(refused.value) and "does not fit its card" in str(refused.value)


def test_a_graph_that_loads_tensors_from_outside_is_refused_unread(tmp_path: Path) -> None:
    """The external file exists and holds the right bytes: loading it would succeed, so only a check made
    without loading it (and of where its tensors come from) refuses the graph."""
    outside = tmp_path / "elsewhere" / "weights.bin"
    outside.parent.mkdir()
    outside.write_bytes(np.ones((4, 3), np.float32).tobytes())
    (tmp_path / "model").mkdir()
    path = _graph(tmp_path / "model" / "model.onnx", external=outside)
    with pytest.raises(ProjectError, match="it loads tensors from files outside itself"):
        check_graph(path, CLASSES, 32, OUTPUTS)


def test_a_graph_that_takes_no_input_is_refused(tmp_path: Path) -> None:
    """Outputs of the right names and shapes made from constants alone: nothing an image could go into."""
    from onnx import TensorProto, helper, numpy_helper

    constants = [
        helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.ones((1, width), np.float32)))
        for name, width in zip(OUTPUTS, (3, 4), strict=True)
    ]
    outputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, width])
        for name, width in zip(OUTPUTS, (3, 4), strict=True)
    ]
    model = helper.make_model(helper.make_graph(constants, "inputless", [], outputs))
    (tmp_path / "model.onnx").write_bytes(model.SerializeToString())
    with pytest.raises(ProjectError, match="does not fit its card: it takes no input"):
        check_graph(tmp_path / "model.onnx", CLASSES, 32, OUTPUTS)


def test_a_damaged_graph_is_refused_in_words(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07not protobuf")
    with pytest.raises(ProjectError, match="is not a readable ONNX graph"):
        check_graph(path, CLASSES, 32, OUTPUTS)


@pytest.mark.parametrize("present", [CARD_NAME, MODEL_NAME])
def test_a_folder_with_a_card_or_a_graph_alone_is_no_artifact(tmp_path: Path, present: str) -> None:
    """Both files are needed before either is read: a card without its graph is not opened and then failed on."""
    (tmp_path / present).write_text("{ a half-copied folder", encoding="utf-8")
    with pytest.raises(ProjectError, match=rf"is not a model artifact \(it needs {CARD_NAME} and {MODEL_NAME}\)"):
        load_artifact(tmp_path)
