"""Levers of the labelling loop, tried quickly: the product's simulator on one dataset's embeddings, with one
constant or one strategy changed at a time, against the default, up to a small budget.

bench/active_sim.py measures the loop through whole projects (both datasets, four runs each, 25 minutes); this
bench asks a narrower question in minutes: does one change lift the default (`hybrid + spreading`) at the budget
where issue 20's target is judged (300 labels)? It builds the project as bench/active_sim.py does (same images,
same test split, same seeds), embeds it once, then runs the product's `simulate()` on those embeddings for the
default and for each lever. A lever is `name=value`:
- `w=0.7`: the probe's weight in the geometric mix (tetsuban.active.heads.PROBE_WEIGHT);
- `alpha=0.9`, `k=6`, `power=2`: label spreading's alpha, the graph's neighbours and the similarity's power;
- `cand=2`: the margin candidates per pick (tetsuban.active.hybrid.CANDIDATES);
- `C=0.05`: the probe's C;
- `variant=balanced`: margin candidates taken in equal shares from each predicted class, then clustered as the
  hybrid does; `variant=typi100`: TypiClust's picks until 100 labels (the default: until the head exists);
  `variant=ordered`: the hybrid's picks queued most uncertain first (it queues them by cluster);
  `variant=typi50-ordered`: both.
Writes bench/results/loop_levers.md (or --out). Beside other jobs on two cores run it with one BLAS thread
(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1): with two, a run took 13x as long. `--step 20 --queue 80` is the app's
cadence.

Usage: python bench/loop_levers.py [--dataset fashion] [--budget 300] [--seeds 5] [--step 50] [--queue 80]
       [--cache F.npz] [--levers w=0.7 cand=2 ...]
"""

from __future__ import annotations

import argparse
import functools
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from active_sim import emoji_project, fashion_project

from tetsuban.active import heads, hybrid, registry, strategies
from tetsuban.active.simulate import simulate
from tetsuban.active.stage import active_data, simulation_inputs
from tetsuban.learn import spreading
from tetsuban.learn.head import DEFAULT_C

RESULTS = Path(__file__).resolve().parent / "results" / "loop_levers.md"
STEP = 50  # bench/active_sim.py's; the app retrains every 20 labels (tetsuban serve --retrain-every)


