"""The embedding as a torch module: a network's pooled features, with the spatial means of some inner blocks' outputs
appended where the backbone names such taps.

On EfficientNet-Lite0, block 5's output (192 channels at 7x7) averaged over space and appended to the 1,280 pooled
features lifted the probe by 0.007-0.012 and the loop by 0.023-0.028 on emoji, up to 0.011 on fashion-mnist
(bench/results/taps.md): the last block before the head convolution still holds part-level evidence that the head's
pooling mixes away. Imported only where torch is already needed (exporting a graph, fine-tuning, Grad-CAM).

The means are scaled by TAP_SCALE so that each of their values weighs in a cosine about as much as a pooled feature
does: block 5's output is not squashed by an activation, and its values are 8-10 times as large (root mean square
3.96 against 0.49 on 300 emoji, 4.24 against 0.44 on the 13 photos). Unscaled, they would hold 90% of the vector's
length and move every cosine threshold set on the pooled features (pairs at 0.90 or more among those emoji: 2,358
instead of 222); scaled, they hold about 9% (255 pairs, 87% of them the same). The probe and the loop standardize
every value, so the scale changes nothing they compute.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

TAPPABLE_PARTS = ("conv_stem", "bn1", "blocks", "conv_head", "bn2", "global_pool")  # an EfficientNet-style timm net
_PROBE_PIXELS = 64  # the side of the blank image that measures a tapped block's width
TAP_SCALE = 0.1  # what the tapped means are multiplied by (module docstring)


def can_tap(network: torch.nn.Module) -> bool:
    """Whether ``network`` has an EfficientNet-style timm layout: a stem, numbered ``blocks``, a head convolution."""
    return all(hasattr(network, name) for name in TAPPABLE_PARTS)


def check_taps(network: torch.nn.Module, taps: Sequence[int]) -> tuple[int, ...]:
    """``taps`` as a sorted tuple, checked against ``network``: ValueError where it has no such blocks to tap."""
    chosen = tuple(sorted(set(taps)))
    if not chosen:
        return chosen
    if not can_tap(network):
        raise ValueError(f"blocks {chosen} can be tapped only in an EfficientNet-style network (stem, blocks, head)")
    count = len(blocks_of(network))
    if chosen[0] < 0 or chosen[-1] >= count:
        raise ValueError(f"the network has blocks 0 to {count - 1}; taps {chosen} name others")
    return chosen


def parts_of(network: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The named parts of an EfficientNet-style network (:data:`TAPPABLE_PARTS`), as modules."""
    return {name: getattr(network, name) for name in TAPPABLE_PARTS}


def blocks_of(network: torch.nn.Module) -> list[torch.nn.Module]:
    """An EfficientNet-style network's blocks, in order."""
    return list(parts_of(network)["blocks"].children())


class TappedFeatures(torch.nn.Module):
    """Blocks ``start`` onwards (the stem first when ``start`` is 0), the head convolution and its pooling: the
    pooled features with the spatial mean of each tapped block's output (times TAP_SCALE) appended, in block order.

    It shares its modules with ``network``: training it trains the network. ``taps`` are block numbers of the whole
    network, each at ``start`` or above.
    """

    def __init__(self, network: torch.nn.Module, taps: Sequence[int], start: int = 0) -> None:
        super().__init__()
        chosen = check_taps(network, taps)
        if chosen and chosen[0] < start:
            raise ValueError(f"block {chosen[0]} is below block {start}, where these features start")
        parts = parts_of(network)
        self.stem = torch.nn.Sequential(parts["conv_stem"], parts["bn1"]) if start == 0 else torch.nn.Identity()
        self.blocks = torch.nn.ModuleList(blocks_of(network)[start:])
        self.head = torch.nn.Sequential(parts["conv_head"], parts["bn2"])
        self.pool = parts["global_pool"]
        self.taps = tuple(tap - start for tap in chosen)
        self.training = network.training  # the shared modules keep their own modes

    def feature_map(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The head convolution's output (N, C, h, w), and the tapped blocks' spatial means (each (N, C_i)), scaled
        by TAP_SCALE."""
        x = self.stem(x)
        means = []
        for number, block in enumerate(self.blocks):
            x = block(x)
            if number in self.taps:
                means.append(x.mean(dim=(2, 3)) * TAP_SCALE)
        return self.head(x), means

    def joined(self, feature_map: torch.Tensor, means: Sequence[torch.Tensor]) -> torch.Tensor:
        """The embedding (N, D) of a :meth:`feature_map` result: its pooled map, then the means."""
        return torch.cat([self.pool(feature_map).flatten(1), *means], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.joined(*self.feature_map(x))


class WholeFeatures(torch.nn.Module):
    """The pooled features of a whole timm network, as one module (any timm architecture; no taps)."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network
        self.training = network.training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.forward_head(self.network.forward_features(x), pre_logits=True)  # type: ignore[operator]


def embedding_module(network: torch.nn.Module, taps: Sequence[int]) -> torch.nn.Module:
    """What computes the embedding of ``network`` (its classifier unused): with ``taps``, :class:`TappedFeatures`;
    without, the network's own pooled features."""
    return TappedFeatures(network, taps) if taps else WholeFeatures(network)


def embedding_width(network: torch.nn.Module, taps: Sequence[int]) -> int:
    """How many values the embedding of ``network`` with ``taps`` has: its pooled features plus each tapped block's
    channels (measured on one blank image, so any block layout counts right)."""
    if not taps:
        return int(network.num_features)  # type: ignore[arg-type]
    module = TappedFeatures(network, taps)
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            width = module(torch.zeros(1, 3, _PROBE_PIXELS, _PROBE_PIXELS)).shape[1]
    finally:
        network.train(was_training)
    return int(width)
