"""Linear probe against fine-tuning: test accuracy and training wall time on this CPU, with few labels.

Two real datasets, 100 labels per class (issue 20's budget; --shots for others), each draw in its own real project:
- emoji-google: the 9 Unicode categories; the test set is 20% of the emoji, each with its skin-tone variants
  (grouped by emoji.json, so that no variant of a test emoji is trained on);
- fashion-mnist: a 10,000-image subset (the t10k file) imported whole; 2,000 of it are the test set, the labelled
  images are drawn from the other 8,000.
Per budget and label draw, k labelled training images per class and k/2 validation images per class are drawn from
the pool (on emoji, validation images come from emoji none of whose variants is trained on, as the test images do),
and both models are trained the way a user trains them: ``tetsuban train`` (the probe with its default C, embeddings
of the labelled images included in its time) and ``tetsuban train --finetune`` (the recipe as it chooses, keeping
the probe where it validates clearly better). Both are scored by ``tetsuban evaluate`` on the same test images. The
table gives each draw, then per budget the median over the draws with the range.
Writes bench/results/finetune.md (or --out). ``--train fashion`` trains only fashion-mnist's draws, the same ones a
whole run trains (emoji's labels are still drawn, not trained on).

Usage: python bench/finetune.py [--shots 100] [--datasets emoji fashion] [--draws 3] [--train fashion] [--out F]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from real_data import datasets_dir, emoji_by_category, test_by_group, write_pngs

from tetsuban import Project
from tetsuban.ingest.idx import read_idx
from tetsuban.learn.card import FinetunedHeadCard, LogisticHeadCard
from tetsuban.learn.train import TrainReport
from tetsuban.store.splits import add_splits

RESULTS = Path(__file__).resolve().parent / "results" / "finetune.md"
FASHION = ("T-shirt-top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclass(frozen=True)
class Source:
    """A dataset as files: each file's label, and which files may be labelled (pool) and which are the test set."""

    name: str
    files: list[Path]
    labels: list[str]
    pool: np.ndarray
    test: np.ndarray
    groups: np.ndarray | None = None  # images that must not be split apart (an emoji and its variants)


@dataclass(frozen=True)
class Row:
    dataset: str
    shots: int
    draw: int
    train: int
    val: int
    test: int
    method: str
    accuracy: float
    balanced: float
    seconds: float
    detail: str


def emoji_source(rng: np.random.Generator) -> Source:
    files, labels, groups = emoji_by_category()
    in_test = test_by_group(groups, rng)
    pool, test = np.flatnonzero(~in_test), np.flatnonzero(in_test)
    return Source("emoji-google (9 categories)", files, labels, pool, test, np.asarray(groups))


def fashion_source(work: Path, rng: np.random.Generator) -> Source:
    root = datasets_dir() / "fashion-mnist"
    images, classes = read_idx(root / "t10k-images-idx3-ubyte.gz"), read_idx(root / "t10k-labels-idx1-ubyte.gz")
    files = write_pngs(images, work / "fashion-png")
    order = rng.permutation(len(files))
    return Source(
        "fashion-mnist (10 classes, 10,000 images)",
        files,
        [FASHION[int(c)] for c in classes],
        np.sort(order[2000:]),
        np.sort(order[:2000]),
    )


def draw(source: Source, per_class: int, rng: np.random.Generator, exclude: set[int]) -> list[int]:
    labels = np.asarray(source.labels)
    chosen: list[int] = []
    for name in sorted(set(labels[source.pool])):
        members = [int(i) for i in source.pool[labels[source.pool] == name] if int(i) not in exclude]
        chosen += [int(i) for i in rng.choice(members, size=min(per_class, len(members)), replace=False)]
    return chosen


