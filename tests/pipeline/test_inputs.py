"""What a model sees: JPEGs decoded at the scale the pipeline allows, inputs named exactly by their digest, and a
pipeline that normalizes otherwise than the backbone's weights expect refused."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tetsuban import ConfigError
from tetsuban.imaging.decode import decode
from tetsuban.pipeline import Pipeline, default_pipeline
from tetsuban.pipeline.inputs import check_model_input, input_digest, model_pixels


def test_a_jpeg_is_decoded_reduced_as_far_as_the_first_resize_allows(photos_dir: Path) -> None:
    """The 600 x 868 photo is decoded at half scale (300 pixels still cover the 256 the resize asks for): what the
    model sees is that decode's, which differs from a full decode's resized."""
    pipeline = default_pipeline()
    photo = photos_dir / "building.jpg"
    reduced = decode(photo, min_side=pipeline.decode_side)
    assert reduced.shape[:2] == (300, 434)
    pixels = model_pixels(photo, pipeline)
    assert np.array_equal(pixels, pipeline.pixels(reduced)[0])
    assert not np.array_equal(pixels, pipeline.pixels(decode(photo))[0])


def test_the_digest_names_the_pixels_their_shape_and_the_tensor_steps() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    pipeline = default_pipeline()
    digest = input_digest(pixels, pipeline)
    assert re.fullmatch(r"[0-9a-f]{32}", digest)
    assert input_digest(pixels.copy(), pipeline) == digest  # the same input, the same name
    changed = pixels.copy()
    changed[0, 0, 0] ^= 1
    assert input_digest(changed, pipeline) != digest
    assert input_digest(pixels.reshape(6, 4, 3), pipeline) != digest  # the same bytes in another shape
    assert input_digest(np.asfortranarray(pixels), pipeline) == digest  # the layout in memory does not matter


def test_a_pipeline_normalizing_otherwise_than_the_weights_is_refused_in_words() -> None:
    pipeline = default_pipeline()  # mean = std = 0.5, EfficientNet-Lite0's convention
    check_model_input(pipeline, 224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    with pytest.raises(ConfigError, match=r"trained on images normalized with mean \[0\.485, 0\.456, 0\.406\]"):
        check_model_input(pipeline, 224, *imagenet)
    for mean, std in (((0.5, 0.5, 0.45), (0.5, 0.5, 0.5)), ((0.5, 0.5, 0.5), (0.5, 0.55, 0.5))):
        with pytest.raises(ConfigError, match="normalize has mean"):  # one number of the six is enough
            check_model_input(pipeline, 224, mean, std)
    check_model_input(pipeline, 224, (0.5005, 0.5, 0.5), (0.5, 0.4995, 0.5))  # within a thousandth: written rounded
    check_model_input(pipeline, 224)  # no convention given: only the shape is checked
    with pytest.raises(ConfigError, match="The backbone takes 256x256 normalized images"):
        check_model_input(pipeline, 256)  # the right type, the wrong size
    unscaled = Pipeline.from_dict({"preprocess": [{"step": "resize", "size": 256}, {"step": "center_crop"}]})
    with pytest.raises(ConfigError, match=r"into uint8 224x224\. End \[pipeline\] preprocess with"):
        check_model_input(unscaled, 224)  # the right size, uint8: no normalize
