"""The network cut in two for fine-tuning: a frozen lower part whose outputs are cached, and an upper part that
trains. Imported only where torch is already needed (fine-tuning itself), so the command line starts without it."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tetsuban.backbones.taps import TappedFeatures, WholeFeatures, blocks_of, can_tap, parts_of


def usable_cut(network: torch.nn.Module, cut: int) -> int:
    """``cut`` where ``network`` is an EfficientNet-style timm model (a stem, ``blocks``, a head convolution) with
    more than ``cut`` blocks; else 0, meaning the whole network trains."""
    if cut <= 0 or not can_tap(network):
        return 0
    return cut if cut < len(blocks_of(network)) else 0


def split_network(
    network: torch.nn.Module, cut: int, taps: Sequence[int] = ()
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(lower, upper): the layers below block ``cut`` (see :func:`usable_cut`), and the rest up to the embedding
    that the classifier reads (the pooled features, then the ``taps`` blocks' means, each at ``cut`` or above). Both
    share their modules with ``network``: training ``upper`` trains it."""
    cut = usable_cut(network, cut)
    if cut == 0:
        return torch.nn.Identity(), TappedFeatures(network, taps) if taps else WholeFeatures(network)
    parts = parts_of(network)
    lower = torch.nn.Sequential(parts["conv_stem"], parts["bn1"], *blocks_of(network)[:cut])
    return lower, TappedFeatures(network, taps, start=cut)


def prepare_for_tuning(network: torch.nn.Module, lower: torch.nn.Module) -> list[torch.nn.Parameter]:
    """Freeze ``lower`` and every batch-norm layer (statistics and affine parameters stay as pretrained); the rest
    learns. Returns the parameters that learn. Call :func:`training_mode` before each epoch."""
    frozen = {id(p) for p in lower.parameters()}
    for module in network.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            frozen |= {id(p) for p in module.parameters(recurse=False)}
    for parameter in network.parameters():
        parameter.requires_grad_(id(parameter) not in frozen)
    return [p for p in network.parameters() if p.requires_grad]


def training_mode(network: torch.nn.Module) -> None:
    """Dropout and drop-path on, batch-norm layers in evaluation mode (they keep their pretrained statistics)."""
    network.train()
    for module in network.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()


def bfloat16_is_fast(device: torch.device) -> bool:
    """Whether bfloat16 autocast pays on ``device``: on a GPU, and on a CPU with native bfloat16 (AVX512-BF16 or
    AMX), where it ran EfficientNet-Lite0 2.4x faster; without them it is emulated and slower than float32."""
    if device.type == "cuda":
        return True
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check is not None and bool(check()) for check in checks)
