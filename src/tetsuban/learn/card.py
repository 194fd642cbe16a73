"""The model card: a typed, frozen record of what a model is and how it was made, read and written here alone.

``card.json`` holds it as JSON under a versioned format. Version 3 records a fine-tuned head as a probe (epoch 0)
and fine-tuning epochs, with the one kept and why; version 2 cards (a head stage and a whole-network stage) and
version 1 cards (head kinds spelt ``logistic_regression``, ``linear_svm``) are still read. A card made by someone
else is hostile: every field is checked for its type and limits while it is read (so that ``input_size = 100000``
cannot ask for 42 GiB), and the first problem is named.

Over 400 lines, for a reason: the records, their JSON and the checks of each field are one format, and keeping them
in one module is what makes a change of the card one change (with its version) rather than three that can disagree.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal, TypeVar

from tetsuban.classnames import class_name_problem
from tetsuban.errors import FileRefused, ProjectError, TetsubanError
from tetsuban.files import read_bounded
from tetsuban.learn.head import SPREAD_FLOOR
from tetsuban.learn.validate import Validation
from tetsuban.pipeline.spec import Pipeline

CARD_FORMAT = "tetsuban-model/3"
_OLDER_FORMATS = {  # the head kinds each renamed
    "tetsuban-model/1": {"logistic_regression": "logistic", "linear_svm": "svm"},
    "tetsuban-model/2": {},
}
MAX_CARD_BYTES = 64 * 1024 * 1024  # a kNN or SVM card lists content hashes; far below this
MAX_CLASSES = 10_000
INPUT_SIZES = (16, 1024)
MAX_TAPS, MAX_TAP_BLOCK = 8, 255  # a backbone taps a few of its inner blocks
_HEX64 = re.compile(r"[0-9a-f]{64}")
HeadKind = Literal["logistic", "svm", "knn", "finetuned"]
T = TypeVar("T")


class CardError(ValueError):
    """A card field that is missing, of the wrong type or out of its limits; the message names it."""


@dataclass(frozen=True)
class LogisticHeadCard:
    """Class-balanced logistic regression on standardized embeddings."""

    kind: ClassVar[HeadKind] = "logistic"
    C: float
    C_from: str  # "given", "default", or which search chose it


@dataclass(frozen=True)
class SvmHeadCard:
    """A linear SVM with a temperature for its probabilities, and its support vectors by content hash."""

    kind: ClassVar[HeadKind] = "svm"
    C: float
    C_from: str
    temperature: float
    temperature_from: str
    support_vector_counts: Mapping[str, int]
    support_vectors: Mapping[str, tuple[str, ...]]  # the closest to the boundary first, a few per class

    def __post_init__(self) -> None:
        _freeze(self)


@dataclass(frozen=True)
class KnnHeadCard:
    """The k nearest training embeddings by cosine, their votes weighted by similarity."""

    kind: ClassVar[HeadKind] = "knn"
    k: int
    metric: str
    weights: str
    neighbours: int


@dataclass(frozen=True)
class FinetunedHeadCard:
    """A fine-tuned network: its recipe, every epoch's figures as recorded (the probe it started from is epoch 0),
    which was kept and why."""

    kind: ClassVar[HeadKind] = "finetuned"
    classifier: str
    recipe: Mapping[str, Any]
    device: str
    epochs: int  # fine-tuning epochs run
    planned_epochs: int
    ended_by: str  # "recipe" when every planned epoch ran, "time budget", or (format 2) "validation": stopped early
    best_stage: str  # "probe" or "tune" (format 2: "head" or "body")
    best_epoch: int
    chosen_by: str  # "validation", or "last" when there was none
    kept: str  # a sentence: the network kept and the validation that decided
    history: tuple[Mapping[str, Any], ...]
    weights: str  # the network's weights file, beside the graph

    def __post_init__(self) -> None:
        _freeze(self)


HeadCard = LogisticHeadCard | SvmHeadCard | KnnHeadCard | FinetunedHeadCard


@dataclass(frozen=True)
class BackboneCard:
    """The backbone whose embeddings the head reads; a fine-tuned model's own, with the key it was tuned from."""

    name: str
    key: str
    weights_sha256: str
    input_size: int
    finetuned_from: str | None = None
    taps: tuple[int, ...] = ()  # inner blocks whose means the embedding appends; cards made before taps have none

    def __post_init__(self) -> None:
        _freeze(self)


