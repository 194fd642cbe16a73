"""How fast is the loop at 100,000 images? Strategy scoring, and the refresh after 20 new labels at 10,000 labelled.

Embeddings: 2,000 real fashion-mnist images embedded with the default backbone (1,280 numbers each), repeated
50 times with 1% noise to make 100,000 distinct rows (speed depends on the shapes, not on what the rows show).
Labels: the images' own classes. Times are medians of `--rounds` rounds; the strategy gets fresh probabilities
for 10 classes from a head fitted on the labelled rows.
- scoring: each strategy picking 20 images among the 90,000 unlabelled (target: under 0.5 s for the default);
- refresh: LabelLoop.retrain after 20 new labels with 10,000 labelled: fit (warm-started from the previous fit),
  probabilities of all 100,000, and the new queue (target: under 2 s); beside it the same with a cold fit.
Writes bench/results/active_speed.md.

Usage: python bench/active_speed.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image
from probe_accuracy import FASHION, datasets_dir, embed_files

from tetsuban.active.loop import LabelLoop, WarmProbe
from tetsuban.active.registry import DEFAULT_STRATEGY, STRATEGIES, strategy_named
from tetsuban.ingest.idx import read_idx

RESULTS = Path(__file__).resolve().parent / "results" / "active_speed.md"
IMAGES = 100_000
LABELLED = 10_000


def embeddings_and_labels(rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    root = datasets_dir() / "fashion-mnist"
    images = read_idx(root / "train-images-idx3-ubyte.gz")[:2000]
    classes = read_idx(root / "train-labels-idx1-ubyte.gz")[:2000]
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for index, pixels in enumerate(images):
            files.append(Path(tmp) / f"{index:04d}.png")
            Image.fromarray(pixels).save(files[-1])
        base = embed_files(Path(tmp), files)
    reps = IMAGES // len(base)
    x = np.tile(base, (reps, 1))
    x += 0.01 * x.std() * rng.standard_normal(x.shape).astype(np.float32)
    return x.astype(np.float32), [FASHION[int(c)] for c in classes] * reps


def median_seconds(run: object, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x, labels = embeddings_and_labels(rng)
    labelled = np.zeros(IMAGES, bool)
    labelled[rng.choice(IMAGES, LABELLED, replace=False)] = True
    head = WarmProbe(x).fit(x[labelled], [labels[i] for i in np.flatnonzero(labelled)])
    probabilities = head.probabilities(x)
    scoring = {}
    for name in STRATEGIES:
        strategy = strategy_named(name)
        scoring[name] = median_seconds(
            lambda s=strategy: s(x, labelled, probabilities, 20, np.random.default_rng(1), None), args.rounds
        )
        print(f"{name}: {scoring[name]:.3f} s", flush=True)
    refresh = {}
    for warm in (True, False):
        known = [labels[i] if labelled[i] else None for i in range(IMAGES)]
        loop = LabelLoop(x, np.ones(IMAGES, bool), strategy_named(DEFAULT_STRATEGY), 20, 40, labels=known)
        times = []
        for _ in range(args.rounds):
            for index in np.flatnonzero(~loop.labelled_mask())[:20]:
                loop.labels[index] = labels[index]
            if not warm:
                loop._probe = WarmProbe(x)  # a fresh probe: the fit starts from nothing
            started = time.perf_counter()
            loop.retrain()
            times.append(time.perf_counter() - started)
        refresh["warm" if warm else "cold"] = statistics.median(times)
        print(f"refresh ({'warm' if warm else 'cold'}): {refresh['warm' if warm else 'cold']:.2f} s", flush=True)
    write_table(scoring, refresh, args)


def write_table(scoring: dict[str, float], refresh: dict[str, float], args: argparse.Namespace) -> None:
    lines = [
        "# Active learning speed at 100,000 images",
        "",
        f"`python bench/active_speed.py --rounds {args.rounds}` on {datetime.now(UTC):%Y-%m-%d}: Python "
        f"{platform.python_version()}. {IMAGES:,} embeddings of 1,280 numbers (2,000 real fashion-mnist embeddings "
        f"repeated with 1% noise), {LABELLED:,} labelled, 10 classes; medians of {args.rounds} rounds.",
        "",
        "| strategy | picking 20 of 90,000 unlabelled, s | against random |",
        "|---|---:|---:|",
    ]
    for name, seconds in scoring.items():
        lines.append(
            f"| {name}{' (default)' if name == DEFAULT_STRATEGY else ''} | {seconds:.3f} | "
            f"{seconds / scoring['random']:.1f}x |"
        )
    lines += [
        "",
        "| refresh after 20 new labels (fit, probabilities of all, queue of 40) | s |",
        "|---|---:|",
        f"| warm-started fit (what the loop does) | {refresh['warm']:.2f} |",
        f"| cold fit | {refresh['cold']:.2f} |",
        "",
        f"Targets: the default scores 100,000 images in under 0.5 s ({scoring[DEFAULT_STRATEGY]:.3f} s: "
        f"{'met' if scoring[DEFAULT_STRATEGY] < 0.5 else 'NOT met'}); the refresh takes under 2 s "
        f"({refresh['warm']:.2f} s: {'met' if refresh['warm'] < 2 else 'NOT met'}).",
    ]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
