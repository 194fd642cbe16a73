"""Properties of every transform, on generated and on real images."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import fields, replace
from itertools import permutations
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from tetsuban import ConfigError, decode
from tetsuban.config import pipeline_toml
from tetsuban.pipeline import TRANSFORMS, Pipeline, default_pipeline, ops
from tetsuban.pipeline.eyes import EyeLine, eye_line, find_eyes
from tetsuban.pipeline.transforms import (
    AlignEyes,
    BrightnessContrast,
    CenterCrop,
    Edges,
    EnhanceEdges,
    Grey,
    HFlip,
    Normalize,
    RandomResizedCrop,
    Resize,
    Transform,
    Whiten,
)

images = arrays(np.uint8, st.tuples(st.integers(8, 64), st.integers(8, 64), st.just(3)))
seeds = st.integers(0, 2**32 - 1)

# One instance of every registered transform; a new registry entry without one here fails the test below.
EXAMPLES: dict[str, Transform] = {
    "resize": Resize(32),
    "center_crop": CenterCrop(16),
    "grey": Grey(),
    "enhance_edges": EnhanceEdges(1.0, 1.5),
    "edges": Edges(),
    "align_eyes": AlignEyes(),
    "hflip": HFlip(0.5),
    "random_resized_crop": RandomResizedCrop(24, 0.3),
    "brightness_contrast": BrightnessContrast(0.3, 0.3),
    "normalize": Normalize((0.4, 0.5, 0.6), (0.2, 0.25, 0.3)),
    "whiten": Whiten(1e-3, (0.5, 0.5, 0.5), ((2.0, 0.0, 0.0), (0.0, 2.0, 0.0), (0.0, 0.0, 2.0))),
}


def test_every_registered_transform_has_an_example() -> None:
    assert set(EXAMPLES) == set(TRANSFORMS)
    assert all(type(t) is TRANSFORMS[name] for name, t in EXAMPLES.items())


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@settings(max_examples=25, deadline=None)
@given(img=images, seed=seeds)
def test_shape_dtype_and_determinism(name: str, img: np.ndarray, seed: int) -> None:
    step = EXAMPLES[name]
    params = step.sample(np.random.default_rng(seed), img, None)
    out = step.apply(img, params)
    again = step.apply(img, step.sample(np.random.default_rng(seed), img, None))
    assert np.array_equal(out, again)  # the same seed gives the same output
    assert out.ndim == 3 and out.shape[2] == 3
    assert out.dtype == (np.float32 if step.stage == "tensor" else np.uint8)
    if name not in ("resize", "center_crop", "random_resized_crop"):
        assert out.shape == img.shape
    json.dumps(params)  # parameters are plain data


@given(img=images)
def test_two_flips_are_the_identity(img: np.ndarray) -> None:
    assert np.array_equal(ops.hflip(ops.hflip(img)), img)
    assert not np.array_equal(ops.hflip(img), img) or np.array_equal(img, img[:, ::-1])


@settings(max_examples=200)
@given(img=images, seed=seeds, min_area=st.floats(0.05, 1.0), size=st.integers(8, 48))
def test_random_resized_crop_stays_inside_and_keeps_its_minimum_area(
    img: np.ndarray, seed: int, min_area: float, size: int
) -> None:
    step = RandomResizedCrop(size, min_area)
    p = step.sample(np.random.default_rng(seed), img, None)
    h, w = img.shape[:2]
    assert p["top"] >= 0 and p["top"] + p["height"] <= h and p["left"] >= 0 and p["left"] + p["width"] <= w
    assert p["height"] * p["width"] >= min_area * h * w
    assert step.apply(img, p).shape == (size, size, 3)


@given(img=images)
def test_zero_brightness_and_contrast_change_is_the_identity(img: np.ndarray) -> None:
    assert np.array_equal(ops.brightness_contrast(img, 0.0, 0.0), img)


@given(img=images, delta=st.floats(0.01, 0.5))
def test_brightness_moves_the_mean_the_right_way(img: np.ndarray, delta: float) -> None:
    assert ops.brightness_contrast(img, delta, 0.0).mean() >= img.mean()
    assert ops.brightness_contrast(img, -delta, 0.0).mean() <= img.mean()


unit = st.floats(0.0, 1.0, width=32, allow_subnormal=False)
spread = st.floats(0.0625, 2.0, width=32, allow_subnormal=False)


@settings(max_examples=30)
@given(img=images, mean=st.tuples(unit, unit, unit), std=st.tuples(spread, spread, spread))
def test_normalize_of_uint8_is_exactly_the_per_pixel_formula(
    img: np.ndarray, mean: tuple[float, float, float], std: tuple[float, float, float]
) -> None:
    expected = (img.astype(np.float32) / np.float32(255.0) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    got = ops.normalize(img, mean, std)
    assert got.dtype == np.float32 and np.array_equal(got, expected)


@settings(max_examples=30)
@given(img=images, table=arrays(np.uint8, 256))
def test_apply_table_maps_every_value_and_leaves_the_input_alone(img: np.ndarray, table: np.ndarray) -> None:
    before = img.copy()
    view = img[:, ::-1]  # not contiguous
    got = ops.apply_table(view, table)
    assert np.array_equal(got, table[view]) and np.array_equal(img, before)


def test_hflip_never_flips_the_listed_classes() -> None:
    step = HFlip(1.0, never=("6", "9"))
    rng = np.random.default_rng(0)
    img = np.zeros((4, 4, 3), np.uint8)
    assert step.sample(rng, img, "6") == {"flip": False}
    assert step.sample(rng, img, "7") == {"flip": True}
    written = Pipeline.from_dict(tomllib.loads('augment = [{ step = "hflip", p = 1.0, never = [6, 9] }]')).augment[0]
    assert written == step and written.sample(rng, img, "9") == {"flip": False}  # numbers in TOML name classes too


def test_whitening_decorrelates_the_channels_of_real_images(photos_dir: Path) -> None:
    photos = [decode(p, max_side=128) for p in sorted(photos_dir.iterdir())]
    pixels = np.concatenate([p.reshape(-1, 3) for p in photos])
    before = np.corrcoef(pixels.T.astype(np.float64))
    assert before[0, 1] > 0.5  # real photos: strongly correlated channels
    step = Whiten().fit(pixels)
    white = np.concatenate([step.apply(p, {}).reshape(-1, 3) for p in photos]).astype(np.float64)
    cov = np.cov(white.T)
    corr = np.corrcoef(white.T)
    assert np.abs(corr - np.eye(3)).max() < 0.02, corr  # decorrelated
    assert np.allclose(np.diag(cov), 1.0, atol=0.05), cov  # unit variance, up to the eps that guards flat channels
    assert np.allclose(white.mean(axis=0), 0, atol=1e-3)


def test_an_unfitted_whitening_refuses_to_run() -> None:
    with pytest.raises(ConfigError, match="not fitted"):
        Whiten().apply(np.zeros((2, 2, 3), np.uint8), {})


def test_align_eyes_levels_a_tilted_face_and_passes_other_images(photos_dir: Path) -> None:
    face = decode(photos_dir / "astronaut.png")
    step = AlignEyes()
    for degrees in (-12.0, 10.0):
        tilted = ops.rotate(face, degrees, (256.0, 256.0))
        params = step.sample(np.random.default_rng(0), tilted, None)
        assert params["face"] and abs(params["angle"]) > 5
        eyes = find_eyes(step.apply(tilted, params))
        assert eyes is not None and abs(eyes.angle) < 3.0, eyes
        moved = np.subtract(eyes.center, params["center"])
        assert np.hypot(*moved) < 8, moved  # turned about the point between the eyes, which stays where it was
    orange = decode(photos_dir / "orange.jpg", max_side=256)
    params = step.sample(np.random.default_rng(0), orange, None)
    assert params == {"face": False}
    assert step.apply(orange, params) is orange


@pytest.mark.parametrize("large_on_the_left", [True, False])
def test_the_eyes_are_those_of_the_largest_face(photos_dir: Path, large_on_the_left: bool) -> None:
    """Two faces side by side, one at 5/8 the size of the other, either way round: the eyes found are the large
    face's."""
    face = decode(photos_dir / "astronaut.png")  # 512 x 512
    small = ops.resize(face, 320, 320)
    canvas = np.full((512, 900, 3), 128, np.uint8)
    large_at, small_at = (0, 560) if large_on_the_left else (388, 20)
    canvas[:, large_at : large_at + 512] = face
    canvas[96:416, small_at : small_at + 320] = small
    eyes = find_eyes(canvas)
    assert eyes is not None
    assert all(large_at <= x < large_at + 512 for x in (eyes.left[0], eyes.right[0])), eyes


