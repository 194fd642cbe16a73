"""Grad-CAM: where in an image a fine-tuned network found the evidence for a class.

The class score's gradient with respect to the last convolutional feature map, averaged over space, weighs each
channel of that map; their weighted sum, kept where positive and scaled to [0, 1], is the class activation map.
It needs the network in torch, so it is drawn for fine-tuned models, whose artifact keeps the network's weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tetsuban.errors import ImageError
from tetsuban.evaluate.run import Evaluation
from tetsuban.finetune.network import load_network, network_weights
from tetsuban.learn.artifact import Artifact
from tetsuban.pipeline.inputs import model_pixels, to_batch

if TYPE_CHECKING:
    import torch

BLEND = 0.45  # share of the heat map in the overlay


@dataclass(frozen=True)
class ClassMap:
    """One class's activation map on one image: (S, S) values in [0, 1], and the image with it laid over."""

    class_name: str
    heat: np.ndarray
    overlay: np.ndarray  # uint8 (S, S, 3)

    @property
    def found(self) -> bool:
        """Whether the network found any evidence for the class (an all-zero map: none anywhere)."""
        return bool(self.heat.max() > 0)


def class_maps(
    network: torch.nn.Module, artifact: Artifact, path: Path, class_names: Sequence[str]
) -> list[ClassMap] | None:
    """Grad-CAM of each of ``class_names`` (those the model knows) on the image at ``path``, as the model sees it.

    None when the image cannot be read or the network's features are not a spatial map (a transformer's tokens).
    """
    import torch

    pipeline = artifact.pipeline
    try:
        pixels = model_pixels(path, pipeline)
    except (ImageError, OSError):
        return None
    batch = torch.from_numpy(to_batch([pipeline.finish(pixels)]))
    features, logits = map_and_logits(network, artifact.card.backbone.taps, batch)
    if features.ndim != 4:
        return None
    column = {name: k for k, name in enumerate(artifact.classes)}
    wanted = [name for name in dict.fromkeys(class_names) if name in column]
    found = []
    for name in wanted:
        (gradient,) = torch.autograd.grad(logits[0, column[name]], features, retain_graph=True)
        weights = gradient.mean(dim=(2, 3), keepdim=True)  # (1, C, 1, 1)
        cam = torch.relu((weights * features).sum(dim=1))[0].detach().numpy()  # (h, w)
        heat = _scaled(cam, pixels.shape[:2])
        found.append(ClassMap(name, heat, overlay(pixels, heat)))
    return found


def map_and_logits(network: torch.nn.Module, taps: Sequence[int], batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The last convolution's feature map (1, C, h, w) and the class scores (1, K) computed from it; with ``taps``
    the classifier also reads the tapped blocks' means, which reach it around the map (their evidence is not drawn)."""
    if not taps:
        features = network.forward_features(batch)  # type: ignore[operator]
        return features, network.forward_head(features)  # type: ignore[operator]
    from tetsuban.backbones.taps import TappedFeatures
    from tetsuban.finetune.network import classifier_of

    tapped = TappedFeatures(network, taps)
    features, means = tapped.feature_map(batch)
    return features, classifier_of(network)(tapped.joined(features, means))


def overlay(pixels: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """``heat`` (values in [0, 1]) as a colour map blended over the uint8 image ``pixels``."""
    import cv2

    levels = np.round(heat * 255).astype(np.uint8)
    coloured = np.asarray(cv2.applyColorMap(levels, cv2.COLORMAP_JET))[:, :, ::-1]  # BGR -> RGB
    mixed = (1 - BLEND) * pixels.astype(np.float32) + BLEND * coloured.astype(np.float32)
    return np.clip(np.round(mixed), 0, 255).astype(np.uint8)


def _scaled(cam: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The map brought to the image's size (bilinear) and to [0, 1] (all zero when nothing is positive)."""
    import cv2

    resized = cv2.resize(cam.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    peak = float(resized.max())
    return np.clip(resized / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(resized)


def miss_maps(artifact: Artifact, evaluation: Evaluation, rows: Sequence[int]) -> dict[int, list[ClassMap]]:
    """For the test images at ``rows`` of ``evaluation`` (misses): the maps of the predicted class and of the true
    one, by image id; empty for a model without network weights."""
    if network_weights(artifact) is None or not rows:
        return {}
    network = load_network(artifact)
    found = {}
    for n in rows:
        item = evaluation.items[n]
        predicted = evaluation.classes[int(evaluation.probabilities[n].argmax())]
        maps = class_maps(network, artifact, item.path, [predicted, item.label])
        if maps:
            found[item.image_id] = maps
    return found
