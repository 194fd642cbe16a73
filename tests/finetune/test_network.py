"""The network cut for fine-tuning: what the lower part is, what learns, and that the parts are the network."""

from __future__ import annotations

import pytest
import timm
import torch

from tetsuban.backbones import BACKBONES
from tetsuban.backbones.taps import check_taps, embedding_module
from tetsuban.finetune.network import build_network, classifier_of, network_logits
from tetsuban.finetune.recipe import recipe_for
from tetsuban.finetune.run import clipped_gradient
from tetsuban.finetune.split import prepare_for_tuning, split_network, training_mode, usable_cut

TAPS = BACKBONES["efficientnet_lite0"].taps


@pytest.fixture(scope="module")
def network() -> torch.nn.Module:
    return build_network("efficientnet_lite0", None, 3, TAPS).eval()


def test_the_two_parts_compute_the_networks_embedding_which_the_classifier_reads(network: torch.nn.Module) -> None:
    lower, upper = split_network(network, 3, TAPS)
    x = torch.randn(2, 3, 96, 96)
    with torch.inference_mode():
        whole = network.forward_head(network.forward_features(x), pre_logits=True)
        embedding = upper(lower(x))
        assert torch.allclose(embedding, embedding_module(network, TAPS)(x), atol=1e-5)
        assert torch.allclose(embedding[:, :1280], whole, atol=1e-5)  # the pooled features first, then block 5
        assert lower(x).shape[1] == 40  # EfficientNet-Lite0's block 2 ends with 40 channels
    assert TAPS == (5,) and embedding.shape[1] == classifier_of(network).in_features == 1280 + 192


def test_taps_outside_the_network_or_below_the_cut_are_refused(network: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="blocks 0 to 6"):
        split_network(network, 3, (7,))
    with pytest.raises(ValueError, match="block 2 is below block 3"):
        split_network(network, 3, (2,))
    with pytest.raises(ValueError, match="EfficientNet-style"):
        check_taps(torch.nn.Linear(2, 2), (1,))


def test_a_model_that_cannot_be_cut_trains_whole() -> None:
    other = timm.create_model("resnet18", pretrained=False, num_classes=3).eval()
    assert usable_cut(other, 3) == 0 and usable_cut(build_network("efficientnet_lite0", None, 3), 9) == 0
    lower, upper = split_network(other, 3)
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(lower(x), x)
        assert torch.allclose(upper(x), other.forward_head(other.forward_features(x), pre_logits=True))


def test_one_step_moves_the_upper_part_and_classifier_but_not_the_lower_part_or_batch_norm(
    network: torch.nn.Module,
) -> None:
    lower, _ = split_network(network, 3, TAPS)
    trained = prepare_for_tuning(network, lower)
    training_mode(network)
    before = {k: v.detach().clone() for k, v in network.state_dict().items()}
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(trained, lr=1e-2)
    logits = network_logits(network, TAPS, torch.randn(4, 3, 64, 64))
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 0]))
    loss.backward()
    optimizer.step()
    changed = {k for k, v in network.state_dict().items() if not torch.equal(v, before[k])}
    moved = {"classifier.weight", "blocks.3.0.conv_pw.weight", "blocks.5.0.conv_pwl.weight", "conv_head.weight"}
    assert moved <= changed
    assert not {k for k in changed if k.startswith(("conv_stem", "bn1", "blocks.0", "blocks.1", "blocks.2"))}
    assert not {k for k in changed if "bn" in k.split(".")[-2]}  # no batch-norm statistic or affine parameter
    assert all(not m.training for m in network.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_a_steps_gradient_is_clipped_to_the_recipes_norm_and_its_norm_before_reported(
    network: torch.nn.Module,
) -> None:
    lower, _ = split_network(network, 3, TAPS)
    trained = prepare_for_tuning(network, lower)
    network.zero_grad()
    logits = network_logits(network, TAPS, torch.randn(4, 3, 64, 64))
    (100 * torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 0]))).backward()
    largest = recipe_for(1000).clip_norm
    before = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in trained]))
    assert before > 2 * largest  # a loss scaled up a hundredfold: a step far past the bound
    assert clipped_gradient(trained, largest) == pytest.approx(float(before), rel=1e-4)
    after = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in trained]))
    assert float(after) == pytest.approx(largest, rel=1e-3)
    network.zero_grad()
