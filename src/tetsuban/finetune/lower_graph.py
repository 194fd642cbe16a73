"""The frozen lower part run by ONNX Runtime on a CPU.

The lower part (the stem and the first blocks, at the highest resolutions) is most of a forward pass, and it never
trains, so nothing needs torch's autograd there. On this project's 2-core machine (AVX2, no native bfloat16) torch
took 0.92 s for a batch of 32 real images through EfficientNet-Lite0's blocks 0-2 in float32 and ONNX Runtime
0.22 s on one thread (4.2x; 7x on two), its outputs within 1.5e-5 of the largest (bench/results/finetune_lower.md).
Exporting takes about 10 s, so the graph is kept beside the backbone's own (``~/.cache/tetsuban/onnx``), named by
the backbone's graph and the cut: every later run with the same weights reuses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tetsuban.backbones.onnx_export import export_graph
from tetsuban.infer import INPUT_NAME
from tetsuban.runtime import open_session

if TYPE_CHECKING:
    import onnxruntime
    import torch

OUTPUT_NAME = "lower"


def lower_graph_path(backbone_graph: Path, cut: int) -> Path:
    """Where the lower part below block ``cut`` of the backbone exported to ``backbone_graph`` is kept: beside it,
    named after it (the name holds the weights' hash)."""
    return backbone_graph.with_name(f"{backbone_graph.stem}-below{cut}.onnx")


class GraphLower:
    """The lower part as a callable like the torch module it was exported from: a float batch (B, 3, S, S) in, its
    float32 outputs (B, C, H, W) out, computed by ONNX Runtime."""

    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self._session = session

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        import torch

        pixels = images.detach().float().contiguous().cpu().numpy()
        return torch.from_numpy(self._session.run([OUTPUT_NAME], {INPUT_NAME: pixels})[0])


def graph_lower(lower: torch.nn.Module, input_size: int, path: Path, threads: int = 1) -> GraphLower:
    """``lower`` (images of ``input_size`` pixels a side) as a :class:`GraphLower` on ``threads`` threads (on two
    cores, one: the loader's worker takes the other), its graph exported to ``path`` unless it is there already."""
    if not path.is_file():
        export_graph(lower.eval(), input_size, path, OUTPUT_NAME)
    return GraphLower(open_session(path, threads=threads))
