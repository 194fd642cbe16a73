"""The frozen lower part as an ONNX Runtime graph: what the torch lower part computes, exported once per backbone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import write_fashion_images
from tetsuban.backbones import BACKBONES
from tetsuban.finetune.lower_graph import graph_lower, lower_graph_path
from tetsuban.finetune.network import build_network
from tetsuban.finetune.recipe import LITE0_CUT
from tetsuban.finetune.split import split_network
from tetsuban.pipeline.inputs import model_input, to_batch
from tetsuban.pipeline.spec import default_pipeline

SPEC = BACKBONES["efficientnet_lite0"]


@pytest.fixture(scope="module")
def lower() -> torch.nn.Module:
    network = build_network(SPEC.name, None, 3, SPEC.taps).eval()
    return split_network(network, LITE0_CUT, SPEC.taps)[0]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> torch.Tensor:
    folder = write_fashion_images(fashion_dir, tmp_path_factory.mktemp("lower"), 3)
    pipeline = default_pipeline()
    return torch.from_numpy(to_batch([model_input(path, pipeline) for path in sorted(folder.rglob("*.png"))]))


def test_the_graph_computes_the_torch_lower_parts_outputs_on_real_images(
    tmp_path: Path, lower: torch.nn.Module, batch: torch.Tensor
) -> None:
    with torch.inference_mode():
        expected = lower(batch)
    found = graph_lower(lower, SPEC.input_size, tmp_path / "lower.onnx")(batch)
    assert found.dtype == torch.float32 and found.shape == expected.shape == (3, 40, 28, 28)
    assert float((found - expected).abs().max()) < 1e-3 * float(expected.abs().max())
    assert not torch.equal(found[0], found[1])  # three images, three outputs


def test_the_graph_is_exported_once_beside_the_backbones_and_reused(
    tmp_path: Path, lower: torch.nn.Module, batch: torch.Tensor
) -> None:
    path = lower_graph_path(tmp_path / "tf_efficientnet_lite0-224-0123456789abcdef+b5.onnx", LITE0_CUT)
    assert path == tmp_path / "tf_efficientnet_lite0-224-0123456789abcdef+b5-below3.onnx"
    first = graph_lower(lower, SPEC.input_size, path)(batch)
    written = path.stat().st_mtime_ns
    again = graph_lower(lower, SPEC.input_size, path)(batch)
    assert path.stat().st_mtime_ns == written and np.array_equal(first.numpy(), again.numpy())
    assert not list(tmp_path.glob("*.part"))
