"""The ONNX graph computes what the torch model computes, and is exported once per weights hash."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from tetsuban.backbones import build_torch
from tetsuban.backbones.onnx_export import EMBEDDING_NAME, INPUT_NAME, ExportedBackbone, export_backbone
from tetsuban.backbones.taps import TAP_SCALE, embedding_module
from tetsuban.pipeline.inputs import model_input, to_batch
from tetsuban.pipeline.spec import default_pipeline
from tetsuban.runtime import open_session

PHOTOS = ("squirrel_cls.jpg", "astronaut.png", "building.jpg", "starry_night.jpg", "coffee.png")


def _batch(photos_dir: Path) -> np.ndarray:
    return to_batch([model_input(photos_dir / name, default_pipeline()) for name in PHOTOS])


def test_onnx_and_torch_embeddings_agree_within_1e_4(lite0_onnx: ExportedBackbone, photos_dir: Path) -> None:
    batch = _batch(photos_dir)  # (5, 3, 224, 224) real photos, preprocessed as tetsuban does
    torch.set_num_threads(1)
    network = build_torch("efficientnet_lite0")
    with torch.no_grad():
        expected = embedding_module(network, lite0_onnx.taps)(torch.from_numpy(batch)).numpy()
    got = open_session(lite0_onnx.path).run([EMBEDDING_NAME], {INPUT_NAME: batch})[0]
    assert got.shape == expected.shape == (5, 1280 + 192)
    assert np.abs(got - expected).max() < 1e-4
    assert np.abs(expected).mean() > 0.05  # real features, not zeros that would agree trivially


def test_the_embedding_is_the_pooled_features_then_block_5s_scaled_spatial_mean(
    lite0_onnx: ExportedBackbone, photos_dir: Path
) -> None:
    batch = torch.from_numpy(_batch(photos_dir))
    torch.set_num_threads(1)
    network = build_torch("efficientnet_lite0")
    seen: list[torch.Tensor] = []
    network.blocks[5].register_forward_hook(lambda _module, _inputs, output: seen.append(output))
    with torch.no_grad():
        pooled = network(batch).numpy()  # timm's own forward: the pooled features, classifier removed
    got = open_session(lite0_onnx.path).run([EMBEDDING_NAME], {INPUT_NAME: batch.numpy()})[0]
    assert lite0_onnx.taps == (5,) and seen[0].shape == (5, 192, 7, 7)
    assert np.abs(got[:, :1280] - pooled).max() < 1e-4
    assert np.abs(got[:, 1280:] - TAP_SCALE * seen[0].mean(dim=(2, 3)).numpy()).max() < 1e-4


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
    assert lite0_onnx.weights_sha256[:16] in lite0_onnx.path.name and "+b5" in lite0_onnx.path.name
    assert lite0_onnx.key.startswith("efficientnet_lite0@") and lite0_onnx.key.endswith("/224+b5")


def test_a_backbone_without_taps_keeps_the_key_it_had_before_taps(lite0_onnx: ExportedBackbone) -> None:
    untapped = replace(lite0_onnx, taps=())
    assert untapped.key == f"efficientnet_lite0@{lite0_onnx.weights_sha256[:16]}/224"
    assert replace(lite0_onnx, taps=(4, 5)).key == f"{untapped.key}+b4.5"


def test_other_weights_are_another_export(lite0_onnx: ExportedBackbone, tmp_path: Path) -> None:
    state = build_torch("efficientnet_lite0", classifier=True).state_dict()
    state["conv_stem.weight"] = state["conv_stem.weight"] * 0.5
    path = tmp_path / "lite0-tweaked.pth"
    torch.save(state, path)
    tweaked = export_backbone("efficientnet_lite0", weights=path, cache=tmp_path / "cache")
    assert tweaked.weights_sha256 != lite0_onnx.weights_sha256 and tweaked.key != lite0_onnx.key
    assert tweaked.path.is_file() and tweaked.path != lite0_onnx.path
