"""The ONNX graph computes what the torch model computes, and is exported once per weights hash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tetsuban.backbones import build_torch
from tetsuban.backbones.onnx_export import EMBEDDING_NAME, INPUT_NAME, ExportedBackbone, export_backbone
from tetsuban.pipeline.inputs import model_input, to_batch
from tetsuban.pipeline.spec import default_pipeline
from tetsuban.runtime import open_session

PHOTOS = ("squirrel_cls.jpg", "astronaut.png", "building.jpg", "starry_night.jpg", "coffee.png")


def _batch(photos_dir: Path) -> np.ndarray:
    return to_batch([model_input(photos_dir / name, default_pipeline()) for name in PHOTOS])


def test_onnx_and_torch_embeddings_agree_within_1e_4(lite0_onnx: ExportedBackbone, photos_dir: Path) -> None:
    batch = _batch(photos_dir)  # (5, 3, 224, 224) real photos, preprocessed as tetsuban does
    torch.set_num_threads(1)
    with torch.no_grad():
        expected = build_torch("efficientnet_lite0")(torch.from_numpy(batch)).numpy()
    got = open_session(lite0_onnx.path).run([EMBEDDING_NAME], {INPUT_NAME: batch})[0]
    assert got.shape == expected.shape == (5, 1280)
    assert np.abs(got - expected).max() < 1e-4
    assert np.abs(expected).mean() > 0.05  # real features, not zeros that would agree trivially


def test_one_image_and_a_batch_give_the_same_embedding(lite0_onnx: ExportedBackbone, photos_dir: Path) -> None:
    batch = _batch(photos_dir)
    session = open_session(lite0_onnx.path)
    together = session.run([EMBEDDING_NAME], {INPUT_NAME: batch})[0]
    alone = session.run([EMBEDDING_NAME], {INPUT_NAME: batch[2:3]})[0]
    assert np.abs(together[2] - alone[0]).max() < 1e-5


def test_the_export_is_cached_by_weights_hash(lite0_onnx: ExportedBackbone, tmp_path: Path) -> None:
    stamp = lite0_onnx.path.stat().st_mtime_ns
    again = export_backbone("efficientnet_lite0")
    assert again == lite0_onnx and again.path.stat().st_mtime_ns == stamp  # not exported a second time
    assert lite0_onnx.weights_sha256[:16] in lite0_onnx.path.name
    assert lite0_onnx.key.startswith("efficientnet_lite0@") and lite0_onnx.key.endswith("/224")


def test_other_weights_are_another_export(lite0_onnx: ExportedBackbone, tmp_path: Path) -> None:
    state = build_torch("efficientnet_lite0", classifier=True).state_dict()
    state["conv_stem.weight"] = state["conv_stem.weight"] * 0.5
    path = tmp_path / "lite0-tweaked.pth"
    torch.save(state, path)
    tweaked = export_backbone("efficientnet_lite0", weights=path, cache=tmp_path / "cache")
    assert tweaked.weights_sha256 != lite0_onnx.weights_sha256 and tweaked.key != lite0_onnx.key
    assert tweaked.path.is_file() and tweaked.path != lite0_onnx.path