def embedded(name: str, cache: Path | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The dataset's embeddings, labels and test mask, from a project built as bench/active_sim.py builds it; kept
    in (and read back from) ``cache`` when given."""
    if cache is not None and cache.is_file():
        with np.load(cache) as saved:
            return saved["x"], [str(v) for v in saved["labels"]], saved["test"]
    data = _embedded(name)
    if cache is not None:
        np.savez(cache, x=data[0], labels=np.asarray(data[1]), test=data[2])
    return data


def _embedded(name: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="loop-levers-") as tmp:
        work = Path(tmp)
        project = fashion_project(work, rng) if name == "fashion" else emoji_project(work)
        with project:
            x, labels, test = simulation_inputs(active_data(project.workspace))
    return np.asarray(x, np.float32), list(labels), np.asarray(test, bool)


def balanced_picks(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    batch: int,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """The hybrid's clustered margin picks from candidates drawn in equal shares from each predicted class."""
    if probabilities is None:
        return hybrid.hybrid(embeddings, labelled, probabilities, batch, rng, eligible)
    allowed = strategies.eligible_mask(labelled, eligible)
    margins = strategies.uncertainty_scores(probabilities, "margin")
    predicted = probabilities.argmax(axis=1)
    share = -(-hybrid.CANDIDATES * batch // probabilities.shape[1])
    pools = [
        strategies.most_uncertain(margins, allowed & (predicted == k), share, rng)
        for k in range(probabilities.shape[1])
        if (allowed & (predicted == k)).any()
    ]
    candidates = np.zeros_like(allowed)
    candidates[np.concatenate(pools)] = True
    return hybrid.clustered_uncertain(embeddings, margins, candidates, batch, rng)


def typiclust_until(labels: int, then: strategies.Strategy = hybrid.hybrid) -> strategies.Strategy:
    """TypiClust's picks until ``labels`` are given, then ``then``'s."""

    def picks(
        embeddings: np.ndarray,
        labelled: np.ndarray,
        probabilities: np.ndarray | None,
        batch: int,
        rng: np.random.Generator,
        eligible: np.ndarray | None = None,
    ) -> np.ndarray:
        if labelled.sum() < labels:
            return strategies.typiclust(embeddings, labelled, None, batch, rng, eligible)
        return then(embeddings, labelled, probabilities, batch, rng, eligible)

    return picks


@contextmanager
def lever(setting: str) -> Iterator[float]:
    """The product changed as ``setting`` says while the block runs; yields the probe's C to simulate with."""
    name, _, value = setting.partition("=")
    saved: list[tuple[object, str, object]] = []

    def patch(owner: object, attribute: str, new: object) -> None:
        saved.append((owner, attribute, getattr(owner, attribute)))
        setattr(owner, attribute, new)

    c = DEFAULT_C
    changes: dict[str, Callable[[], None]] = {
        "w": lambda: patch(heads, "PROBE_WEIGHT", float(value)),
        "alpha": lambda: patch(heads, "spread_labels", functools.partial(spreading.spread_labels, alpha=float(value))),
        "k": lambda: patch(heads, "neighbour_graph", functools.partial(spreading.neighbour_graph, k=int(value))),
        "power": lambda: patch(spreading, "SIMILARITY_POWER", float(value)),
        "cand": lambda: patch(hybrid, "CANDIDATES", int(value)),
        "variant": lambda: patch(registry, "STRATEGIES", {**registry.STRATEGIES, "hybrid": _variant(value)}),
        "C": lambda: None,
        "default": lambda: None,
    }
    if name not in changes:
        raise SystemExit(f"unknown lever {setting!r}: one of {', '.join(changes)}")
    changes[name]()
    if name == "C":
        c = float(value)
    try:
        yield c
    finally:
        for owner, attribute, old in reversed(saved):
            setattr(owner, attribute, old)


def ordered_picks(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    batch: int,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """The hybrid's picks, the most uncertain first (the hybrid orders them by cluster): where the queue holds more
    picks than are labelled before the next retrain, the labelled ones are the most uncertain of the spread-out."""
    picks = hybrid.hybrid(embeddings, labelled, probabilities, batch, rng, eligible)
    if probabilities is None:
        return picks
    margins = strategies.uncertainty_scores(probabilities, "margin")
    return picks[np.argsort(-margins[picks], kind="stable")]


def _variant(name: str) -> strategies.Strategy:
    if name == "balanced":
        return balanced_picks
    if name == "ordered":
        return ordered_picks
    if name.startswith("typi"):
        count, _, then = name[4:].partition("-")
        return typiclust_until(int(count), ordered_picks if then == "ordered" else hybrid.hybrid)
    raise SystemExit(f"unknown variant {name!r}: balanced, ordered, typiN or typiN-ordered")


def run(
    setting: str,
    data: tuple[np.ndarray, list[str], np.ndarray],
    budget: int,
    seeds: int,
    step: int = STEP,
    queue: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Label counts, mean and standard deviation of the default's test accuracy over ``seeds`` with ``setting``."""
    x, labels, test = data
    started = time.perf_counter()
    with lever(setting) as c:
        head = heads.LoopHead("spreading", x)  # built inside: the graph's levers must be in place
        curves = [
            simulate(x, labels, test, "hybrid", budget, step, seed, c=c, head=head, queue=queue)
            for seed in range(seeds)
        ]
    scores = np.array([curve.accuracy for curve in curves])
    return np.asarray(curves[0].labels), scores.mean(axis=0), scores.std(axis=0), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["emoji", "fashion"], default="fashion")
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--levers", nargs="+", default=["w=0.7", "cand=2", "variant=balanced"])
    parser.add_argument("--step", type=int, default=STEP, help="labels between retrains")
    parser.add_argument("--queue", type=int, help="picks queued at each retrain (the app: 4 x its retrain cadence)")
    parser.add_argument("--cache", type=Path, help="an .npz keeping the embeddings between runs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    data = embedded(args.dataset, args.cache)
    rows = []
    for setting in ["default", *args.levers]:
        counts, mean, spread, seconds = run(setting, data, args.budget, args.seeds, args.step, args.queue)
        rows.append((setting, counts, mean, spread, seconds))
        print(setting, " ".join(f"{m:.4f}" for m in mean), f"{seconds:.0f} s", flush=True)
    write_table(args, rows)


def write_table(args: argparse.Namespace, rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, float]]) -> None:
    counts = rows[0][1]
    lines = [
        "# Levers of the labelling loop, one at a time",
        "",
        f"`python bench/loop_levers.py --dataset {args.dataset} --budget {args.budget} --seeds {args.seeds} "
        f"--step {args.step}{'' if args.queue is None else f' --queue {args.queue}'} "
        f"--levers {' '.join(args.levers)}` on {datetime.now(UTC):%Y-%m-%d}: "
        f"Python {platform.python_version()}. "
        f"The default (`hybrid + spreading`) and each lever through the product's simulator on the embeddings of "
        f"bench/active_sim.py's {args.dataset} project, retrained every {args.step} labels (each retrain queueing "
        f"{args.queue or args.step} picks); mean test accuracy ± "
        f"standard deviation over {args.seeds} seeds, and the difference from the default at the last budget.",
        "",
        "| lever | " + " | ".join(str(n) for n in counts) + f" | against the default at {counts[-1]} | time |",
        "|---|" + "---:|" * (len(counts) + 2),
    ]
    base = rows[0][2][-1]
    for setting, _, mean, spread, seconds in rows:
        cells = " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(mean, spread, strict=True))
        lines.append(f"| {setting} | {cells} | {mean[-1] - base:+.4f} | {seconds:.0f} s |")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