@dataclass(frozen=True)
class DataCard:
    """The labelled images learnt from and validated on, named by hashes of their ``image-sha256 label`` lines."""

    images: int
    labels_sha256: str
    validation_images: int
    validation_labels_sha256: str | None


@dataclass(frozen=True)
class ModelCard:
    """What a model is and how it was made: enough to use it, check it and make it again."""

    id: str
    created_at: str
    classes: tuple[str, ...]
    head: HeadCard
    validation: Validation
    label_counts: Mapping[str, int]
    data: DataCard
    backbone: BackboneCard
    pipeline: Pipeline
    preprocess_hash: str
    versions: Mapping[str, str]
    seed: int
    train_seconds: float

    def __post_init__(self) -> None:
        _freeze(self)

    def to_json(self) -> dict[str, Any]:
        """The card as the JSON object ``card.json`` holds (the current format)."""
        return {
            "format": CARD_FORMAT,
            "id": self.id,
            "created_at": self.created_at,
            "classes": list(self.classes),
            "head": _head_json(self.head),
            "validation": self.validation.to_dict(),
            "label_counts": dict(self.label_counts),
            "data": _fields(self.data),
            "backbone": _fields(self.backbone),  # finetuned_from is null for a probe
            "pipeline": self.pipeline.to_dict(),
            "preprocess_hash": self.preprocess_hash,
            "versions": dict(self.versions),
            "seed": self.seed,
            "train_seconds": self.train_seconds,
            "exports": self.exports(),  # derived from the pipeline: written for readers, not read back
        }

    def exports(self) -> dict[str, str]:
        """Which formats ``tetsuban export`` can write this model in: "yes", or "no: " and why."""
        refusals = self.pipeline.graph_refusals()
        answer = "no: " + "; ".join(refusals) if refusals else "yes"
        return {"onnx-standalone": answer, "web": answer}  # the web page runs the standalone graph


def card_bytes(card: ModelCard) -> bytes:
    """What ``card.json`` holds for ``card``."""
    return json.dumps(card.to_json(), indent=1).encode("utf-8")