def test_the_eye_line_joins_the_centres_of_the_two_largest_eye_boxes() -> None:
    """Of three eye boxes the one of least area is dropped, though it lies between the others, is taller than one
    and wider for its height than the other (so keeping the widest, tallest or smallest boxes would keep it); the
    centres are the boxes' middles moved by the face's corner, left-most first, whatever order the boxes come in."""
    wide = (10, 20, 24, 10)  # 240 px, centre (22, 25)
    small = (40, 12, 14, 14)  # 196 px
    tall = (70, 8, 10, 25)  # 250 px, centre (75, 20.5)
    for boxes in permutations([wide, small, tall]):
        line = eye_line((100, 200), list(boxes))
        assert line == EyeLine(left=(122.0, 225.0), right=(175.0, 220.5)), (boxes, line)
    assert eye_line((100, 200), [wide]) is None
    assert eye_line((0, 0), []) is None


def test_edges_of_a_flat_image_are_zero_and_of_a_photo_are_not(photos_dir: Path) -> None:
    assert not ops.extract_edges(np.full((16, 16, 3), 90, np.uint8)).any()
    edges = ops.extract_edges(decode(photos_dir / "building.jpg", max_side=128))
    assert edges.max() == 255 and edges.mean() > 5


# -- pipelines ------------------------------------------------------------------------------------------------------