def draw_split(source: Source, per_class: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """``per_class`` training images per class, and half as many validation images per class from the rest of the
    pool, none of them in a group (an emoji's variants) that a training image is in."""
    train = draw(source, per_class, rng, set())
    taken = set(train)
    if source.groups is not None:
        trained = set(source.groups[train].tolist())
        taken = {int(i) for i in source.pool if source.groups[i] in trained}
    return train, draw(source, max(1, per_class // 2), rng, taken)


def build_project(folder: Path, source: Source, train: list[int], val: list[int]) -> Project:
    """Import every file of ``source`` in place; label the train, val and test images; fix their splits."""
    project = Project.init(folder)
    project.import_files(source.files)
    by_sha = {r.sha256: r.id for r in project.images()}  # byte-identical files are one image: the first role wins
    ids = [by_sha[hashlib.sha256(f.read_bytes()).hexdigest()] for f in source.files]
    assigned: dict[int, str] = {}
    for split, rows in (("train", train), ("val", val), ("test", [int(i) for i in source.test])):
        for i in rows:
            assigned.setdefault(ids[i], split)
    label = {ids[i]: source.labels[i] for i in train + val + [int(i) for i in source.test]}
    project.set_labels([(image_id, label[image_id]) for image_id in assigned], source="import")
    with project.workspace.engine.begin() as conn:  # the bench fixes the splits exactly; users run tetsuban split
        add_splits(conn, assigned, "bench", 0.2, 0.1, 0)
    return project


def measure(project: Project, method: str) -> tuple[TrainReport, float, float, float]:
    started = time.perf_counter()
    report = project.finetune() if method == "fine-tuning" else project.train()
    seconds = time.perf_counter() - started
    evaluation, _ = project.evaluate(report.artifact.folder)
    return report, seconds, evaluation.metrics.accuracy, evaluation.metrics.balanced_accuracy


def detail(report: TrainReport) -> str:
    head = report.artifact.card.head
    if isinstance(head, LogisticHeadCard):
        return f"C = {head.C:g}"
    if not isinstance(head, FinetunedHeadCard):
        return head.kind
    stopped = "" if head.ended_by == "recipe" else f", stopped by the {head.ended_by}"
    return (
        f"blocks {head.recipe['cut']}+ trained, batch {head.recipe['batch_size']}, {head.epochs} of "
        f"{head.planned_epochs} epochs{stopped}; kept {head.kept}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, nargs="+", default=[100])
    parser.add_argument("--datasets", nargs="+", default=["emoji", "fashion"], choices=["emoji", "fashion"])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument(
        "--train",
        nargs="+",
        choices=["emoji", "fashion"],
        help="of --datasets, those trained (the others' labels "
        "are drawn only, so that each dataset gets the draws of a whole run); all of them by default",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="finetune-bench-") as tmp:
        work = Path(tmp)
        for name in args.datasets:
            source = emoji_source(rng) if name == "emoji" else fashion_source(work, rng)
            for shots in args.shots:
                for index in range(args.draws):
                    if args.train is None or name in args.train:
                        rows += run_draw(source, shots, index, rng, work / f"{name}-{shots}-{index}")
                    else:
                        draw_split(source, shots, rng)
    write_table(rows, args)


def run_draw(source: Source, shots: int, index: int, rng: np.random.Generator, folder: Path) -> list[Row]:
    """One draw of the labels: the probe and fine-tuning trained and evaluated in one project."""
    train, val = draw_split(source, shots, rng)
    print(f"{source.name}, {shots}/class, draw {index + 1}: {len(train)} train, {len(val)} val", flush=True)
    rows = []
    with build_project(folder, source, train, val) as project:
        for method in ("linear probe", "fine-tuning"):
            report, seconds, accuracy, balanced = measure(project, method)
            counts = (len(train), len(val), len(source.test))
            row = Row(source.name, shots, index, *counts, method, accuracy, balanced, seconds, detail(report))
            print(f"  {method}: accuracy {accuracy:.3f} in {seconds:.0f} s ({row.detail})", flush=True)
            rows.append(row)
    return rows


def write_table(rows: list[Row], args: argparse.Namespace) -> None:
    command = f"--shots {' '.join(map(str, args.shots))} --datasets {' '.join(args.datasets)} --draws {args.draws}"
    command += "" if args.train is None else f" --train {' '.join(args.train)}"
    lines = [
        "# Linear probe against fine-tuning",
        "",
        f"`python bench/finetune.py {command}` on {datetime.now(UTC):%Y-%m-%d}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU cores, no GPU. EfficientNet-Lite0 (ImageNet weights), the project's default pipeline. "
        "Probe: `tetsuban train` (its time includes embedding the labelled images). Fine-tuning: `tetsuban train "
        "--finetune` with the recipe's own choices (its time includes caching the lower blocks' outputs, and "
        "validating the probe and the kept epoch at the end). Both scored by `tetsuban evaluate` on the same test "
        "images.",
        "",
        "## Medians over the label draws (range in brackets)",
        "",
        "| dataset | labels per class | draws | probe | fine-tuning | fine-tuning - probe | fine-tuning time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (dataset, shots), pairs in _pairs(rows).items():
        probe = [p.accuracy for p, _ in pairs]
        tuned = [t.accuracy for _, t in pairs]
        gain = [t.accuracy - p.accuracy for p, t in pairs]
        seconds = [t.seconds for _, t in pairs]
        lines.append(
            f"| {dataset} | {shots} | {len(pairs)} | {_spread(probe)} | {_spread(tuned)} | {_spread(gain, '+.3f')} "
            f"| {_spread(seconds, '.0f')} s |"
        )
    lines += [
        "",
        "## Every draw",
        "",
        "| dataset | labels per class | draw | train / val / test | method | test accuracy | balanced | train time | "
        "time ratio | how |",
        "|---|---:|---:|---|---|---:|---:|---:|---:|---|",
    ]
    probe_seconds = {(r.dataset, r.shots, r.draw): r.seconds for r in rows if r.method == "linear probe"}
    for r in rows:
        ratio = r.seconds / probe_seconds[(r.dataset, r.shots, r.draw)]
        lines.append(
            f"| {r.dataset} | {r.shots} | {r.draw + 1} | {r.train:,} / {r.val:,} / {r.test:,} | {r.method} | "
            f"{r.accuracy:.3f} | {r.balanced:.3f} | {r.seconds:.0f} s | {ratio:.0f}x | {r.detail} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


def _pairs(rows: list[Row]) -> dict[tuple[str, int], list[tuple[Row, Row]]]:
    """(probe, fine-tuning) rows of each draw, by dataset and budget."""
    found: dict[tuple[str, int], list[tuple[Row, Row]]] = {}
    by_draw = {(r.dataset, r.shots, r.draw, r.method): r for r in rows}
    for (dataset, shots, index, method), row in by_draw.items():
        if method == "linear probe":
            tuned = by_draw[(dataset, shots, index, "fine-tuning")]
            found.setdefault((dataset, shots), []).append((row, tuned))
    return found


def _spread(values: list[float], form: str = ".3f") -> str:
    return f"{np.median(values):{form}} [{min(values):{form}}, {max(values):{form}}]"


if __name__ == "__main__":
    sys.exit(main())
