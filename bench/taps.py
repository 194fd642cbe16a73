"""Inner blocks in the embedding: what the default backbone's pooled inner blocks, added to its embedding, buy the
probe and the loop.

The question behind issue 20's loop target on emoji: its curves flatten at 0.84-0.85 from 250 labels on, whatever
the loop picks, so the embedding, not the picking, holds it. A linear probe on features pooled from several depths
of a network transfers better than one on the last layer alone where the target task is far from ImageNet (Head2Toe,
Evci et al. 2022). Here the cheapest form of that: the spatial mean of an inner block's output appended to the
embedding (EfficientNet-Lite0's block 5: 192 values; blocks 4 and 5: 304).

Per dataset, every image goes once through the network in torch (the default pipeline's plain preprocessing),
keeping the embedding and the inner blocks' means; then tetsuban's own simulator runs random picks with the probe and
the loop's default (hybrid picks, the spreading head) on each feature set, over the same seeds and test images:
- emoji-google: the 9 Unicode categories; the test set is 20% of the emoji, each with its skin-tone variants;
- fashion-mnist: the t10k file's 10,000 images, 2,000 of them the test set.
Each feature set is judged against its own random picks at 1,000 labels (the loop target: reached with <= 300
labels) and against the plain embedding's.
Writes bench/results/taps.md.

Usage: python bench/taps.py [--datasets emoji fashion] [--seeds 5] [--taps 5 4,5]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from finetune import Source, emoji_source, fashion_source

from tetsuban.active.heads import DEFAULT_HEAD, LoopHead
from tetsuban.active.registry import DEFAULT_STRATEGY
from tetsuban.active.simulate import labels_to_reach, mean_curves, run_name, simulate
from tetsuban.backbones.registry import build_torch
from tetsuban.imaging.decode import decode
from tetsuban.pipeline.inputs import to_batch
from tetsuban.pipeline.spec import default_pipeline

RESULTS = Path(__file__).resolve().parent / "results" / "taps.md"
BUDGET, STEP, TARGET, REFERENCE = 1000, 50, 300, 1000
SHOWN = (50, 100, 300, 1000)
BATCH = 64


@dataclass(frozen=True)
class Features:
    """Every image's embedding and the spatial means of the tapped blocks' outputs, row for row."""

    embedding: np.ndarray
    blocks: dict[int, np.ndarray]
    seconds: float


@dataclass(frozen=True)
class Outcome:
    """One feature set's curves on one dataset: mean test accuracy per label count for each run."""

    taps: tuple[int, ...]
    width: int
    counts: np.ndarray
    means: dict[str, np.ndarray]
    spread: dict[str, np.ndarray]


@torch.inference_mode()
def features_of(files: list[Path], blocks: tuple[int, ...]) -> Features:
    """The embedding and the ``blocks``' pooled outputs of every file, as prediction preprocesses it."""
    started = time.perf_counter()
    network = build_torch("efficientnet_lite0").eval()
    pooled: dict[int, torch.Tensor] = {}
    for index in blocks:
        network.blocks[index].register_forward_hook(
            lambda _module, _inputs, output, index=index: pooled.__setitem__(index, output.mean(dim=(2, 3)))
        )
    pipeline = default_pipeline()
    rows: list[np.ndarray] = []
    inner: dict[int, list[np.ndarray]] = {index: [] for index in blocks}
    for start in range(0, len(files), BATCH):
        images = [decode(path) for path in files[start : start + BATCH]]
        batch = to_batch([pipeline.finish(pipeline.pixels(image)[0]) for image in images])
        rows.append(network(torch.from_numpy(batch)).numpy())
        for index in blocks:
            inner[index].append(pooled[index].numpy())
        print(f"  embedded {min(start + BATCH, len(files))} / {len(files)}", end="\r", flush=True)
    print()
    stacked = {index: np.concatenate(parts) for index, parts in inner.items()}
    return Features(np.concatenate(rows), stacked, time.perf_counter() - started)


def feature_set(features: Features, taps: tuple[int, ...]) -> np.ndarray:
    """The embedding with the ``taps`` blocks' means appended (the probe and the graph standardize every column)."""
    return np.concatenate([features.embedding, *(features.blocks[i] for i in taps)], axis=1).astype(np.float32)