pixel_steps = st.sampled_from(
    [Resize(40), CenterCrop(32), Grey(), EnhanceEdges(0.5, 1.0), Edges(), HFlip(0.3, ("a",)), BrightnessContrast()]
)
augment_steps = st.sampled_from([HFlip(0.5), RandomResizedCrop(32, 0.5), BrightnessContrast(0.1, 0.4)])
tensor_tails = st.sampled_from([(), (Normalize(),), (Normalize(), EXAMPLES["whiten"])])
pipelines = st.builds(
    lambda pre, tail, aug: Pipeline(tuple(pre) + tail, tuple(aug)),
    st.lists(pixel_steps, max_size=4),
    tensor_tails,
    st.lists(augment_steps, max_size=3),
)


@given(pipeline=pipelines)
def test_a_pipeline_serializes_to_a_dict_and_back_exactly(pipeline: Pipeline) -> None:
    data = pipeline.to_dict()
    assert Pipeline.from_dict(data) == pipeline
    assert Pipeline.from_dict(json.loads(json.dumps(data))) == pipeline
    assert Pipeline.from_dict(tomllib.loads(pipeline_toml(pipeline))["pipeline"]) == pipeline
    assert Pipeline.from_dict(data).preprocess_hash() == pipeline.preprocess_hash()


@settings(max_examples=30, deadline=None)
@given(img=images, seed=seeds)
def test_the_same_seed_gives_the_same_training_sample(img: np.ndarray, seed: int) -> None:
    pipeline = Pipeline((Resize(40), CenterCrop(32), Normalize()), default_pipeline().augment[1:])
    a = pipeline(img, np.random.default_rng(seed), train=True)
    b = pipeline(img, np.random.default_rng(seed), train=True)
    assert np.array_equal(a, b)
    assert np.array_equal(pipeline(img), pipeline(img, np.random.default_rng(seed)))  # no augmentation at prediction


def test_other_seeds_give_other_training_samples() -> None:
    """The generator passed for training is the one the augment steps draw from: ten seeds, ten different crops
    (one fixed generator would give every epoch the same augmentation)."""
    pipeline = Pipeline((Resize(40),), (RandomResizedCrop(24, 0.3), BrightnessContrast(0.3, 0.3)))
    img = np.random.default_rng(13).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    samples = {pipeline(img, np.random.default_rng(seed), train=True).tobytes() for seed in range(10)}
    assert len(samples) == 10


