"""Linear probe against fine-tuning: test accuracy and training wall time on this CPU, with few labels.

Two real datasets, two label budgets (20 and 100 labels per class), each in its own real project:
- emoji-google: the 9 Unicode categories; the test set is 20% of the emoji, each with its skin-tone variants
  (grouped by emoji.json, so that no variant of a test emoji is trained on);
- fashion-mnist: a 10,000-image subset (the t10k file) imported whole; 2,000 of it are the test set, the labelled
  images are drawn from the other 8,000.
Per budget, k labelled training images per class and k/2 validation images per class are drawn from the pool, and
both models are trained the way a user trains them: ``tetsuban train`` (the probe with its default C, embeddings of
the labelled images included in its time) and ``tetsuban train --finetune`` (the recipe as it chooses, with early
stopping on the validation images). Both are scored by ``tetsuban evaluate`` on the same test images.
Writes bench/results/finetune.md.

Usage: python bench/finetune.py [--shots 20 100] [--datasets emoji fashion]
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


@dataclass(frozen=True)
class Row:
    dataset: str
    shots: int
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
    return Source("emoji-google (9 categories)", files, labels, np.flatnonzero(~in_test), np.flatnonzero(in_test))


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
    early = ", stopped early" if head.stopped_early else ""
    return (
        f"batch {head.recipe['batch_size']}, {head.head_epochs} + {head.body_epochs} of "
        f"{head.planned_epochs} epochs{early}, kept {head.best_stage} epoch {head.best_epoch}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--datasets", nargs="+", default=["emoji", "fashion"], choices=["emoji", "fashion"])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="finetune-bench-") as tmp:
        work = Path(tmp)
        for name in args.datasets:
            source = emoji_source(rng) if name == "emoji" else fashion_source(work, rng)
            for shots in args.shots:
                train = draw(source, shots, rng, set())
                val = draw(source, max(1, shots // 2), rng, set(train))
                print(f"{source.name}, {shots}/class: {len(train)} train, {len(val)} val", flush=True)
                with build_project(work / f"{name}-{shots}", source, train, val) as project:
                    for method in ("linear probe", "fine-tuning"):
                        report, seconds, accuracy, balanced = measure(project, method)
                        row = Row(
                            source.name,
                            shots,
                            len(train),
                            len(val),
                            len(source.test),
                            method,
                            accuracy,
                            balanced,
                            seconds,
                            detail(report),
                        )
                        print(f"  {method}: accuracy {accuracy:.3f} in {seconds:.0f} s ({row.detail})", flush=True)
                        rows.append(row)
    write_table(rows, args)


def write_table(rows: list[Row], args: argparse.Namespace) -> None:
    lines = [
        "# Linear probe against fine-tuning",
        "",
        f"`python bench/finetune.py --shots {' '.join(map(str, args.shots))} --datasets {' '.join(args.datasets)}` "
        f"on {datetime.now(UTC):%Y-%m-%d}, Python {platform.python_version()}, {os.cpu_count()} CPU cores, no GPU. "
        "EfficientNet-Lite0 (ImageNet weights), the project's default pipeline. Probe: `tetsuban train` (its time "
        "includes embedding the labelled images). Fine-tuning: `tetsuban train --finetune` with the recipe's own "
        "choices. Both scored by `tetsuban evaluate` on the same test images; one draw of the labels per row.",
        "",
        "| dataset | labels per class | train / val / test | method | test accuracy | balanced | train time | "
        "time ratio | how |",
        "|---|---:|---|---|---:|---:|---:|---:|---|",
    ]
    probe_seconds = {(r.dataset, r.shots): r.seconds for r in rows if r.method == "linear probe"}
    for r in rows:
        ratio = r.seconds / probe_seconds[(r.dataset, r.shots)]
        lines.append(
            f"| {r.dataset} | {r.shots} | {r.train:,} / {r.val:,} / {r.test:,} | {r.method} | {r.accuracy:.3f} | "
            f"{r.balanced:.3f} | {r.seconds:.0f} s | {ratio:.0f}x | {r.detail} |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
