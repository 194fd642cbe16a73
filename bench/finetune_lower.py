"""The frozen lower part of fine-tuning on a CPU: torch against the ONNX Runtime graph the product now runs.

Fine-tuning computes EfficientNet-Lite0's stem and blocks 0-2 once per training image and augmentation draw (six
draws and the plain images: 7,500 images at 100 labels per class with 500 val images). This bench times that
computation side by side in one process, on batches of 32 real fashion-mnist images as the pipeline makes them:
- torch in float32, channels-last, under inference mode (what fine-tuning ran before);
- torch under bfloat16 autocast, only where the CPU has native bfloat16 (emulated, it is many times slower);
- ONNX Runtime on the graph the product exports (tetsuban.finetune.lower_graph), on one thread and on two.
Each is run ``--repeats`` times over the same batches, interleaved, after one warm-up; medians per batch of 32 and
the ratio to torch float32, and how far each one's outputs are from torch float32's (the largest difference over
the largest output). Writes bench/results/finetune_lower.md.

Usage: python bench/finetune_lower.py [--batches 4] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from probe_accuracy import datasets_dir

from tetsuban.backbones import BACKBONES
from tetsuban.finetune.lower_graph import graph_lower
from tetsuban.finetune.network import build_network
from tetsuban.finetune.recipe import LITE0_CUT
from tetsuban.finetune.split import bfloat16_is_fast, split_network
from tetsuban.ingest.idx import read_idx
from tetsuban.pipeline.inputs import model_input, to_batch
from tetsuban.pipeline.spec import default_pipeline

RESULTS = Path(__file__).resolve().parent / "results" / "finetune_lower.md"
BATCH = 32
Runner = Callable[[torch.Tensor], torch.Tensor]


def fashion_batches(count: int, work: Path) -> list[torch.Tensor]:
    """``count`` batches of real fashion-mnist test images, preprocessed as prediction sees them."""
    from PIL import Image

    pixels = read_idx(datasets_dir() / "fashion-mnist" / "t10k-images-idx3-ubyte.gz")
    pipeline = default_pipeline()
    batches = []
    for b in range(count):
        arrays = []
        for index in range(b * BATCH, (b + 1) * BATCH):
            path = work / f"{index:05d}.png"
            Image.fromarray(pixels[index]).save(path)
            arrays.append(model_input(path, pipeline))
        batches.append(torch.from_numpy(to_batch(arrays)))
    return batches


def torch_runner(lower: torch.nn.Module, bfloat16: bool) -> Runner:
    @torch.inference_mode()
    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            return lower(x.contiguous(memory_format=torch.channels_last)).float()

    return run


def graph_runner(lower: torch.nn.Module, path: Path, threads: int) -> Runner:
    """The product's graph, on ``threads`` intra-op threads (on two cores the product runs one: its loader's
    worker takes the other)."""
    return graph_lower(lower, BACKBONES["efficientnet_lite0"].input_size, path, threads)


def timed(runners: dict[str, Runner], batches: list[torch.Tensor], repeats: int) -> dict[str, list[float]]:
    """Seconds per batch for each runner, interleaved: every repeat runs each runner over every batch."""
    for run in runners.values():
        run(batches[0])
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            for batch in batches:
                started = time.perf_counter()
                run(batch)
                seconds[name].append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    spec = BACKBONES["efficientnet_lite0"]
    network = build_network(spec.name, None, 10, spec.taps).eval()
    lower = split_network(network, LITE0_CUT, spec.taps)[0].eval()
    with tempfile.TemporaryDirectory(prefix="finetune-lower-") as tmp:
        work = Path(tmp)
        batches = fashion_batches(args.batches, work)
        runners = {"torch float32": torch_runner(lower, False)}
        if bfloat16_is_fast(torch.device("cpu")):
            runners["torch bfloat16 autocast"] = torch_runner(lower, True)
        runners["ONNX Runtime, 1 thread"] = graph_runner(lower, work / "lower.onnx", 1)
        runners["ONNX Runtime, 2 threads"] = graph_runner(lower, work / "lower.onnx", 2)
        seconds = timed(runners, batches, args.repeats)
        reference = [runners["torch float32"](b) for b in batches]
        errors = {name: relative_error(run, batches, reference) for name, run in runners.items()}
    write_table(args, seconds, errors)


def relative_error(run: Runner, batches: list[torch.Tensor], reference: list[torch.Tensor]) -> float:
    """The largest difference from ``reference`` over the largest reference output."""
    worst = max(float((run(b) - r).abs().max()) for b, r in zip(batches, reference, strict=True))
    return worst / max(float(r.abs().max()) for r in reference)


def write_table(args: argparse.Namespace, seconds: dict[str, list[float]], errors: dict[str, float]) -> None:
    base = float(np.median(seconds["torch float32"]))
    native = "native bfloat16" if bfloat16_is_fast(torch.device("cpu")) else "no native bfloat16 (float32 only)"
    lines = [
        "# The frozen lower part of fine-tuning: torch against ONNX Runtime on a CPU",
        "",
        f"`python bench/finetune_lower.py --batches {args.batches} --repeats {args.repeats}` on "
        f"{datetime.now(UTC):%Y-%m-%d}: Python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} cores, {native}. EfficientNet-Lite0's stem and blocks 0-{LITE0_CUT - 1} on batches of "
        f"{BATCH} real fashion-mnist images at 224 px; median over {args.repeats} interleaved repeats of "
        f"{args.batches} batches.",
        "",
        "| how | seconds per batch of 32 | speed against torch float32 | largest difference / largest output |",
        "|---|---:|---:|---:|",
    ]
    for name, values in seconds.items():
        median = float(np.median(values))
        lines.append(f"| {name} | {median:.3f} | {base / median:.2f}x | {errors[name]:.1e} |")
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