def test_a_pipeline_called_for_training_augments_and_honours_the_label() -> None:
    """pipeline(img, rng, label, train=True) runs the augment steps, with the label reaching HFlip's never."""
    pipeline = Pipeline((Resize(32),), (HFlip(1.0, never=("people",)),))
    img = np.random.default_rng(11).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    plain = pipeline(img)
    assert not np.array_equal(plain, ops.hflip(plain))  # a flip shows
    flipped = pipeline(img, np.random.default_rng(0), "smileys", train=True)
    assert np.array_equal(flipped, ops.hflip(plain))
    assert np.array_equal(pipeline(img, np.random.default_rng(0), "people", train=True), plain)


def test_a_trace_names_every_step_run_with_its_parameters() -> None:
    """trace() gives what __call__ gives and, in order, each step run with what it drew: the augment steps only for
    training, where the label reaches them, and the tensor steps last, with nothing drawn."""
    pipeline = Pipeline((Resize(32), CenterCrop(24), Normalize()), (HFlip(1.0, never=("people",)),))
    img = np.random.default_rng(12).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    out, steps = pipeline.trace(img)
    assert np.array_equal(out, pipeline(img)) and out.dtype == np.float32
    assert steps == [("resize", {}), ("center_crop", {}), ("normalize", {})]
    out, steps = pipeline.trace(img, np.random.default_rng(0), "people", train=True)
    assert np.array_equal(out, pipeline(img))
    assert steps == [("resize", {}), ("center_crop", {}), ("hflip", {"flip": False}), ("normalize", {})]
    assert pipeline.trace(img, np.random.default_rng(0), "smileys", train=True)[1][2] == ("hflip", {"flip": True})


def test_a_fit_samples_each_images_pixels_without_replacement() -> None:
    """With one pixel fewer sampled than the image has, the fitted mean can differ from the image's only by what
    leaving one pixel out moves it; a sample with replacement strays about ten times as far."""
    img = np.random.default_rng(10).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    fitted = Pipeline((Whiten(),)).fit([img], pixels_per_image=399).preprocess[0]
    assert isinstance(fitted, Whiten)
    pixels = img.reshape(-1, 3) / 255.0
    one_left_out = np.abs(pixels - pixels.mean(axis=0)).max(axis=0) / 399
    assert (np.abs(np.asarray(fitted.mean) - pixels.mean(axis=0)) <= one_left_out + 1e-12).all()


FITTED = {("whiten", "mean"), ("whiten", "matrix")}  # state a fit computes, not settings a person writes


def _as_setting(value: object, number: float) -> object | None:
    """``number`` in the form of ``value``: an int or float, or a tuple of them all set to it; None for others."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return type(value)(number)
    if isinstance(value, tuple) and value and all(isinstance(v, int | float) for v in value):
        return tuple(type(v)(number) for v in value)
    return None


def _documented_settings() -> dict[tuple[str, str], tuple[float, float, object]]:
    """docs/preprocess.md's table of settings: (step, setting) -> (low, high, default)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "preprocess.md").read_text(encoding="utf-8")
    row = re.compile(r"^\| `(\w+)` \| `(\w+)`[^|]*\| \[(\S+), (\S+)\] \| (.+) \|$", re.M)
    return {(m[1], m[2]): (float(m[3]), float(m[4]), tomllib.loads(f"v = {m[5]}")["v"]) for m in row.finditer(text)}


def test_every_setting_is_documented_with_its_range_and_default_and_held_to_it() -> None:
    """The docs' table names every number a step takes; each end of its range is accepted, a step beyond refused
    with a message naming the step and the setting, and its default is the step's."""
    documented = _documented_settings()
    numbers = {
        (name, field.name): (example, field)
        for name, example in EXAMPLES.items()
        for field in fields(example)
        if (name, field.name) not in FITTED and _as_setting(getattr(example, field.name), 0) is not None
    }
    assert set(documented) == set(numbers)
    for (name, setting), (low, high, default) in documented.items():
        example, field = numbers[(name, setting)]
        value = getattr(example, setting)
        step = 1 if isinstance(value, int) else max(abs(low), abs(high)) * 1e-6
        for bound, beyond in ((low, low - step), (high, high + step)):
            replace(example, **{setting: _as_setting(value, bound)})  # accepted
            with pytest.raises(ConfigError, match=re.escape(f"The '{name}.{setting}' parameter must be")):
                replace(example, **{setting: _as_setting(value, beyond)})
        assert getattr(replace(example, **{setting: default}), setting) == field.default, (name, setting)