def run_set(source: Source, features: Features, taps: tuple[int, ...], seeds: int) -> Outcome:
    """The simulator's random + probe and default runs on one feature set."""
    x = feature_set(features, taps)
    test = np.zeros(len(source.files), bool)
    test[source.test] = True
    runs = (("random", LoopHead("probe", x)), (DEFAULT_STRATEGY, LoopHead(DEFAULT_HEAD, x)))  # one graph per set
    curves = [
        simulate(x, source.labels, test, strategy, BUDGET, STEP, seed, head=head)
        for seed in range(seeds)
        for strategy, head in runs
    ]
    means = mean_curves(curves)
    counts = next(iter(means.values()))[0]
    return Outcome(taps, x.shape[1], counts, {k: v[1] for k, v in means.items()}, {k: v[2] for k, v in means.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["emoji", "fashion"], choices=["emoji", "fashion"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--taps", nargs="+", default=["5", "4,5"], help="blocks to add, comma-separated per set")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    sets = [(), *(tuple(int(b) for b in t.split(",")) for t in args.taps)]
    blocks = tuple(sorted({b for taps in sets for b in taps}))
    results = []
    with tempfile.TemporaryDirectory(prefix="taps-") as tmp:
        for name in args.datasets:
            rng = np.random.default_rng(0)
            source = emoji_source(rng) if name == "emoji" else fashion_source(Path(tmp), rng)
            print(f"{source.name}: {len(source.files)} images", flush=True)
            features = features_of(source.files, blocks)
            outcomes = []
            for taps in sets:
                started = time.perf_counter()
                outcomes.append(run_set(source, features, taps, args.seeds))
                print(f"  taps {taps or 'none'}: {time.perf_counter() - started:.0f} s", flush=True)
            results.append((source, features.seconds, outcomes))
    write_table(results, args)


def _label(taps: tuple[int, ...]) -> str:
    return "embedding" if not taps else "embedding + block " + " + block ".join(str(t) for t in taps)


def _reach(outcome: Outcome, target: float) -> str:
    needed = labels_to_reach(outcome.counts, outcome.means[run_name(DEFAULT_STRATEGY, DEFAULT_HEAD)], target)
    return "never" if needed is None else str(needed)


def _at(outcome: Outcome, run: str, labels: int) -> str:
    row = int(np.flatnonzero(outcome.counts == labels)[0])
    return f"{outcome.means[run][row]:.3f} ± {outcome.spread[run][row]:.3f}"


def _reference(outcome: Outcome) -> float:
    row = int(np.flatnonzero(outcome.counts == REFERENCE)[0])
    return float(outcome.means[run_name("random", "probe")][row])


def write_table(results: list[tuple[Source, float, list[Outcome]]], args: argparse.Namespace) -> None:
    default = run_name(DEFAULT_STRATEGY, DEFAULT_HEAD)
    random_probe = run_name("random", "probe")
    lines = [
        "# Inner blocks in the embedding: the probe and the loop",
        "",
        f"`python bench/taps.py {' '.join(sys.argv[1:])}` on {datetime.now(UTC):%Y-%m-%d}: Python "
        f"{platform.python_version()}, {os.cpu_count()} CPU cores, torch {torch.__version__}. EfficientNet-Lite0 "
        "(ImageNet weights) in torch, the default pipeline's plain preprocessing; each inner block's output "
        "averaged over its height and width and appended to the embedding. tetsuban's simulator, retraining every "
        f"{STEP} labels: `{random_probe}` (random picks, the probe: labelling without a loop) and `{default}` (the "
        f"loop's default). Mean test accuracy ± standard deviation over {args.seeds} seeds. The loop target: the "
        f"default reaches random + probe's {REFERENCE}-label accuracy with ≤ {TARGET} labels.",
    ]
    for source, seconds, outcomes in results:
        plain = _reference(outcomes[0])
        lines += [
            "",
            f"## {source.name}",
            "",
            f"{len(source.files)} images, {len(source.test)} of them the test set; features in {seconds:.0f} s.",
            "",
            "| features | width | run | " + " | ".join(f"@{n}" for n in SHOWN) + " | default reaches its own "
            f"random @{REFERENCE} at | reaches the plain embedding's random @{REFERENCE} at |",
            "|---|---:|---|" + "---:|" * len(SHOWN) + "---:|---:|",
        ]
        for outcome in outcomes:
            for run in (random_probe, default):
                cells = " | ".join(_at(outcome, run, n) for n in SHOWN)
                reach = (
                    f"{_reach(outcome, _reference(outcome))} | {_reach(outcome, plain)}"
                    if run == default
                    else f"({_reference(outcome):.3f}) | ({plain:.3f})"
                )
                lines.append(f"| {_label(outcome.taps)} | {outcome.width} | `{run}` | {cells} | {reach} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
