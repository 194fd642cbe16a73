"""A fine-tuned network as a model artifact: its body exported to ONNX like any backbone, its classifier as the
linear head, the card saying how it was trained, and its weights (safetensors) kept for Grad-CAM and later runs."""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tetsuban.backbones.onnx_export import ExportedBackbone, export_graph, state_sha256
from tetsuban.finetune.checkpoint import Progress
from tetsuban.finetune.choice import Kept
from tetsuban.finetune.network import classifier_of
from tetsuban.finetune.recipe import Recipe
from tetsuban.learn.artifact import Artifact, write_artifact
from tetsuban.learn.card import FinetunedHeadCard
from tetsuban.learn.head import LinearHead
from tetsuban.learn.train import Labelled, model_card

if TYPE_CHECKING:
    import torch

    from tetsuban.finetune.run import FinetuneSetup

WEIGHTS_NAME = "network.safetensors"


@dataclass(frozen=True)
class Outcome:
    """What a finished run tells its card: classes, recipe, progress (every epoch's figures), the network kept and
    its validation, the data, the device, the seconds spent training, and what ended it ("recipe": its last epoch;
    "time budget")."""

    classes: tuple[str, ...]
    recipe: Recipe
    progress: Progress
    kept: Kept
    train: Labelled
    val: Labelled | None
    device: str
    seconds: float
    ended_by: str = "recipe"


def export_finetuned(network: torch.nn.Module, outcome: Outcome, setup: FinetuneSetup) -> Artifact:
    """Write ``network`` (its best state) into ``setup.models_dir/<id>/``."""
    from safetensors.torch import save

    from tetsuban.backbones.taps import embedding_module

    network = network.cpu().eval()
    layer = classifier_of(network)
    head = LinearHead(
        outcome.classes,
        layer.weight.detach().numpy().astype(np.float64),
        layer.bias.detach().numpy().astype(np.float64),
    )
    weights = save({k: v.contiguous() for k, v in network.state_dict().items()})
    body = copy.deepcopy(network)
    body.reset_classifier(0)  # type: ignore[operator]  # timm models have it
    base = setup.base
    with tempfile.TemporaryDirectory(prefix="tetsuban-finetune-") as scratch:
        graph = Path(scratch) / "body.onnx"
        export_graph(embedding_module(body, base.taps), base.input_size, graph)
        tuned = ExportedBackbone(base.name, graph, state_sha256(body), base.input_size, base.mean, base.std, base.taps)
        said = _head_card(outcome)
        card = model_card(
            setup.models_dir,
            head,
            said,
            outcome.kept.validation,
            outcome.train,
            outcome.val,
            tuned,
            setup.pipeline,
            setup.seed,
            outcome.seconds,
        )
        card = replace(card, backbone=replace(card.backbone, finetuned_from=setup.base.key))
        return write_artifact(setup.models_dir / card.id, tuned, head, card, {WEIGHTS_NAME: weights})


def _head_card(outcome: Outcome) -> FinetunedHeadCard:
    """The run's recipe and every epoch's figures (the probe is epoch 0), and which was kept and why."""
    history = outcome.progress.history
    kept = outcome.kept
    return FinetunedHeadCard(
        classifier="linear",
        recipe=outcome.recipe.to_dict(),
        device=outcome.device,
        epochs=sum(entry["stage"] == "tune" for entry in history),
        planned_epochs=outcome.recipe.epochs,
        ended_by=outcome.ended_by,
        best_stage=kept.candidate.stage,
        best_epoch=kept.candidate.epoch,
        chosen_by=kept.chosen_by,
        kept=kept.because,
        history=tuple(history),
        weights=WEIGHTS_NAME,
    )