def test_a_pipeline_given_lists_holds_tuples() -> None:
    """Steps given as lists are kept as tuples: the pipeline is a frozen value, equal to and hashed as the same
    pipeline given tuples."""
    listed = Pipeline([Resize(32), CenterCrop(16)], [HFlip(0.5)])  # type: ignore[arg-type]
    exact = Pipeline((Resize(32), CenterCrop(16)), (HFlip(0.5),))
    assert listed == exact and hash(listed) == hash(exact)


def test_tuples_of_numbers_are_kept_as_tuples_of_floats() -> None:
    """Whole numbers in lists (as TOML or a fit file gives them) are kept as tuples of floats: the same step, and
    the same preprocess hash, as written with floats."""
    toml = """
    preprocess = [
        { step = "normalize", mean = [0, 1, 0], std = [1, 2, 1] },
        { step = "whiten", mean = [0, 1, 0], matrix = [[1, 0, 0], [0, 2, 0], [0, 0, 1]] },
    ]
    augment = [{ step = "random_resized_crop", size = 32, ratio = [1, 2] }]
    """
    written = Pipeline.from_dict(tomllib.loads(toml))
    exact = Pipeline(
        (
            Normalize((0.0, 1.0, 0.0), (1.0, 2.0, 1.0)),
            Whiten(1e-4, (0.0, 1.0, 0.0), ((1.0, 0.0, 0.0), (0.0, 2.0, 0.0), (0.0, 0.0, 1.0))),
        ),
        (RandomResizedCrop(32, 0.7, (1.0, 2.0)),),
    )
    assert written == exact and written.preprocess_hash() == exact.preprocess_hash()
    normalize, whiten = written.preprocess
    crop = written.augment[0]
    assert isinstance(normalize, Normalize) and isinstance(whiten, Whiten) and isinstance(crop, RandomResizedCrop)
    numbers = [*normalize.mean, *normalize.std, *whiten.mean, *(v for row in whiten.matrix for v in row), *crop.ratio]
    assert all(type(v) is float for v in numbers)


def test_preprocess_hash_changes_with_any_preprocess_setting_only() -> None:
    base = default_pipeline()
    other_size = Pipeline((Resize(300), *base.preprocess[1:]), base.augment)
    other_augment = Pipeline(base.preprocess, ())
    assert other_size.preprocess_hash() != base.preprocess_hash()
    assert other_augment.preprocess_hash() == base.preprocess_hash()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"preprocess": [{"step": "blur"}]}, "Unknown pipeline step 'blur' in preprocess. Known: align_eyes, bri"),
        ({"augment": [{"step": "blur"}]}, "Unknown pipeline step 'blur' in augment. Known: "),
        ({"preprocess": [{"step": "resize", "side": 3}]}, r"setting\(s\) side for step 'resize'. Known: size\."),
        ({"augment": [{"step": "hflip", "q": 1, "a": 2}]}, r"setting\(s\) a, q for step 'hflip'. Known: never, p\."),
        ({"preprocess": [{"step": "grey", "at": 3}]}, r"Unknown setting\(s\) at for step 'grey'. Known: \(none\)"),
        ({"preprocess": [{"size": 32}]}, "must be a table with a 'step'"),
        ({"augment": ["hflip"]}, "Each \\[pipeline\\] augment entry must be a table"),
        ({"preprocess": [{"step": "resize", "size": 5000}]}, r"'resize.size' parameter must be an int in \[8, 4096\]"),
        ({"preprocess": [{"step": "normalize", "std": [1, 1]}]}, "'normalize.std' parameter must be three numbers"),
        (
            {"preprocess": [{"step": "normalize"}, {"step": "grey"}]},
            r"^In \[pipeline\] preprocess, normalize and whiten must come after every pixel step\.$",
        ),
        ({"augment": [{"step": "normalize"}]}, "belongs in preprocess"),
        ({"preprocess": ["resize"]}, "must be a table with a 'step'"),
        ({"steps": [], "post": []}, r"Unknown key\(s\) in \[pipeline\]: post, steps. Known: preprocess, augment\."),
    ],
)
def test_bad_pipeline_specs_say_what_is_wrong(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Pipeline.from_dict(data)
