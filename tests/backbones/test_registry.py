"""Backbones: the default's packaged ImageNet weights really are EfficientNet-Lite0's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tetsuban import ConfigError, decode
from tetsuban.backbones import BACKBONES, backbone_spec, build_torch
from tetsuban.pipeline import Pipeline
from tetsuban.pipeline.transforms import CenterCrop, Normalize, Resize

FOX_SQUIRREL = 335  # ImageNet-1k class index


def _input(photo: Path, name: str) -> torch.Tensor:
    spec = backbone_spec(name)
    pipeline = Pipeline((Resize(256), CenterCrop(spec.input_size), Normalize(spec.mean, spec.std)))
    return torch.from_numpy(pipeline(decode(photo))).permute(2, 0, 1)[None]


def test_the_squirrel_is_a_fox_squirrel_through_the_imagenet_head(photos_dir: Path) -> None:
    torch.set_num_threads(1)
    model = build_torch("efficientnet_lite0", classifier=True)
    with torch.no_grad():
        probabilities = model(_input(photos_dir / "squirrel_cls.jpg", "efficientnet_lite0")).softmax(-1)[0]
    assert int(probabilities.argmax()) == FOX_SQUIRREL
    assert float(probabilities[FOX_SQUIRREL]) > 0.8


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_registered_backbone_gives_pooled_features(name: str, photos_dir: Path) -> None:
    model = build_torch(name)
    with torch.no_grad():
        features = model(_input(photos_dir / "orange.jpg", name))
    assert features.ndim == 2 and features.shape[0] == 1 and features.shape[1] >= 256
    assert torch.isfinite(features).all() and float(features.abs().sum()) > 0


def test_unknown_backbone_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"Unknown backbone 'efficientnet_lite9'.*efficientnet_lite0"):
        backbone_spec("efficientnet_lite9")


def test_weights_of_another_architecture_are_refused_by_name(tmp_path: Path) -> None:
    import timm

    other = tmp_path / "resnet18.pth"
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), other)
    with pytest.raises(ConfigError, match=r"another architecture|do not fit"):
        build_torch("efficientnet_lite0", weights=other)


def test_weights_from_a_local_file_are_used(tmp_path: Path, photos_dir: Path) -> None:
    reference = build_torch("efficientnet_lite0")
    state = {k: v * 1.0 for k, v in build_torch("efficientnet_lite0", classifier=True).state_dict().items()}
    state["conv_stem.weight"] = state["conv_stem.weight"] * 0.5  # a different, still valid, set of weights
    path = tmp_path / "lite0-tweaked.pth"
    torch.save(state, path)
    tweaked = build_torch("efficientnet_lite0", weights=path)
    x = _input(photos_dir / "orange.jpg", "efficientnet_lite0")
    with torch.no_grad():
        assert not np.allclose(reference(x).numpy(), tweaked(x).numpy())
