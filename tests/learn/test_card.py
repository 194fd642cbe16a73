"""The model card: one typed, frozen record per model, written and read back unchanged for every head kind, version 1
cards still read, and every damaged field of a hostile card refused in words that name it."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from tetsuban.learn.card import (
    CARD_FORMAT,
    BackboneCard,
    CardError,
    DataCard,
    FinetunedHeadCard,
    HeadCard,
    KnnHeadCard,
    LogisticHeadCard,
    ModelCard,
    SvmHeadCard,
    card_bytes,
    parse_card,
)
from tetsuban.learn.head import SPREAD_FLOOR
from tetsuban.learn.train import HEADS
from tetsuban.learn.validate import Validation
from tetsuban.pipeline.spec import default_pipeline

TAPS_REFUSED = "'backbone.taps' must be a list of at most 8 block numbers (0 to 255), rising"
HEAD_CARDS: list[HeadCard] = [
    LogisticHeadCard(0.1, "search on the validation split"),
    SvmHeadCard(1.0, "given", 2.5, "validation split", {"cat": 2, "dog": 3}, {"cat": ("d" * 64,), "dog": ()}),
    KnnHeadCard(5, "cosine", "softmax(10 x similarity) over the k nearest", 7),
    FinetunedHeadCard(
        "linear",
        {"batch_size": 8, "body_lrs": [1e-4, 3e-4]},
        "cpu",
        1,
        3,
        "time budget",
        "tune",
        1,
        "validation",
        "fine-tuned epoch 1: validation balanced accuracy 0.800 against the probe's 0.700",
        ({"stage": "probe", "epoch": 0, "val_loss": 0.7}, {"stage": "tune", "epoch": 1, "val_loss": 0.5}),
        "network.safetensors",
    ),
]


def _card(head: HeadCard) -> ModelCard:
    pipeline = default_pipeline()
    return ModelCard(
        id="20261130-101010-abcdef",
        created_at="2026-11-30T10:10:10+00:00",
        classes=("cat", "dog"),
        head=head,
        validation=Validation("validation split", 0, 10, 0.9, 0.85, {"cat": 0.8, "dog": 0.9}),
        label_counts={"cat": 3, "dog": 4},
        data=DataCard(7, "a" * 64, 10, "b" * 64),
        backbone=BackboneCard("efficientnet_lite0", "efficientnet_lite0-0123", "c" * 64, 224, "base-key"),
        pipeline=pipeline,
        preprocess_hash=pipeline.preprocess_hash(),
        versions={"python": "3.11.7", "numpy": "2.1.0"},
        seed=3,
        train_seconds=1.25,
    )


def _written(card: ModelCard) -> dict[str, Any]:
    written: dict[str, Any] = json.loads(card_bytes(card))
    return written


@pytest.mark.parametrize("head", HEAD_CARDS, ids=lambda head: head.kind)
def test_every_head_kind_is_read_back_as_it_was_written(head: HeadCard) -> None:
    card = _card(head)
    written = _written(card)
    assert written["format"] == CARD_FORMAT and written["head"]["kind"] == head.kind
    if isinstance(head, LogisticHeadCard | SvmHeadCard):  # what a reader of the card learns of the linear heads
        assert written["head"]["class_weight"] == "balanced" and written["head"]["standardized"] is True
        assert written["head"]["spread_floor"] == SPREAD_FLOOR
    assert parse_card(written) == card
    assert parse_card(json.loads(json.dumps(parse_card(written).to_json()))) == card


def test_head_kinds_are_spelt_as_train_head_spells_them() -> None:
    assert set(HEADS) == {head.kind for head in HEAD_CARDS} - {"finetuned"}


def test_a_card_is_frozen_all_the_way_down() -> None:
    card = _card(HEAD_CARDS[3])
    with pytest.raises(dataclasses.FrozenInstanceError):
        card.seed = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        card.label_counts["cat"] = 30  # type: ignore[index]
    head = card.head
    assert isinstance(head, FinetunedHeadCard)
    with pytest.raises(TypeError):
        head.history[0]["val_loss"] = 0.0  # type: ignore[index]
    assert head.recipe["body_lrs"] == (1e-4, 3e-4)


@pytest.mark.parametrize(("old", "kind"), [("logistic_regression", LogisticHeadCard), ("linear_svm", SvmHeadCard)])
def test_a_version_1_card_is_read_with_its_old_head_kind(old: str, kind: type) -> None:
    written = _written(_card(next(head for head in HEAD_CARDS if isinstance(head, kind))))
    written["format"], written["head"]["kind"] = "tetsuban-model/1", old
    assert isinstance(parse_card(written).head, kind)
    written["format"] = CARD_FORMAT  # the old spelling belongs to the old format only
    with pytest.raises(CardError, match=f"'head.kind' must be one of .*; it is '{old}'"):
        parse_card(written)


def test_a_version_2_finetuned_card_is_read_with_its_two_stages_as_epochs() -> None:
    written = _written(_card(HEAD_CARDS[3]))
    written["format"] = "tetsuban-model/2"
    head = written["head"]
    head["epochs"], head["stopped_early"] = {"head": 2, "body": 3, "planned": 8}, True
    del head["ended_by"], head["best"]["kept"]
    read = parse_card(written).head
    assert isinstance(read, FinetunedHeadCard)
    assert (read.epochs, read.planned_epochs, read.ended_by, read.kept) == (5, 8, "validation", "")


LONG = "x" * 50  # longer than any message quotes


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("format", "tetsuban-model/9", "its format is 'tetsuban-model/9', not 'tetsuban-model/3'"),
        ("format", LONG, f"its format is {LONG[:40]!r}, not 'tetsuban-model/3'"),
        ("id", "", "'id' must be text of 1 to 200 characters"),
        ("created_at", "9" * 65, "'created_at' must be text of 1 to 64 characters"),
        ("preprocess_hash", "9" * 129, "'preprocess_hash' must be text of 1 to 128 characters"),
        ("classes", "cat", "'classes' must be a list of 1 to 10,000 class names"),
        ("classes", [], "'classes' must be a list of 1 to 10,000 class names"),
        ("classes", [f"c{i}" for i in range(10_001)], "'classes' must be a list of 1 to 10,000 class names"),
        ("classes", ["cat", 5], "the class '5' cannot be a class name: it is not text"),
        ("classes", ["cat", "cat"], "'classes' names a class twice"),
        ("head", [], "'head' must be an object"),
        ("head.kind", "forest", "'head.kind' must be one of logistic, svm, knn, finetuned; it is 'forest'"),
        ("head.device", 0, "'head.device' must be text of 1 to 200 characters"),
        (
            "head.weights",
            "../../../etc/passwd",
            "'head.weights' must name a file in the model folder, not '../../../etc/passwd'",
        ),
        ("head.weights", "..", "'head.weights' must name a file in the model folder, not '..'"),
        ("head.epochs.tuned", -1, "'head.epochs.tuned' must be a whole number, 0 or more"),
        ("head.history", [1, 2], "'head.history' must be a list of objects"),
        ("head.ended_by", "", "'head.ended_by' must be text of 1 to 200 characters"),
        ("head.best.kept", None, "'head.best.kept' must be text of 1 to 200 characters"),
        ("validation.accuracy", [0.9], "'validation.accuracy' must be a finite number"),
        ("validation.recall", {"cat": "all"}, "'validation.recall' holds a wrong value under 'cat'"),
        ("validation.note", 7, "'validation.note' must be text of 1 to 1000 characters"),
        ("label_counts", [3, 4], "'label_counts' must be an object"),
        ("label_counts", {"cat": True}, "'label_counts' holds a wrong value under 'cat'"),
        ("label_counts", {LONG: -1}, f"'label_counts' holds a wrong value under {LONG[:40]!r}"),
        ("data.images", 2.5, "'data.images' must be a whole number, 0 or more"),
        ("data.labels_sha256", "A" * 64, "'data.labels_sha256' must be 64 hex digits"),
        ("data.validation_labels_sha256", "xyz", "'data.validation_labels_sha256' must be 64 hex digits or null"),
        (
            "backbone.input_size",
            100_000,
            "'backbone.input_size' must be a whole number of pixels in [16, 1024]; it is 100000",
        ),
        (
            "backbone.input_size",
            LONG,
            f"'backbone.input_size' must be a whole number of pixels in [16, 1024]; it is {LONG[:20]}",
        ),
        ("backbone.input_size", 15, "'backbone.input_size' must be a whole number of pixels in [16, 1024]; it is 15"),
        (
            "backbone.input_size",
            1025,
            "'backbone.input_size' must be a whole number of pixels in [16, 1024]; it is 1025",
        ),
        ("backbone.weights_sha256", "0" * 63, "'backbone.weights_sha256' must be 64 hex digits"),
        ("backbone.taps", 5, TAPS_REFUSED),
        ("backbone.taps", [5, 4], TAPS_REFUSED),
        ("backbone.taps", [5, 5], TAPS_REFUSED),
        ("backbone.taps", [-1], TAPS_REFUSED),
        ("backbone.taps", [256], TAPS_REFUSED),
        ("backbone.taps", [True], TAPS_REFUSED),
        ("backbone.taps", ["5"], TAPS_REFUSED),
        ("backbone.taps", list(range(9)), TAPS_REFUSED),
        (
            "pipeline",
            {"preprocess": [{"step": "no-such-step"}]},
            "its pipeline cannot be used: Unknown pipeline "
            "step 'no-such-step' in preprocess. Known: align_eyes, brightness_contrast, center_crop, edges, "
            "enhance_edges, grey, hflip, normalize, random_resized_crop, resize, whiten.",
        ),
        ("versions", {"numpy": {"deep": 1}}, "'versions' holds a wrong value under 'numpy'"),
        ("versions", {"numpy": "9" * 201}, "'versions' holds a wrong value under 'numpy'"),
        ("seed", None, "'seed' must be a whole number, 0 or more"),
        ("train_seconds", "1 s", "'train_seconds' must be a finite number"),
        ("train_seconds", float("nan"), "'train_seconds' must be a finite number"),
    ],
)
def test_each_damaged_field_is_refused_by_its_name(field: str, value: object, said: str) -> None:
    written = _written(_card(HEAD_CARDS[3]))
    *path, last = field.split(".")
    holder = written
    for key in path:
        holder = holder[key]
    holder[last] = value
    with pytest.raises(CardError) as refused:
        parse_card(written)
    assert str(refused.value) == said


def test_the_tapped_blocks_are_written_and_a_card_from_before_taps_reads_as_tapping_none() -> None:
    card = _card(HEAD_CARDS[0])
    written = _written(dataclasses.replace(card, backbone=dataclasses.replace(card.backbone, taps=(5,))))
    assert written["backbone"]["taps"] == [5] and parse_card(written).backbone.taps == (5,)
    del written["backbone"]["taps"]
    assert parse_card(written).backbone.taps == ()


def test_what_is_not_an_object_is_not_a_card() -> None:
    with pytest.raises(CardError) as refused:
        parse_card(["format", CARD_FORMAT])
    assert str(refused.value) == "it is not a JSON object"


def test_a_class_with_a_bad_name_is_quoted_short() -> None:
    written = _written(_card(HEAD_CARDS[0]))
    hostile = "\u202e" + LONG  # a right-to-left override, then a long name
    written["classes"] = ["cat", hostile]
    with pytest.raises(CardError) as refused:
        parse_card(written)
    assert str(refused.value).startswith(f"the class {hostile[:40]!r} cannot be a class name: ")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "x"),
        ("created_at", "9" * 64),
        ("preprocess_hash", "9" * 128),
        ("classes", ["only"]),
        ("classes", [f"c{i}" for i in range(10_000)]),
        ("backbone.input_size", 16),
        ("backbone.input_size", 1024),
        ("validation.accuracy", None),
        ("validation.note", "no validation split"),
        ("backbone.finetuned_from", None),  # a probe on the published weights
        ("backbone.taps", []),
        ("backbone.taps", [5]),
        ("backbone.taps", [0, 255]),
        ("backbone.taps", list(range(8))),
        ("data.validation_labels_sha256", None),  # no validation labels
    ],
)
def test_values_at_the_limits_are_read(field: str, value: object) -> None:
    written = _written(_card(HEAD_CARDS[0]))
    *path, last = field.split(".")
    holder = written
    for key in path:
        holder = holder[key]
    holder[last] = value
    card = parse_card(written)
    assert card_bytes(card) == card_bytes(parse_card(json.loads(card_bytes(card))))
    read: Any = card
    for key in field.split("."):
        read = getattr(read, key)
    assert read == (tuple(value) if isinstance(value, list) else value)


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("support_vectors", {"cat": 5}, "'head.support_vectors' holds a wrong value under 'cat'"),
        ("support_vectors", {"cat": ["not a hash"]}, "'head.support_vectors' holds a wrong value under 'cat'"),
        ("support_vector_counts", {"cat": -1}, "'head.support_vector_counts' holds a wrong value under 'cat'"),
        ("temperature", float("inf"), "'head.temperature' must be a finite number"),
    ],
)
def test_each_damaged_field_of_an_svm_head_is_refused_by_its_name(field: str, value: object, said: str) -> None:
    written = _written(_card(HEAD_CARDS[1]))
    written["head"][field] = value
    with pytest.raises(CardError) as refused:
        parse_card(written)
    assert said in str(refused.value)


def test_version_text_of_up_to_200_characters_is_kept() -> None:
    written = _written(_card(HEAD_CARDS[0]))
    written["versions"]["numpy"] = "9" * 200
    assert parse_card(written).versions["numpy"] == "9" * 200


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _places(value: object, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every place in a JSON value: each key of each object and each item of each list, at any depth."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _places(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _places(inner, (*path, index))
    return found


_VALID = [_written(_card(head)) for head in HEAD_CARDS]


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_a_card_damaged_anywhere_is_read_or_refused_in_words_never_crashes(data: st.DataObject) -> None:
    written = json.loads(json.dumps(data.draw(st.sampled_from(_VALID))))
    *path, last = data.draw(st.sampled_from(_places(written)))
    holder = written
    for key in path:
        holder = holder[key]
    holder[last] = data.draw(_JSON)
    try:
        card = parse_card(written)
    except CardError as refused:
        assert str(refused)
    else:  # what was read is written and read again the same (the history keeps a NaN loss as it was recorded)
        assert card_bytes(parse_card(json.loads(card_bytes(card)))) == card_bytes(card)


def test_the_card_says_which_exports_the_pipeline_allows_and_why_not() -> None:
    from tetsuban.pipeline.spec import Pipeline
    from tetsuban.pipeline.transforms import AlignEyes

    card = _card(HEAD_CARDS[0])
    assert _written(card)["exports"] == {"onnx-standalone": "yes", "web": "yes"}
    aligned = Pipeline((AlignEyes(), *card.pipeline.preprocess), card.pipeline.augment)
    refused = _written(dataclasses.replace(card, pipeline=aligned))["exports"]["onnx-standalone"]
    assert refused.startswith("no: the 'align_eyes' step: it finds faces with a detector")
