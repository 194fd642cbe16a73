"""How accurate is the linear probe with few labels? Embeddings against raw pixels, on two real datasets.

For 5, 20 and 100 labels per class (3 random draws each), the probe (class-balanced logistic regression on
standardized features, C = 0.1, the default of ``tetsuban train``) is fitted on embeddings from the default
backbone and, as the baseline, on raw pixels (32x32 RGB for emoji, 28x28 grey for fashion-mnist), and scored on
a held-out test set:
- emoji-google: the 9 Unicode categories; the test set is 20% of the emoji, each with its skin-tone variants
  (grouped by emoji.json, so that no variant of a test emoji is trained on);
- fashion-mnist: 10 classes; a pool of 500 per class from the training file, the test set 2,000 of t10k.
Embeddings go through a real project (import, embed), so this also times that path. Writes bench/results/probe.md.

Usage: python bench/probe_accuracy.py [--draws 3]
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image
from real_data import datasets_dir, emoji_by_category, test_by_group, write_pngs

from tetsuban import Project, decode
from tetsuban.imaging.decode import resize_max_side
from tetsuban.ingest.idx import read_idx
from tetsuban.learn.head import DEFAULT_C, fit_linear_head

RESULTS = Path(__file__).resolve().parent / "results" / "probe.md"
SHOTS = (5, 20, 100)
FASHION = ("T-shirt-top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclass(frozen=True)
class Dataset:
    """Features of every image, its label, and which images may be trained on and which are the test set."""

    name: str
    embeddings: np.ndarray
    pixels: np.ndarray
    labels: np.ndarray
    pool: np.ndarray
    test: np.ndarray


def embed_files(work: Path, files: list[Path]) -> np.ndarray:
    """Embeddings of ``files`` (in order) through a real project: import in place, then embed."""
    with Project.init(work / f"project-{len(list(work.iterdir()))}") as project:
        project.import_files(files)
        started = time.perf_counter()
        report = project.embed()
        print(f"  embedded {report.computed} images in {time.perf_counter() - started:.0f} s", flush=True)
        by_sha = {r.sha256: r.id for r in project.images()}  # byte-identical files are one image
        vectors = project.embeddings(list(by_sha.values()))
        return np.stack([vectors[by_sha[hashlib.sha256(f.read_bytes()).hexdigest()]] for f in files])


def pixels_of(files: list[Path], side: int) -> np.ndarray:
    out = []
    for f in files:
        rgb = decode(f)
        out.append(np.asarray(Image.fromarray(resize_max_side(rgb, side)).resize((side, side)), np.float32).ravel())
    return np.stack(out) / 255.0


def emoji_dataset(work: Path, rng: np.random.Generator) -> Dataset:
    files, labels, groups = emoji_by_category()
    in_test = test_by_group(groups, rng)
    return Dataset(
        "emoji-google (9 categories)",
        embed_files(work, files),
        pixels_of(files, 32),
        np.asarray(labels),
        np.flatnonzero(~in_test),
        np.flatnonzero(in_test),
    )


def fashion_dataset(work: Path, rng: np.random.Generator) -> Dataset:
    root = datasets_dir() / "fashion-mnist"
    train_x, train_y = read_idx(root / "train-images-idx3-ubyte.gz"), read_idx(root / "train-labels-idx1-ubyte.gz")
    test_x, test_y = read_idx(root / "t10k-images-idx3-ubyte.gz"), read_idx(root / "t10k-labels-idx1-ubyte.gz")
    pool = np.concatenate([rng.choice(np.flatnonzero(train_y == c), 500, replace=False) for c in range(10)])
    test = rng.choice(len(test_y), 2000, replace=False)
    images = np.concatenate([train_x[pool], test_x[test]])
    labels = np.asarray([FASHION[c] for c in np.concatenate([train_y[pool], test_y[test]])])
    files = write_pngs(images, work / "fashion-png")
    n_pool = len(pool)
    return Dataset(
        "fashion-mnist (10 classes)",
        embed_files(work, files),
        images.reshape(len(images), -1).astype(np.float32) / 255.0,
        labels,
        np.arange(n_pool),
        np.arange(n_pool, len(labels)),
    )


def draw(data: Dataset, per_class: int, rng: np.random.Generator) -> np.ndarray:
    chosen = []
    for name in np.unique(data.labels[data.pool]):
        members = data.pool[data.labels[data.pool] == name]
        chosen.append(rng.choice(members, size=min(per_class, len(members)), replace=False))
    return np.concatenate(chosen)


def accuracy(features: np.ndarray, data: Dataset, train: np.ndarray) -> float:
    head = fit_linear_head(features[train], list(data.labels[train]), DEFAULT_C)
    predicted = np.asarray(head.classes)[head.probabilities(features[data.test]).argmax(axis=1)]
    return float(np.mean(predicted == data.labels[data.test]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="probe-bench-") as tmp:
        for make in (emoji_dataset, fashion_dataset):
            data = make(Path(tmp), rng)
            print(f"{data.name}: {len(data.pool)} in the training pool, {len(data.test)} test", flush=True)
            for shots in SHOTS:
                scores: dict[str, list[float]] = {"embeddings": [], "raw pixels": []}
                for _ in range(args.draws):
                    train = draw(data, shots, rng)
                    scores["embeddings"].append(accuracy(data.embeddings, data, train))
                    scores["raw pixels"].append(accuracy(data.pixels, data, train))
                row = (data.name, shots, len(data.test), scores)
                print(f"  {shots}/class: " + ", ".join(f"{k} {statistics.mean(v):.3f}" for k, v in scores.items()))
                rows.append(row)
    write_table(rows, args)


def write_table(rows: list[tuple[str, int, int, dict[str, list[float]]]], args: argparse.Namespace) -> None:
    lines = [
        "# Linear-probe accuracy with few labels",
        "",
        f"`python bench/probe_accuracy.py --draws {args.draws}` on {datetime.now(UTC):%Y-%m-%d}, Python "
        f"{platform.python_version()}. Class-balanced logistic regression on standardized features, C = "
        f"{DEFAULT_C}; accuracy on the held-out test set, mean (and spread) over {args.draws} random draws of the "
        "training labels.",
        "",
        "| dataset | labels per class | test images | EfficientNet-Lite0 embeddings | raw pixels |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, shots, tested, scores in rows:
        cells = [f"{statistics.mean(v):.3f} (+-{statistics.pstdev(v):.3f})" for v in scores.values()]
        lines.append(f"| {name} | {shots} | {tested:,} | {cells[0]} | {cells[1]} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
