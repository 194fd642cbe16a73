"""Attacks 12 and 13: a model folder or a weights file made by someone else. A weights file that holds more than
tensors is refused in our words (it is never unpickled, and loading it unsafely is never advised)."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from tests.conftest import copied
from tests.run_cli import tetsuban


class _Payload:
    """Unpickling this creates the file ``marker``: what a hostile pickle does, harmlessly."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


@pytest.fixture()
def small_project(tmp_path: Path, emoji_dir: Path) -> Path:
    images = copied(sorted(emoji_dir.glob("1f6*.png"))[:4], tmp_path / "images")
    tetsuban("init", tmp_path / "p")
    tetsuban("import", tmp_path / "p", images)
    return tmp_path / "p"


@pytest.mark.parametrize("kind", ["code", "module"])
def test_a_pickled_weights_file_is_refused_in_our_words(small_project: Path, tmp_path: Path, kind: str) -> None:
    import torch

    marker = tmp_path / "pwned"
    weights = tmp_path / "evil.pt"
    if kind == "code":
        weights.write_bytes(pickle.dumps({"conv.weight": _Payload(marker)}))
    else:
        torch.save(torch.nn.Linear(2, 2), weights)  # a whole module, not its state dict
    result = tetsuban("embed", small_project, "--weights", weights, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "loads tensors only" in result.stderr and "Traceback" not in result.stderr
    assert "weights_only" not in result.stdout + result.stderr  # never advised to load unsafely
    assert not marker.exists()


@pytest.fixture(scope="module")
def good_model(hostile: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a copy of the hostile project, a model trained in it)."""
    from tetsuban import Project

    copy = tmp_path_factory.mktemp("models") / "project"
    shutil.copytree(hostile, copy)
    with Project.open(copy) as project:
        return copy, project.train().artifact.folder


def _crafted(
    model: Path, where: Path, card_change: dict[str, object] | None = None, graph: bytes | None = None
) -> Path:
    import json

    shutil.copytree(model, where)
    card = json.loads((where / "card.json").read_text(encoding="utf-8"))
    for dotted, value in (card_change or {}).items():
        holder = card
        *path, last = dotted.split(".")
        for key in path:
            holder = holder[key]
        holder[last] = value
    (where / "card.json").write_text(json.dumps(card), encoding="utf-8")
    if graph is not None:
        (where / "model.onnx").write_bytes(graph)
    return where


def _external_data_graph(model: Path) -> bytes:
    """The model's graph with one tensor's data moved to a file outside the folder."""
    import onnx
    from onnx import TensorProto

    graph = onnx.load(str(model / "model.onnx"))
    tensor = graph.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../../../etc/passwd"
    return graph.SerializeToString()


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"backbone.input_size": 100_000}, "'backbone.input_size' must be a whole number of pixels in [16, 1024]"),
        ({"classes": ["only", "two"]}, "output does not have one column per class of the card (2)"),
        ({"classes": ["a", "b", "c", "d"]}, "output does not have one column per class of the card (4)"),
        ({"classes": ["c", "b", "a"]}, "the classes stored in the graph differ from the card's"),
        ({"classes": ["a\u202eb", "b", "c"]}, "cannot be a class name"),
        ({"backbone": "efficientnet"}, "'backbone' must be an object"),
        ({"pipeline": {"preprocess": [{"op": "no-such-step"}]}}, "its pipeline cannot be used"),
        ({"graph": b"\x08\x07not protobuf"}, "is not a readable ONNX graph"),
        ({"graph": "external"}, "it loads tensors from files outside itself"),
    ],
)
def test_a_crafted_model_folder_is_refused_before_it_is_loaded(
    good_model: tuple[Path, Path], tmp_path: Path, change: dict[str, object], said: str
) -> None:
    project_dir, model = good_model
    graph = change.pop("graph", None)
    raw = _external_data_graph(model) if graph == "external" else graph
    where = project_dir / "models" / f"crafted-{tmp_path.name}"  # a model folder lies in its project's models/
    crafted = _crafted(model, where, change, raw if isinstance(raw, bytes) else None)
    result = tetsuban("evaluate", crafted, check=False, memory=4 * 1024**3, timeout=300)
    assert result.returncode == 1 and said in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_a_damaged_older_model_does_not_break_evaluating_a_good_one(good_model: tuple[Path, Path]) -> None:
    _, model = good_model
    older = _crafted(model, model.parent / "0000-damaged", {"created_at": "2000-01-01T00:00:00+00:00"})
    (older / "model.onnx").write_bytes(b"damaged")
    result = tetsuban("evaluate", model, timeout=300)
    assert "accuracy" in result.stdout and "Traceback" not in result.stderr


def test_crafted_saved_predictions_in_a_model_folder_are_computed_again(good_model: tuple[Path, Path]) -> None:
    import json

    _, model = good_model
    tetsuban("evaluate", model, timeout=300)  # saves the test predictions beside the model
    saved = model / "test_predictions.json"
    data = json.loads(saved.read_text(encoding="utf-8"))
    data["image_ids"], data["probabilities"] = [10**9], "not numbers"  # the hash still matches
    saved.write_text(json.dumps(data), encoding="utf-8")
    result = tetsuban("evaluate", model, timeout=300)
    assert "accuracy" in result.stdout and "Traceback" not in result.stderr
    assert json.loads(saved.read_text(encoding="utf-8"))["image_ids"] != [10**9]  # computed and saved again
