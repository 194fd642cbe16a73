"""The preprocessing inside a standalone graph computes the pixels tetsuban's pipeline computes, on real images of
every size class: enlarged (emoji, fashion-mnist), shrunk by less than 2x (bilinear) and by more (area averaging)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tetsuban import ConfigError
from tetsuban.deploy.graph_parts import GraphParts
from tetsuban.deploy.preprocess_graph import IMAGE_INPUT, preprocessing_graph
from tetsuban.imaging.decode import decode
from tetsuban.pipeline.spec import Pipeline
from tetsuban.pipeline.transforms import AlignEyes, CenterCrop, Edges, Grey, Normalize, Resize, Whiten
from tetsuban.runtime import open_session

OUT = "preprocessed"


def run_preprocessing(pipeline: Pipeline, images: np.ndarray) -> np.ndarray:
    """The graph's output for uint8 ``images`` (N, H, W, 3), back in (N, H, W, C) order."""
    from onnx import TensorProto, helper

    parts = GraphParts("test_")
    preprocessing_graph(pipeline, OUT, parts)
    graph = helper.make_graph(
        parts.nodes,
        "preprocessing",
        [helper.make_tensor_value_info(IMAGE_INPUT, TensorProto.UINT8, ["n", "h", "w", 3])],
        [helper.make_tensor_value_info(OUT, TensorProto.FLOAT, None)],
        parts.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    return open_session(model.SerializeToString()).run(None, {IMAGE_INPUT: images})[0].transpose(0, 2, 3, 1)


def levels_apart(pipeline: Pipeline, img: np.ndarray) -> np.ndarray:
    """How many uint8 levels (or normalized units) the graph's output differs from the pipeline's for ``img``."""
    ours = run_preprocessing(pipeline, img[None])[0]
    return np.abs(ours - pipeline(img).astype(np.float32))


@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("butterfly.jpg", "shrunk 1.4x: bilinear, in OpenCV's fixed point"),
        ("coffee.png", "shrunk 1.6x: bilinear, in OpenCV's fixed point"),
        ("apple.jpg", "shrunk 4.6x: area, no whole ratio"),
        ("starry_night.jpg", "shrunk 5.4x: area, no whole ratio"),
    ],
)
def test_photos_resized_and_cropped_in_the_graph_get_the_pipelines_pixels(
    photos_dir: Path, name: str, how: str
) -> None:
    pipeline = Pipeline((Resize(112), CenterCrop(96)))
    apart = levels_apart(pipeline, decode(photos_dir / name))
    assert apart.shape == (96, 96, 3)
    assert apart.max() <= 1 and (apart == 0).mean() > 0.999, how  # area sums in float32: a rare pixel rounds over


def test_a_whole_ratio_shrink_rounds_halves_up_as_opencv_does(photos_dir: Path) -> None:
    img = decode(photos_dir / "baboon.jpg")  # 512 x 512 to 256: 2x, OpenCV's integer area path
    assert levels_apart(Pipeline((Resize(256),)), img).max() == 0


def fashion_image(fashion_dir: Path, index: int) -> np.ndarray:
    """Fashion-mnist test image ``index`` as tetsuban decodes its PNG: grey in three channels, 28 x 28."""
    from tetsuban.ingest.idx import read_idx

    grey = read_idx(fashion_dir / "t10k-images-idx3-ubyte.gz")[index]
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def test_small_images_enlarged_in_the_graph_get_the_pipelines_pixels(emoji_dir: Path, fashion_dir: Path) -> None:
    pipeline = Pipeline((Resize(256), CenterCrop(224)))
    images = [decode(p) for p in sorted(emoji_dir.glob("1f60*.png"))[:3]] + [fashion_image(fashion_dir, 7)]
    for img in images:
        apart = levels_apart(pipeline, img)
        assert apart.shape == (224, 224, 3) and apart.max() == 0


def test_a_crop_larger_than_the_image_enlarges_it_first_as_the_pipeline_does(fashion_dir: Path) -> None:
    apart = levels_apart(Pipeline((CenterCrop(40),)), fashion_image(fashion_dir, 3))
    assert apart.shape == (40, 40, 3) and apart.max() <= 1 and (apart == 0).mean() > 0.99  # see resize_graph


def test_a_crop_of_a_wide_image_keeps_its_centre(photos_dir: Path) -> None:
    img = decode(photos_dir / "building.jpg")  # 868 x 600: no resize, only the window
    apart = levels_apart(Pipeline((CenterCrop(300),)), img)
    assert apart.max() == 0


def test_grey_normalize_and_whiten_match_the_pipeline_to_float_precision(photos_dir: Path) -> None:
    img = decode(photos_dir / "fruits.jpg")
    sample = img[::8, ::8].reshape(-1, 3)
    whiten = Whiten().fit(sample)
    for tensor_steps in [(Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),), (whiten,)]:
        pipeline = Pipeline((CenterCrop(200), Grey(), *tensor_steps))
        exact = Pipeline((CenterCrop(200), Grey()))
        grey_apart = levels_apart(exact, img)
        assert grey_apart.max() <= 1 and (grey_apart == 0).mean() > 0.99
        assert levels_apart(pipeline, img).max() < 0.05  # one grey level at most, in normalized units


def test_a_batch_gives_each_image_what_it_gets_alone(photos_dir: Path) -> None:
    pipeline = Pipeline((Resize(72), CenterCrop(64), Normalize()))
    img = decode(photos_dir / "apple.jpg")
    pair = np.stack([img, img[::-1].copy()])
    together = run_preprocessing(pipeline, pair)
    assert np.array_equal(together[0], run_preprocessing(pipeline, pair[:1])[0])
    assert np.array_equal(together[1], run_preprocessing(pipeline, pair[1:])[0])


@pytest.mark.parametrize(("step", "words"), [(AlignEyes(), "detector"), (Edges(), "not built")])
def test_a_step_without_a_graph_form_is_refused_by_name(step: object, words: str) -> None:
    pipeline = Pipeline((step, Resize(256), CenterCrop(224), Normalize()))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=f"'{step.name}' step: .*{words}"):  # type: ignore[attr-defined]
        preprocessing_graph(pipeline, OUT, GraphParts("test_"))


def test_every_step_that_claims_a_graph_form_has_one() -> None:
    from tetsuban.pipeline.transforms import TRANSFORMS

    fitted = Whiten().fit(np.arange(30, dtype=np.uint8).reshape(10, 3) * 8)
    claimed = [fitted if kind is Whiten else kind() for kind in TRANSFORMS.values() if not kind.no_graph_form]
    assert {type(step).__name__ for step in claimed} == {"Resize", "CenterCrop", "Grey", "Normalize", "Whiten"}
    pixels = [step for step in claimed if step.stage == "pixels"]
    tensors = [step for step in claimed if step.stage == "tensor"]
    out = run_preprocessing(Pipeline((*pixels, *tensors)), np.full((1, 300, 260, 3), 90, np.uint8))
    assert out.shape == (1, 224, 224, 3) and np.isfinite(out).all()
