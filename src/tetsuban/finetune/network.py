"""The network being fine-tuned: a timm backbone with its pretrained weights and a linear classifier; and a
fine-tuned model's network read back from its folder (for Grad-CAM and the doctor's checks)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tetsuban.backbones.registry import backbone_spec, build_torch
from tetsuban.errors import ImageError
from tetsuban.learn.artifact import Artifact
from tetsuban.learn.card import FinetunedHeadCard
from tetsuban.pipeline.inputs import model_input, to_batch

if TYPE_CHECKING:
    import torch


def build_network(backbone: str, weights: Path | None, classes: int) -> torch.nn.Module:
    """The pretrained backbone (as the project's embeddings use it) with a fresh ``classes``-way classifier."""
    network = build_torch(backbone, weights)
    network.reset_classifier(classes)  # type: ignore[operator]  # timm models have it
    return network


def classifier_of(network: torch.nn.Module) -> torch.nn.Linear:
    """The network's final linear layer (timm's ``get_classifier``)."""
    import torch

    layer = network.get_classifier()  # type: ignore[operator]
    if not isinstance(layer, torch.nn.Linear):
        raise TypeError(f"Fine-tuning needs a linear classifier; this model's is {type(layer).__name__}.")
    return layer


def network_weights(artifact: Artifact) -> Path | None:
    """The fine-tuned network's weights file in ``artifact``, or None for a model without one (a probe)."""
    head = artifact.card.head
    path = artifact.folder / head.weights if isinstance(head, FinetunedHeadCard) else None
    return path if path is not None and path.is_file() else None


def load_network(artifact: Artifact) -> torch.nn.Module:
    """The artifact's fine-tuned network in torch, in evaluation mode; offline (no pretrained weights are fetched)."""
    import timm
    from safetensors.torch import load_file

    path = network_weights(artifact)
    if path is None:
        raise ValueError(f"{artifact.folder} keeps no network weights: only fine-tuned models have Grad-CAM.")
    spec = backbone_spec(artifact.card.backbone.name)
    network = timm.create_model(spec.timm_name, pretrained=False, num_classes=len(artifact.classes))
    network.load_state_dict(load_file(str(path)))
    return network.eval()


def network_embeddings(network: torch.nn.Module, artifact: Artifact, files: Sequence[Path]) -> dict[int, np.ndarray]:
    """The pooled features (what the classifier reads) of each readable file, by position, computed in torch on the
    prediction-time preprocessing: what the network computed while it was validated in training."""
    import torch

    found = {}
    with torch.inference_mode():
        for row, path in enumerate(files):
            try:
                batch = torch.from_numpy(to_batch([model_input(path, artifact.pipeline)]))
            except (ImageError, OSError):
                continue
            features = network.forward_head(network.forward_features(batch), pre_logits=True)  # type: ignore[operator]
            found[row] = features[0].float().numpy()
    return found
