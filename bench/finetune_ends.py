"""How a fine-tuning run ends: the WiSE-FT share chosen on val, against every share scored on the test images.

A run of the recipe ends by mixing its last epoch's weights with the probe network's at the share that validates
best (0.25, 0.5, 0.75 or 1: unmixed). On fashion-mnist the same labels tested 0.884 in one run and 0.863 in another
whose validation chose 0.25 instead of 0.75 (bench/results/finetune.md). This bench asks whether that choice earns
its noise: for bench/finetune.py's label draws (same datasets, same draws) and one or more training seeds, it runs
the product's fine-tuning unchanged, and before the run keeps its network, scores every share (0: the probe network
itself) on the val and the test images through the run's own validation code. Then it compares rules for the
share: the best val balanced accuracy (the recipe's rule until this bench), each fixed share, the lowest val loss,
and the largest share whose val balanced accuracy is within one standard error of the best (the rule since).

Writes bench/results/finetune_ends.md (or --out); the probabilities of every run go to --keep (a folder) when given.

Usage: python bench/finetune_ends.py [--dataset fashion] [--draws 3] [--seeds 0 1] [--out F] [--keep DIR]
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from finetune import Source, build_project, draw_split, emoji_source, fashion_source

from tetsuban.finetune import choice, run
from tetsuban.finetune.data import validation_inputs
from tetsuban.finetune.probe import mean_log_loss
from tetsuban.learn.validate import held_out_validation

RESULTS = Path(__file__).resolve().parent / "results" / "finetune_ends.md"
SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
TUNED = SHARES[1:]  # the shares a rule chooses among: 0 is the probe network, which keep_better weighs apart


@dataclass(frozen=True)
class Scored:
    """One run: every share's class probabilities on the val and the test images, the labels, and what it shipped."""

    draw: int
    seed: int
    classes: tuple[str, ...]
    val_labels: list[str]
    test_labels: list[str]
    val: dict[float, np.ndarray]
    test: dict[float, np.ndarray]
    chosen: float
    seconds: float


class Watch:
    """Patches the run's end: keeps the unmixed fine-tuned and the probe weights when the run mixes them, then
    scores every share on val and test before the run's own choice goes on."""

    def __init__(self, test_paths: list[Path]) -> None:
        self.test_paths = test_paths
        self.tuned: dict[str, Any] = {}
        self.probe: dict[str, Any] = {}
        self.val: dict[float, np.ndarray] = {}
        self.test: dict[float, np.ndarray] = {}
        self.chosen = 1.0
        self.val_labels: list[str] = []
        self.classes: tuple[str, ...] = ()

    def __enter__(self) -> Watch:
        self._mix, self._keep = run._Tuner.mix_with_probe, run.keep_better
        watch = self

        def mix_with_probe(tuner: Any, progress: Any, probe: dict[str, Any], epoch: int) -> float:
            watch.tuned = {k: v.detach().cpu().clone() for k, v in tuner.network.state_dict().items()}
            watch.probe = {k: v.detach().cpu().clone() for k, v in probe.items()}
            watch.chosen = watch._mix(tuner, progress, probe, epoch)
            return watch.chosen

        def keep_better(tuned: choice.Candidate | None, probe: choice.Candidate, data: choice.ValData) -> Any:
            if tuned is not None and data.val is not None:
                watch.score(tuned.network, data)
            return watch._keep(tuned, probe, data)

        run._Tuner.mix_with_probe, run.keep_better = mix_with_probe, keep_better  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        run._Tuner.mix_with_probe, run.keep_better = self._mix, self._keep  # type: ignore[method-assign]

    def score(self, network: Any, data: choice.ValData) -> None:
        assert data.val is not None
        work = copy.deepcopy(network)
        self.val_labels, self.classes = list(data.val.labels), tuple(data.classes)
        sets = {"val": list(data.val.paths), "test": self.test_paths}
        inputs = {name: choice._inputs(validation_inputs(paths, data.pipeline), data) for name, paths in sets.items()}
        for share in SHARES:
            work.load_state_dict(choice.mixed_state(self.probe, self.tuned, share))
            self.val[share] = choice._probabilities(work, inputs["val"], data)
            self.test[share] = choice._probabilities(work, inputs["test"], data)
            print(f"    share {share:g}: scored", flush=True)


def run_one(source: Source, train: list[int], val: list[int], draw: int, seed: int, folder: Path) -> Scored:
    test = [int(i) for i in source.test]
    watch = Watch([source.files[i] for i in test])
    started = time.perf_counter()
    with build_project(folder, source, train, val) as project, watch:
        project.finetune(seed=seed)
    return Scored(
        draw,
        seed,
        watch.classes,
        watch.val_labels,
        [source.labels[i] for i in test],
        watch.val,
        watch.test,
        watch.chosen,
        time.perf_counter() - started,
    )


def accuracy(probabilities: np.ndarray, labels: list[str], classes: tuple[str, ...]) -> float:
    return float((np.asarray(classes)[probabilities.argmax(axis=1)] == np.asarray(labels)).mean())


def balanced(probabilities: np.ndarray, labels: list[str], classes: tuple[str, ...]) -> float:
    return held_out_validation(classes, probabilities, labels).balanced_accuracy or 0.0


def by_val_accuracy(scored: Scored) -> float:
    """The recipe's rule until this bench: the best val balanced accuracy; a tie goes to 1, else to the smaller share
    (the recipe broke ties by the lower loss)."""
    key = {s: (balanced(scored.val[s], scored.val_labels, scored.classes), s == 1.0) for s in TUNED}
    return max(key, key=lambda s: key[s])


