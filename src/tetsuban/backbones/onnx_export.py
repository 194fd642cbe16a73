"""Export a backbone once to ONNX, keyed by its weights' hash; torch builds and exports it, nothing else needs torch.

The exported graph takes a float32 batch (N, 3, S, S), S being the backbone's input size, and returns its embeddings
(N, D) under the output name ``embedding``: the pooled features, then the means of the blocks the backbone taps.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tetsuban.backbones.registry import backbone_spec, build_torch
from tetsuban.cache import cache_dir
from tetsuban.files import file_sha256
from tetsuban.infer import INPUT_NAME

if TYPE_CHECKING:
    import torch

EMBEDDING_NAME = "embedding"
OPSET = 18


@dataclass(frozen=True)
class ExportedBackbone:
    """A backbone's ONNX graph on disk and what names it: the weights' sha256, the input size and the tapped blocks."""

    name: str
    path: Path
    weights_sha256: str
    input_size: int
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)  # the input convention the weights were trained with
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    taps: tuple[int, ...] = ()  # inner blocks whose means follow the pooled features

    @property
    def key(self) -> str:
        """Names the embeddings this graph makes: backbone, weights, input size and taps (none: no suffix, as
        before taps existed, so embeddings and models made then keep their names)."""
        return f"{self.name}@{self.weights_sha256[:16]}/{self.input_size}{taps_suffix(self.taps)}"


def taps_suffix(taps: tuple[int, ...]) -> str:
    """How keys and file names say which blocks are tapped: "" for none, "+b5" for block 5, "+b4.5" for 4 and 5."""
    return f"+b{'.'.join(str(tap) for tap in taps)}" if taps else ""


def export_backbone(name: str, weights: Path | None = None, cache: Path | None = None) -> ExportedBackbone:
    """The ONNX graph of backbone ``name`` (with ``weights``, else its own), exported now unless cached."""
    spec = backbone_spec(name)
    source = weights if weights is not None else (spec.weights() if spec.weights is not None else None)
    model = None
    if source is not None:
        digest = file_sha256(source)
    else:  # timm's own weights from a hub: only the built model can say what they are
        model = build_torch(name)
        digest = state_sha256(model)
    folder = (cache if cache is not None else cache_dir()) / "onnx"
    path = folder / f"{spec.timm_name}-{spec.input_size}-{digest[:16]}{taps_suffix(spec.taps)}.onnx"
    if not path.is_file():
        from tetsuban.backbones.taps import embedding_module

        network = model if model is not None else build_torch(name, weights)
        export_graph(embedding_module(network, spec.taps), spec.input_size, path)
    return ExportedBackbone(name, path, digest, spec.input_size, spec.mean, spec.std, spec.taps)


def state_sha256(model: torch.nn.Module) -> str:
    """sha256 over a model's tensors, names and bytes, in order."""
    digest = hashlib.sha256()
    for key, tensor in model.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def export_graph(model: torch.nn.Module, input_size: int, path: Path, output_name: str = EMBEDDING_NAME) -> None:
    """Export ``model`` (images (N, 3, S, S) -> its output, embeddings (N, D) by default, named ``output_name``) with
    a dynamic batch size into one self-contained file, written atomically."""
    import contextlib
    import io

    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, 3, input_size, input_size)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with contextlib.redirect_stdout(io.StringIO()), torch.no_grad():  # the exporter narrates every stage
        program = torch.onnx.export(
            model,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[output_name],
            dynamic_shapes=({0: batch},),
            opset_version=OPSET,
            dynamo=True,
        )
    assert program is not None  # dynamo export without a destination returns the program
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".onnx.part", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        program.save(partial, external_data=False)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
