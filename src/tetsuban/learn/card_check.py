"""A model folder made by someone else is checked before anything in it is used: the card against a schema with
limits (so that ``input_size = 100000`` cannot ask for 42 GiB, or a list of classes disagree with the graph), and the
graph for what it may load (no external data, whose paths could lead anywhere) and for agreeing with the card."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tetsuban.classnames import class_name_problem
from tetsuban.errors import FileRefused, ProjectError, TetsubanError
from tetsuban.files import read_bounded

MAX_CARD_BYTES = 64 * 1024 * 1024  # a kNN or SVM card lists content hashes; far below this
MAX_MODEL_BYTES = 2 * 1024**3  # ONNX's own protobuf limit
MAX_CLASSES = 10_000
INPUT_SIZES = (16, 1024)
_HEX64 = re.compile(r"[0-9a-f]{64}")


def card_problems(card: object, card_format: str) -> Iterator[str]:
    """What is wrong with ``card`` (parsed JSON), first things first; nothing when it is a card we can use."""
    if not isinstance(card, dict):
        yield f"it is a JSON {type(card).__name__}, not an object"
        return
    if card.get("format") != card_format:
        yield f"its format is {str(card.get('format'))[:40]!r}, not {card_format!r}"
        return
    yield from _text(card, "id", 200)
    yield from _text(card, "created_at", 64)
    yield from _text(card, "preprocess_hash", 128)
    yield from _classes(card.get("classes"))
    yield from _backbone(card.get("backbone"))
    yield from _pipeline(card.get("pipeline"))
    for key in ("head", "data"):
        if not isinstance(card.get(key), dict):
            yield f"'{key}' must be an object"
    counts = card.get("label_counts", {})
    if not isinstance(counts, dict) or not all(_count(n) for n in counts.values()):
        yield "'label_counts' must map class names to counts"


def _text(card: dict[str, Any], key: str, longest: int) -> Iterator[str]:
    value = card.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= longest:
        yield f"'{key}' must be text of 1 to {longest} characters"


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _classes(classes: object) -> Iterator[str]:
    if not isinstance(classes, list) or not 1 <= len(classes) <= MAX_CLASSES:
        yield f"'classes' must be a list of 1 to {MAX_CLASSES:,} class names"
        return
    for name in classes:
        problem = class_name_problem(name) if isinstance(name, str) else "it is not text"
        if problem is not None:
            yield f"the class {str(name)[:40]!r} cannot be a class name: {problem}"
            return
    if len(set(classes)) != len(classes):
        yield "'classes' names a class twice"


def _backbone(backbone: object) -> Iterator[str]:
    if not isinstance(backbone, dict):
        yield "'backbone' must be an object"
        return
    yield from _text(backbone, "name", 200)
    yield from _text(backbone, "key", 200)
    if not isinstance(backbone.get("weights_sha256"), str) or not _HEX64.fullmatch(backbone["weights_sha256"]):
        yield "'backbone.weights_sha256' must be 64 hex digits"
    size = backbone.get("input_size")
    low, high = INPUT_SIZES
    if not _count(size) or not low <= size <= high:  # type: ignore[operator]
        yield f"'backbone.input_size' must be a whole number of pixels in [{low}, {high}]; it is {str(size)[:20]}"


def _pipeline(pipeline: object) -> Iterator[str]:
    from tetsuban.pipeline.spec import Pipeline

    if not isinstance(pipeline, dict):
        yield "'pipeline' must be an object"
        return
    try:
        Pipeline.from_dict(pipeline)
    except (TetsubanError, TypeError, ValueError, KeyError, AttributeError) as exc:
        yield f"its pipeline cannot be used: {str(exc)[:200]}"


def read_card(path: Path, card_format: str) -> dict[str, Any]:
    """The card at ``path``, read (at most MAX_CARD_BYTES) and checked; ProjectError says what is wrong."""
    try:
        card = json.loads(read_bounded(path, MAX_CARD_BYTES).decode("utf-8"))
    except (OSError, FileRefused, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProjectError(f"{path} cannot be read as JSON ({exc}); the artifact is damaged.") from None
    problems = list(card_problems(card, card_format))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ProjectError(
            f"{path} is not a model card tetsuban can use: {problems[0]}{more}. The model folder is damaged or was "
            "not made by tetsuban: train again, or restore the folder."
        )
    return card


def check_graph(path: Path, classes: list[str], input_size: int, outputs: tuple[str, str]) -> None:
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


def _graph_problem(model: Any, classes: list[str], input_size: int, outputs: tuple[str, str]) -> str | None:
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
    if "classes" in props and props["classes"] != json.dumps(classes):
        return "the classes stored in the graph differ from the card's"
    dims = graph.input[0].type.tensor_type.shape.dim if graph.input else []
    sides = [d.dim_value for d in list(dims)[2:] if d.dim_value]
    if any(side != input_size for side in sides):
        return f"its input is {sides} pixels, not the card's {input_size}"
    return None
