"""A model artifact: a folder with ``model.onnx`` (backbone and head in one graph) and ``card.json``.

The graph takes a batch of preprocessed images (N, 3, S, S) and returns ``probabilities`` (N, K) and ``embedding``
(N, D). The card (learn.card) says everything needed to use and reproduce the model: classes, the head, the
pipeline with its fitted state, the backbone, validation metrics, label counts, data hashes, package versions and
time. Loading an artifact reads JSON and an ONNX graph; nothing is ever unpickled.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tetsuban.backbones.onnx_export import EMBEDDING_NAME, ExportedBackbone
from tetsuban.errors import ProjectError
from tetsuban.files import write_atomic
from tetsuban.learn.card import ModelCard, card_bytes, read_card
from tetsuban.learn.card_check import check_graph
from tetsuban.learn.head import LinearHead
from tetsuban.learn.knn import SHARPNESS, KnnHead
from tetsuban.pipeline.spec import Pipeline

Head = LinearHead | KnnHead  # what can follow the backbone in a model graph
CARD_NAME = "card.json"
MODEL_NAME = "model.onnx"
PROBABILITIES_NAME = "probabilities"


@dataclass(frozen=True)
class Artifact:
    """A loaded artifact: its folder and card. ``model_path`` is what ONNX Runtime opens."""

    folder: Path
    card: ModelCard

    @property
    def model_path(self) -> Path:
        return self.folder / MODEL_NAME

    @property
    def classes(self) -> tuple[str, ...]:
        return self.card.classes

    @property
    def pipeline(self) -> Pipeline:
        """The preprocessing the model was trained with, fitted state included."""
        return self.card.pipeline

    @property
    def input_size(self) -> int:
        return self.card.backbone.input_size

    def as_backbone(self) -> ExportedBackbone:
        """The model's graph as the backbone whose embeddings it computes (its ``embedding`` output), under the key
        its card names: a probe's is its backbone's, a fine-tuned model's its own."""
        from tetsuban.backbones.registry import backbone_spec

        saved = self.card.backbone
        spec = backbone_spec(saved.name)
        built = ExportedBackbone(
            saved.name, self.model_path, saved.weights_sha256, saved.input_size, spec.mean, spec.std, saved.taps
        )
        if built.key != saved.key:
            raise ProjectError(f"{self.folder / CARD_NAME} names backbone key {saved.key!r}, not {built.key!r}.")
        return built


def write_artifact(
    folder: Path, backbone: ExportedBackbone, head: Head, card: ModelCard, files: Mapping[str, bytes] | None = None
) -> Artifact:
    """Write the artifact into ``folder`` (which must not exist yet), all at once: a killed run leaves nothing.

    ``files`` are further files to keep beside the graph (a fine-tuned network's weights), by name.
    """
    if folder.exists():
        raise ProjectError(f"{folder} exists already; a model artifact is never overwritten.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (staging / MODEL_NAME).write_bytes(_graph_with_head(backbone.path, head))
        write_atomic(staging / CARD_NAME, card_bytes(card))
        for name, data in (files or {}).items():
            (staging / name).write_bytes(data)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return load_artifact(folder)


def load_artifact(folder: str | Path) -> Artifact:
    """Open the artifact in ``folder``, checking before anything is used that its card keeps to the schema and its
    limits (learn.card), and that its graph agrees with the card and loads nothing from outside (learn.card_check)."""
    path = Path(folder).expanduser()
    card_path = path / CARD_NAME
    if not card_path.is_file() or not (path / MODEL_NAME).is_file():
        raise ProjectError(f"{path} is not a model artifact (it needs {CARD_NAME} and {MODEL_NAME}).")
    card = read_card(card_path)
    check_graph(path / MODEL_NAME, card.classes, card.backbone.input_size, (PROBABILITIES_NAME, EMBEDDING_NAME))
    return Artifact(path, card)


def _graph_with_head(backbone_path: Path, head: Head) -> bytes:
    """The backbone's graph with the head's ``probabilities`` added as a second output."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(backbone_path))
    graph = model.graph
    initializers, nodes = _knn_nodes(head) if isinstance(head, KnnHead) else _linear_nodes(head)
    graph.initializer.extend(initializers)
    graph.node.extend(nodes)
    batch = graph.output[0].type.tensor_type.shape.dim[0].dim_param or "batch"
    probabilities = helper.make_tensor_value_info(PROBABILITIES_NAME, TensorProto.FLOAT, [batch, len(head.classes)])
    graph.output.insert(0, probabilities)
    helper.set_model_props(model, {"classes": json.dumps(list(head.classes))})
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _linear_nodes(head: LinearHead) -> tuple[list[Any], list[Any]]:
    """``probabilities = softmax(embedding @ W.T + b)``."""
    from onnx import helper, numpy_helper

    initializers = [
        numpy_helper.from_array(np.ascontiguousarray(head.weight, np.float32), "head_weight"),
        numpy_helper.from_array(np.ascontiguousarray(head.bias, np.float32), "head_bias"),
    ]
    nodes = [
        helper.make_node("Gemm", [EMBEDDING_NAME, "head_weight", "head_bias"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], [PROBABILITIES_NAME], axis=-1),
    ]
    return initializers, nodes


def _knn_nodes(head: KnnHead) -> tuple[list[Any], list[Any]]:
    """The k nearest stored neighbours by cosine, their one-hot labels summed with softmax(10 x similarity)
    weights (opset 18: reduction axes are inputs)."""
    from onnx import helper, numpy_helper

    constants: dict[str, np.ndarray] = {
        "knn_neighbours_t": np.ascontiguousarray(head.neighbours.T, np.float32),  # (D, N)
        "knn_votes": np.ascontiguousarray(head.votes, np.float32),  # (N, K)
        "knn_k": np.array([head.k], np.int64),
        "knn_axis1": np.array([1], np.int64),
        "knn_axis2": np.array([2], np.int64),
        "knn_eps": np.array(1e-12, np.float32),
        "knn_sharpness": np.array(SHARPNESS, np.float32),
    }
    initializers = [numpy_helper.from_array(value, name) for name, value in constants.items()]
    nodes = [
        helper.make_node("ReduceL2", [EMBEDDING_NAME, "knn_axis1"], ["knn_norm"], keepdims=1),
        helper.make_node("Add", ["knn_norm", "knn_eps"], ["knn_norm_safe"]),
        helper.make_node("Div", [EMBEDDING_NAME, "knn_norm_safe"], ["knn_unit"]),
        helper.make_node("MatMul", ["knn_unit", "knn_neighbours_t"], ["knn_similarity"]),  # (B, N)
        helper.make_node("TopK", ["knn_similarity", "knn_k"], ["knn_near", "knn_index"], axis=-1),
        helper.make_node("Mul", ["knn_near", "knn_sharpness"], ["knn_scaled"]),
        helper.make_node("Softmax", ["knn_scaled"], ["knn_weights"], axis=-1),  # (B, k)
        helper.make_node("Gather", ["knn_votes", "knn_index"], ["knn_chosen"], axis=0),  # (B, k, K)
        helper.make_node("Unsqueeze", ["knn_weights", "knn_axis2"], ["knn_weights3"]),  # (B, k, 1)
        helper.make_node("Mul", ["knn_chosen", "knn_weights3"], ["knn_weighted"]),
        helper.make_node("ReduceSum", ["knn_weighted", "knn_axis1"], [PROBABILITIES_NAME], keepdims=0),
    ]
    return initializers, nodes