def by_val_loss(scored: Scored) -> float:
    return min(TUNED, key=lambda s: mean_log_loss(scored.classes, scored.val[s], scored.val_labels))


def widest(scored: Scored) -> float:
    """The recipe's rule since this bench: :func:`tetsuban.finetune.choice.widest_share`."""
    return choice.widest_share({s: scored.val[s] for s in TUNED}, scored.classes, scored.val_labels)


def fixed(share: float) -> Callable[[Scored], float]:
    return lambda _: share


def rules() -> dict[str, Callable[[Scored], float]]:
    return {
        "best val balanced accuracy (the recipe before)": by_val_accuracy,
        "lowest val loss": by_val_loss,
        "the largest share within one standard error of the best (widest_share, the recipe now)": widest,
        **{f"fixed {s:g}" + (" (the probe network)" if s == 0 else ""): fixed(s) for s in SHARES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["emoji", "fashion"], default="fashion")
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--tables-from", type=Path, help="write the tables from the runs kept in this folder, run none")
    args = parser.parse_args()
    if args.tables_from is not None:
        write_table(args, [kept(path) for path in sorted(args.tables_from.glob("draw*-seed*.npz"))])
        return
    rng = np.random.default_rng(0)
    runs: list[Scored] = []
    with tempfile.TemporaryDirectory(prefix="finetune-ends-") as tmp:
        work = Path(tmp)
        for name in ("emoji", "fashion"):  # bench/finetune.py's order, so that the draws are its draws
            source = emoji_source(rng) if name == "emoji" else fashion_source(work, rng)
            for draw in range(args.draws):
                train, val = draw_split(source, args.shots, rng)
                if name != args.dataset:
                    continue
                for seed in args.seeds:
                    print(f"{source.name}: draw {draw + 1}, seed {seed}", flush=True)
                    runs.append(run_one(source, train, val, draw, seed, work / f"{draw}-{seed}"))
                    keep(runs[-1], args.keep)
                    print(summary(runs[-1]), flush=True)
    write_table(args, runs)


def keep(scored: Scored, folder: Path | None) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(
        folder / f"draw{scored.draw}-seed{scored.seed}.npz",
        classes=np.asarray(scored.classes),
        val_labels=np.asarray(scored.val_labels),
        test_labels=np.asarray(scored.test_labels),
        chosen=scored.chosen,
        **{f"val_{s:g}": p for s, p in scored.val.items()},
        **{f"test_{s:g}": p for s, p in scored.test.items()},
    )


def kept(path: Path) -> Scored:
    """A run written by :func:`keep`."""
    draw, seed = (int(part) for part in path.stem.removeprefix("draw").split("-seed"))
    with np.load(path) as saved:
        return Scored(
            draw,
            seed,
            tuple(str(c) for c in saved["classes"]),
            [str(v) for v in saved["val_labels"]],
            [str(v) for v in saved["test_labels"]],
            {s: saved[f"val_{s:g}"] for s in SHARES},
            {s: saved[f"test_{s:g}"] for s in SHARES},
            float(saved["chosen"]),
            0.0,
        )


def summary(scored: Scored) -> str:
    cells = [
        f"{s:g}: val {balanced(scored.val[s], scored.val_labels, scored.classes):.3f} "
        f"test {accuracy(scored.test[s], scored.test_labels, scored.classes):.3f}"
        for s in SHARES
    ]
    return f"  chose {scored.chosen:g} in {scored.seconds:.0f} s; " + "; ".join(cells)


def write_table(args: argparse.Namespace, runs: list[Scored]) -> None:
    lines = [
        "# How a fine-tuning run ends: the WiSE-FT share",
        "",
        f"`python bench/finetune_ends.py --dataset {args.dataset} --shots {args.shots} --draws {args.draws} --seeds "
        f"{' '.join(map(str, args.seeds))}` on {datetime.now(UTC):%Y-%m-%d}, Python {platform.python_version()}. "
        "bench/finetune.py's label draws; each run is the product's fine-tuning, unchanged; every share of the last "
        "epoch's weights mixed with the probe network's (0: the probe network) scored on the val and the test images "
        "in float32.",
        "",
        "## Every run: val balanced accuracy / test accuracy per share",
        "",
        "| draw | seed | " + " | ".join(f"share {s:g}" for s in SHARES) + " | the run chose |",
        "|---:|---:|" + "---|" * len(SHARES) + "---:|",
    ]
    for r in runs:
        cells = [
            f"{balanced(r.val[s], r.val_labels, r.classes):.3f} / {accuracy(r.test[s], r.test_labels, r.classes):.3f}"
            for s in SHARES
        ]
        lines.append(f"| {r.draw + 1} | {r.seed} | " + " | ".join(cells) + f" | {r.chosen:g} |")
    lines += [
        "",
        "## Rules for the share: test accuracy of what each would ship, and its margin over the probe network",
        "",
        "| rule | median test | range | median margin over share 0 | range | shares chosen |",
        "|---|---:|---|---:|---|---|",
    ]
    for name, rule in rules().items():
        picks = [rule(r) for r in runs]
        tests = [accuracy(r.test[s], r.test_labels, r.classes) for r, s in zip(runs, picks, strict=True)]
        margins = [t - accuracy(r.test[0.0], r.test_labels, r.classes) for r, t in zip(runs, tests, strict=True)]
        lines.append(
            f"| {name} | {np.median(tests):.3f} | [{min(tests):.3f}, {max(tests):.3f}] | "
            f"{np.median(margins):+.3f} | [{min(margins):+.3f}, {max(margins):+.3f}] | "
            f"{', '.join(f'{s:g}' for s in picks)} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
