"""The network being fine-tuned: a timm backbone with its pretrained weights and a linear classifier; and a
fine-tuned model's network read back from its folder (for Grad-CAM and the doctor's checks)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tetsuban.backbones.registry import backbone_spec, build_torch
from tetsuban.errors import ImageError, ProjectError
from tetsuban.learn.artifact import Artifact
from tetsuban.learn.card import FinetunedHeadCard
from tetsuban.pipeline.inputs import model_input, to_batch

if TYPE_CHECKING:
    import torch


def build_network(backbone: str, weights: Path | None, classes: int, taps: Sequence[int] = ()) -> torch.nn.Module:
    """The pretrained backbone (as the project's embeddings use it) with a fresh ``classes``-way classifier that
    reads its embedding: the pooled features and the ``taps`` blocks' means."""
    return with_classifier(build_torch(backbone, weights), classes, taps)


def with_classifier(network: torch.nn.Module, classes: int, taps: Sequence[int]) -> torch.nn.Module:
    """``network`` with a fresh ``classes``-way linear classifier as wide as its embedding with ``taps``.

    The classifier stays timm's (``get_classifier``, saved as ``classifier.*``), but with taps it reads the
    embedding (backbones.taps), not the pooled features: call the network through that module, never whole."""
    import torch

    from tetsuban.backbones.taps import embedding_width

    network.reset_classifier(classes)  # type: ignore[operator]  # timm models have it
    if taps:
        network.classifier = torch.nn.Linear(embedding_width(network, taps), classes)
    return network


def classifier_of(network: torch.nn.Module) -> torch.nn.Linear:
    """The network's final linear layer (timm's ``get_classifier``)."""
    import torch

    layer = network.get_classifier()  # type: ignore[operator]
    if not isinstance(layer, torch.nn.Linear):
        raise TypeError(f"Fine-tuning needs a linear classifier; this model's is {type(layer).__name__}.")
    return layer


def network_logits(network: torch.nn.Module, taps: Sequence[int], batch: torch.Tensor) -> torch.Tensor:
    """The class scores of ``network`` (built by :func:`with_classifier` with ``taps``) for ``batch``: its
    classifier over its embedding."""
    from tetsuban.backbones.taps import embedding_module

    return classifier_of(network)(embedding_module(network, taps)(batch))


def network_weights(artifact: Artifact) -> Path | None:
    """The fine-tuned network's weights file in ``artifact``, or None for a model without one (a probe)."""
    head = artifact.card.head
    path = artifact.folder / head.weights if isinstance(head, FinetunedHeadCard) else None
    return path if path is not None and path.is_file() else None


def load_network(artifact: Artifact) -> torch.nn.Module:
    """The artifact's fine-tuned network in torch, in evaluation mode; offline (no pretrained weights are fetched)."""
    import timm
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = network_weights(artifact)
    if path is None:
        raise ValueError(f"{artifact.folder} keeps no network weights: only fine-tuned models have Grad-CAM.")
    spec = backbone_spec(artifact.card.backbone.name)
    network = timm.create_model(spec.timm_name, pretrained=False)
    try:
        network = with_classifier(network, len(artifact.classes), artifact.card.backbone.taps)
        network.load_state_dict(load_file(str(path)))
    except (ValueError, RuntimeError, SafetensorError, OSError) as exc:
        raise ProjectError(
            f"{path} does not fit the network {artifact.folder / 'card.json'} describes ({str(exc)[:300]}). "
            "The model folder is damaged: train again, or restore it."
        ) from None
    return network.eval()


def network_embeddings(network: torch.nn.Module, artifact: Artifact, files: Sequence[Path]) -> dict[int, np.ndarray]:
    """The embedding (what the classifier reads) of each readable file, by position, computed in torch on the
    prediction-time preprocessing: what the network computed while it was validated in training."""
    import torch

    from tetsuban.backbones.taps import embedding_module

    embedding = embedding_module(network, artifact.card.backbone.taps)
    found = {}
    with torch.inference_mode():
        for row, path in enumerate(files):
            try:
                batch = torch.from_numpy(to_batch([model_input(path, artifact.pipeline)]))
            except (ImageError, OSError):
                continue
            found[row] = embedding(batch)[0].float().numpy()
    return found
