"""The network's stages: what learns in each, and the learning rates of its parameter groups."""

from __future__ import annotations

import pytest
import torch

from tetsuban.finetune.network import body_groups, build_network, classifier_of, parameter_groups, set_stage


@pytest.fixture(scope="module")
def network() -> torch.nn.Module:
    return build_network("efficientnet_lite0", None, 3)


def _step(network: torch.nn.Module, stage: str) -> dict[str, torch.Tensor]:
    """One AdamW step on a random batch in ``stage``; returns the state before it."""
    torch.manual_seed(0)
    set_stage(network, stage)
    before = {k: v.detach().clone() for k, v in network.state_dict().items()}
    optimizer = torch.optim.AdamW(parameter_groups(network, stage, 1e-2, (1e-3, 1e-3, 1e-3)))
    loss = torch.nn.functional.cross_entropy(network(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    optimizer.step()
    return before


def _changed(network: torch.nn.Module, before: dict[str, torch.Tensor]) -> set[str]:
    return {k for k, v in network.state_dict().items() if not torch.equal(v, before[k])}


def test_the_head_stage_moves_the_classifier_alone(network: torch.nn.Module) -> None:
    before = _step(network, "head")
    assert _changed(network, before) == {"classifier.weight", "classifier.bias"}


def test_the_body_stage_moves_the_body_but_not_batch_norm_statistics(network: torch.nn.Module) -> None:
    before = _step(network, "body")
    changed = _changed(network, before)
    assert "conv_stem.weight" in changed and "classifier.weight" in changed
    assert not {k for k in changed if "running_" in k or "num_batches" in k}


def test_body_groups_split_the_body_in_order(network: torch.nn.Module) -> None:
    groups = body_groups(network, 3)
    head = {id(p) for p in classifier_of(network).parameters()}
    ordered = [p for p in network.parameters() if id(p) not in head]
    assert [id(p) for group in groups for p in group] == [id(p) for p in ordered]
    sizes = [sum(p.numel() for p in group) for group in groups]
    assert len(groups) == 3 and max(sizes) < 2.5 * min(sizes)


def test_the_head_gets_its_own_rate_after_the_body(network: torch.nn.Module) -> None:
    groups = parameter_groups(network, "body", 1e-3, (1e-5, 5e-5, 2.5e-4))
    assert [g["lr"] for g in groups] == [1e-5, 5e-5, 2.5e-4, 1e-3]
    assert groups[-1]["params"] == list(classifier_of(network).parameters())
    assert [g["lr"] for g in parameter_groups(network, "head", 3e-3, (1e-5,))] == [3e-3]
