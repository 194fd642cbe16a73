"""The network cut in two for fine-tuning: a frozen lower part whose outputs are cached, and an upper part that
trains. Imported only where torch is already needed (fine-tuning itself), so the command line starts without it."""

from __future__ import annotations

import torch

_EFFICIENTNET_PARTS = ("conv_stem", "bn1", "blocks", "conv_head", "bn2", "global_pool")


class WholeFeatures(torch.nn.Module):
    """The pooled features of a whole timm network, as one module (the upper part when nothing is cut off)."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.forward_head(self.network.forward_features(x), pre_logits=True)  # type: ignore[operator]


def usable_cut(network: torch.nn.Module, cut: int) -> int:
    """``cut`` where ``network`` is an EfficientNet-style timm model (a stem, ``blocks``, a head convolution) with
    more than ``cut`` blocks; else 0, meaning the whole network trains."""
    if cut <= 0 or not all(hasattr(network, name) for name in _EFFICIENTNET_PARTS):
        return 0
    return cut if cut < len(network.blocks) else 0  # type: ignore[arg-type]


def split_network(network: torch.nn.Module, cut: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(lower, upper): the layers below block ``cut`` (see :func:`usable_cut`), and the rest up to the pooled
    features that the classifier reads. Both share their modules with ``network``: training ``upper`` trains it."""
    cut = usable_cut(network, cut)
    if cut == 0:
        return torch.nn.Identity(), WholeFeatures(network)
    parts: dict[str, torch.nn.Module] = {name: getattr(network, name) for name in _EFFICIENTNET_PARTS}
    blocks = list(parts["blocks"].children())
    lower = torch.nn.Sequential(parts["conv_stem"], parts["bn1"], *blocks[:cut])
    upper = torch.nn.Sequential(*blocks[cut:], parts["conv_head"], parts["bn2"], parts["global_pool"])
    return lower, upper


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