def read_card(path: Path) -> ModelCard:
    """The card at ``path``, read (at most MAX_CARD_BYTES) and checked; ProjectError says what is wrong."""
    try:
        parsed = json.loads(read_bounded(path, MAX_CARD_BYTES).decode("utf-8"))
    except (OSError, FileRefused, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProjectError(f"{path} cannot be read as JSON ({exc}); the artifact is damaged.") from None
    try:
        return parse_card(parsed)
    except CardError as exc:
        raise ProjectError(
            f"{path} is not a model card tetsuban can use: {exc}. The model folder is damaged or was not made by "
            "tetsuban: train again, or restore the folder."
        ) from None


def parse_card(parsed: object) -> ModelCard:
    """The card in ``parsed`` (JSON as loaded), of the current format or an older one; CardError names the first
    field that is wrong."""
    card = _Fields(parsed)
    card_format = card.raw("format")
    if not isinstance(card_format, str) or (card_format != CARD_FORMAT and card_format not in _OLDER_FORMATS):
        raise CardError(f"its format is {str(card_format)[:40]!r}, not {CARD_FORMAT!r}")
    renamed = _OLDER_FORMATS.get(card_format, {})
    return ModelCard(
        id=card.text("id"),
        created_at=card.text("created_at", 64),
        classes=_classes(card.raw("classes")),
        head=_head(card.section("head"), renamed, card_format),
        validation=_validation(card.section("validation")),
        label_counts=card.mapping("label_counts", _count),
        data=_data(card.section("data")),
        backbone=_backbone(card.section("backbone")),
        pipeline=_pipeline(card.section("pipeline")),
        preprocess_hash=card.text("preprocess_hash", 128),
        versions=card.mapping("versions", _short_text),
        seed=card.count("seed"),
        train_seconds=card.number("train_seconds"),
    )


class _Fields:
    """One JSON object of a card (at ``path``, dotted; the card itself at ""), read field by field: a field that is
    missing or wrong raises CardError naming it (``'path.key'``)."""

    def __init__(self, value: object, path: str = "") -> None:
        if not isinstance(value, dict):
            raise CardError(f"'{path}' must be an object" if path else "it is not a JSON object")
        self.value, self.path = value, path

    def name(self, key: str) -> str:
        return f"'{self.path}.{key}'" if self.path else f"'{key}'"

    def dotted(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def raw(self, key: str) -> object:
        return self.value.get(key)

    def section(self, key: str) -> _Fields:
        return _Fields(self.value.get(key), self.dotted(key))

    def text(self, key: str, longest: int = 200) -> str:
        value = self.value.get(key)
        if not isinstance(value, str) or not 0 < len(value) <= longest:
            raise CardError(f"{self.name(key)} must be text of 1 to {longest} characters")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.value.get(key) is None else self.text(key)

    def sha256(self, key: str) -> str:
        value = self.value.get(key)
        if not _is_sha256(value):
            raise CardError(f"{self.name(key)} must be 64 hex digits")
        return str(value)

    def optional_sha256(self, key: str) -> str | None:
        value = self.value.get(key)
        if value is not None and not _is_sha256(value):
            raise CardError(f"{self.name(key)} must be 64 hex digits or null")
        return None if value is None else str(value)

    def count(self, key: str) -> int:
        value = _count(self.value.get(key))
        if value is None:
            raise CardError(f"{self.name(key)} must be a whole number, 0 or more")
        return value

    def number(self, key: str) -> float:
        value = _number(self.value.get(key))
        if value is None:
            raise CardError(f"{self.name(key)} must be a finite number")
        return value

    def optional_number(self, key: str) -> float | None:
        return None if self.value.get(key) is None else self.number(key)

    def flag(self, key: str) -> bool:
        value = self.value.get(key)
        if not isinstance(value, bool):
            raise CardError(f"{self.name(key)} must be true or false")
        return value

    def mapping(self, key: str, item: Callable[[object], T | None]) -> Mapping[str, T]:
        """A JSON object of ``key``: names (text) to values that ``item`` accepts (it returns None for others)."""
        value = self.value.get(key)
        if not isinstance(value, dict):
            raise CardError(f"{self.name(key)} must be an object")
        read = {name: item(v) for name, v in value.items()}
        wrong = [name for name, v in read.items() if v is None]
        if wrong:
            raise CardError(f"{self.name(key)} holds a wrong value under {str(wrong[0])[:40]!r}")
        return read  # type: ignore[return-value]


def _count(value: object) -> int | None:
    """``value`` if it is a whole number, 0 or more (not a bool); else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _number(value: object) -> float | None:
    """``value`` as a float if it is a finite number (not a bool, NaN or infinite); else None."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) else None


def _short_text(value: object) -> str | None:
    return value if isinstance(value, str) and len(value) <= 200 else None


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def _hashes(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(_is_sha256(v) for v in value):
        return None
    return tuple(value)


def _classes(classes: object) -> tuple[str, ...]:
    if not isinstance(classes, list) or not 1 <= len(classes) <= MAX_CLASSES:
        raise CardError(f"'classes' must be a list of 1 to {MAX_CLASSES:,} class names")
    for name in classes:
        problem = class_name_problem(name) if isinstance(name, str) else "it is not text"
        if problem is not None:
            raise CardError(f"the class {str(name)[:40]!r} cannot be a class name: {problem}")
    if len(set(classes)) != len(classes):
        raise CardError("'classes' names a class twice")
    return tuple(classes)


def _backbone(backbone: _Fields) -> BackboneCard:
    weights = backbone.sha256("weights_sha256")
    raw, (low, high) = backbone.raw("input_size"), INPUT_SIZES
    size = _count(raw)
    if size is None or not low <= size <= high:
        raise CardError(
            f"'backbone.input_size' must be a whole number of pixels in [{low}, {high}]; it is {str(raw)[:20]}"
        )
    return BackboneCard(
        backbone.text("name"),
        backbone.text("key"),
        weights,
        size,
        backbone.optional_text("finetuned_from"),
        _taps(backbone.raw("taps"), backbone.name("taps")),
    )


def _taps(raw: object, name: str) -> tuple[int, ...]:
    """The tapped blocks a card names: none where it says nothing (cards older than taps), else at most MAX_TAPS
    block numbers in rising order."""
    if raw is None:
        return ()
    numbers = [_count(value) for value in raw] if isinstance(raw, list) and len(raw) <= MAX_TAPS else [None]
    blocks = [n for n in numbers if n is not None and n <= MAX_TAP_BLOCK]
    if len(blocks) != len(numbers) or blocks != sorted(set(blocks)):
        raise CardError(f"{name} must be a list of at most {MAX_TAPS} block numbers (0 to {MAX_TAP_BLOCK}), rising")
    return tuple(blocks)


def _pipeline(pipeline: _Fields) -> Pipeline:
    try:
        return Pipeline.from_dict(pipeline.value)
    except (TetsubanError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise CardError(f"its pipeline cannot be used: {str(exc)[:200]}") from None


def _data(data: _Fields) -> DataCard:
    return DataCard(
        data.count("images"),
        data.sha256("labels_sha256"),
        data.count("validation_images"),
        data.optional_sha256("validation_labels_sha256"),
    )


def _validation(validation: _Fields) -> Validation:
    return Validation(
        validation.text("method"),
        validation.count("folds"),
        validation.count("images"),
        validation.optional_number("accuracy"),
        validation.optional_number("balanced_accuracy"),
        dict(validation.mapping("recall", _number)),
        "" if validation.raw("note") in (None, "") else validation.text("note", 1000),
    )


def _head(head: _Fields, renamed: Mapping[str, str], card_format: str) -> HeadCard:
    kind = head.raw("kind")
    kind = renamed.get(kind, kind) if isinstance(kind, str) else kind
    if kind == "logistic":
        return LogisticHeadCard(head.number("C"), head.text("C_from"))
    if kind == "svm":
        return SvmHeadCard(
            head.number("C"),
            head.text("C_from"),
            head.number("temperature"),
            head.text("temperature_from"),
            head.mapping("support_vector_counts", _count),
            head.mapping("support_vectors", _hashes),
        )
    if kind == "knn":
        return KnnHeadCard(head.count("k"), head.text("metric"), head.text("weights"), head.count("neighbours"))
    if kind == "finetuned":
        return _finetuned(head, card_format)
    raise CardError(f"'head.kind' must be one of logistic, svm, knn, finetuned; it is {str(kind)[:40]!r}")


def _finetuned(head: _Fields, card_format: str) -> FinetunedHeadCard:
    epochs, best = head.section("epochs"), head.section("best")
    history = head.raw("history")
    if not isinstance(history, list) or not all(isinstance(entry, dict) for entry in history):
        raise CardError("'head.history' must be a list of objects")
    if card_format == CARD_FORMAT:
        run, ended_by, kept = epochs.count("tuned"), head.text("ended_by"), best.text("kept")
    else:  # format 2: a head stage, then a whole-network one stopped early or not
        run, kept = epochs.count("head") + epochs.count("body"), ""
        ended_by = "validation" if head.flag("stopped_early") else "recipe"
    return FinetunedHeadCard(
        head.text("classifier"),
        head.section("recipe").value,
        head.text("device"),
        run,
        epochs.count("planned"),
        ended_by,
        best.text("stage"),
        best.count("epoch"),
        best.text("chosen_by"),
        kept,
        tuple(history),
        _file_name(head.text("weights")),
    )


def _file_name(name: str) -> str:
    """A file beside the graph: a plain name, never a path that could lead out of the model folder."""
    if Path(name).name != name or name == "..":  # Path(".").name is ""
        raise CardError(f"'head.weights' must name a file in the model folder, not {name[:40]!r}")
    return name


def _freeze(record: object) -> None:
    """Make the JSON objects and lists a record holds read-only (a frozen dataclass freezes only its attributes)."""
    for field in dataclasses.fields(record):  # type: ignore[arg-type]
        value = getattr(record, field.name)
        if isinstance(value, Mapping | list | tuple):
            object.__setattr__(record, field.name, _frozen_value(value))


def _frozen_value(value: object) -> object:
    """JSON kept as recorded, read-only: objects become read-only views, lists tuples, at every depth."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen_value(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen_value(v) for v in value)
    return value


def _plain(value: object) -> object:
    """JSON again from what _frozen_value made."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _fields(record: Any) -> dict[str, Any]:
    """A record's fields as JSON (a head's kind, a class variable, is not one of them)."""
    return {field.name: _plain(getattr(record, field.name)) for field in dataclasses.fields(record)}


def _head_json(head: HeadCard) -> dict[str, Any]:
    if isinstance(head, LogisticHeadCard | SvmHeadCard):
        fitted = {"class_weight": "balanced", "standardized": True, "spread_floor": SPREAD_FLOOR}
        return {"kind": head.kind, **_fields(head), **fitted}
    if isinstance(head, KnnHeadCard):
        return {"kind": head.kind, **_fields(head)}
    return {
        "kind": head.kind,
        "classifier": head.classifier,
        "recipe": _plain(head.recipe),
        "device": head.device,
        "epochs": {"tuned": head.epochs, "planned": head.planned_epochs},
        "ended_by": head.ended_by,
        "best": {"stage": head.best_stage, "epoch": head.best_epoch, "chosen_by": head.chosen_by, "kept": head.kept},
        "history": _plain(head.history),
        "weights": head.weights,
    }
