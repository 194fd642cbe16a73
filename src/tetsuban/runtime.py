"""ONNX Runtime sessions configured for small shared machines: few threads, none of them spinning."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime


def open_session(model: Path | bytes, threads: int = 1, fused: bool = True) -> onnxruntime.InferenceSession:
    """A CPU (or CUDA, where that build is installed) session running ``model`` on ``threads`` intra-op threads.

    Idle threads sleep instead of spinning: two spinning pools on two cores slow everything down many times.
    ``fused=False`` runs the graph node by node, as written (no fused kernels: an int8 graph's quantize and
    dequantize steps run in float), for checks and benches that compare.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    level = ort.GraphOptimizationLevel
    options.graph_optimization_level = level.ORT_ENABLE_ALL if fused else level.ORT_DISABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3  # warnings about unused initializers are not the user's business
    wanted = ("CUDAExecutionProvider", "CPUExecutionProvider")
    providers = [p for p in wanted if p in ort.get_available_providers()]
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=providers)
