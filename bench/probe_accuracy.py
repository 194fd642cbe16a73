"""How accurate is the linear probe with few labels, and how steady? Embeddings against raw pixels, and the
standardization's spread floor against plain standardization, on two real datasets.

For 5, 20 and 100 labels per class (3 random draws each), the probe (class-balanced logistic regression on
standardized features with the spread floor, C = 0.1, the default of ``tetsuban train``) is fitted on embeddings
from the default backbone and, as baselines, on the same embeddings standardized plainly (no floor) and on raw
pixels (32x32 RGB for emoji, 28x28 grey for fashion-mnist), and scored on a held-out test set. Each test image is
also embedded from a nudged copy (every pixel moved by -1, 0 or +1 level at random, as another decoder or resizer
may give it): how far that moves the probe's probabilities, with and without the floor, is the steadiness. Sets:
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
from tetsuban.learn.head import DEFAULT_C, SPREAD_FLOOR, fit_linear_head

RESULTS = Path(__file__).resolve().parent / "results" / "probe.md"
SHOTS = (5, 20, 100)
FASHION = ("T-shirt-top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclass(frozen=True)
class Dataset:
    """Features of every image, its label, and which images may be trained on and which are the test set."""

    name: str
    embeddings: np.ndarray
    nudged: np.ndarray  # embeddings of the test images' nudged copies, in the order of ``test``
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


def nudged(images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Each uint8 image with every channel of every pixel moved by -1, 0 or +1 level at random (kept in 0-255)."""
    return [np.clip(im.astype(np.int16) + rng.integers(-1, 2, im.shape), 0, 255).astype(np.uint8) for im in images]


def pixels_of(files: list[Path], side: int) -> np.ndarray:
    out = []
    for f in files:
        rgb = decode(f)
        out.append(np.asarray(Image.fromarray(resize_max_side(rgb, side)).resize((side, side)), np.float32).ravel())
    return np.stack(out) / 255.0


def emoji_dataset(work: Path, rng: np.random.Generator) -> Dataset:
    files, labels, groups = emoji_by_category()
    in_test = test_by_group(groups, rng)
    test_images = [decode(files[i]) for i in np.flatnonzero(in_test)]  # RGB, transparency on white as embedded
    return Dataset(
        "emoji-google (9 categories)",
        embed_files(work, files),
        embed_files(work, write_pngs(nudged(test_images, rng), work / "emoji-nudged")),
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
        embed_files(work, write_pngs(np.stack(nudged(list(test_x[test]), rng)), work / "fashion-nudged")),
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


@dataclass(frozen=True)
class Score:
    """One probe's test accuracy and, where the features have nudged copies, how far the nudge moves it: the
    largest change in a class's probability of each test image, its median and 99th percentile over them, and the
    share of test images whose top class changes."""

    accuracy: float
    swing: float | None = None
    swing_tail: float | None = None
    flipped: float | None = None


def score(features: np.ndarray, data: Dataset, train: np.ndarray, floor: float, nudged_features: bool) -> Score:
    head = fit_linear_head(features[train], list(data.labels[train]), DEFAULT_C, floor=floor)
    probabilities = head.probabilities(features[data.test])
    predicted = np.asarray(head.classes)[probabilities.argmax(axis=1)]
    accuracy = float(np.mean(predicted == data.labels[data.test]))
    if not nudged_features:
        return Score(accuracy)
    moved = head.probabilities(data.nudged)
    largest = np.abs(moved - probabilities).max(axis=1)
    flipped = float(np.mean(moved.argmax(axis=1) != probabilities.argmax(axis=1)))
    return Score(accuracy, float(np.median(largest)), float(np.quantile(largest, 0.99)), flipped)


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
                scores: dict[str, list[Score]] = {"floored": [], "plain": [], "raw pixels": []}
                for _ in range(args.draws):
                    train = draw(data, shots, rng)
                    scores["floored"].append(score(data.embeddings, data, train, SPREAD_FLOOR, True))
                    scores["plain"].append(score(data.embeddings, data, train, 0.0, True))
                    scores["raw pixels"].append(score(data.pixels, data, train, SPREAD_FLOOR, False))
                row = (data.name, shots, len(data.test), scores)
                print(f"  {shots}/class: " + ", ".join(f"{k} {_mean(v, 'accuracy'):.3f}" for k, v in scores.items()))
                rows.append(row)
    write_table(rows, args)


def _mean(scores: list[Score], field: str) -> float:
    return statistics.mean(getattr(s, field) for s in scores)


def _cell(scores: list[Score], field: str = "accuracy") -> str:
    values = [getattr(s, field) for s in scores]
    return f"{statistics.mean(values):.3f} (+-{statistics.pstdev(values):.3f})"


def _paired(first: list[Score], second: list[Score]) -> str:
    """The mean accuracy difference over the same draws, and its smallest."""
    gaps = [a.accuracy - b.accuracy for a, b in zip(first, second, strict=True)]
    return f"{statistics.mean(gaps):+.3f} (least {min(gaps):+.3f})"


def write_table(rows: list[tuple[str, int, int, dict[str, list[Score]]]], args: argparse.Namespace) -> None:
    lines = [
        "# Linear-probe accuracy with few labels",
        "",
        f"`python bench/probe_accuracy.py --draws {args.draws}` on {datetime.now(UTC):%Y-%m-%d}, Python "
        f"{platform.python_version()}. Class-balanced logistic regression, C = {DEFAULT_C}, on features standardized "
        f"over the training images, each dimension divided by its spread plus {SPREAD_FLOOR:g} x the median spread "
        "(the default: `floored`) or by its spread alone (`plain`, before the floor); accuracy on the held-out test "
        f"set, mean (and spread) over {args.draws} random draws of the training labels. Both embedding columns are "
        "fitted on the same draws; `floored - plain` is their paired difference.",
        "",
        "| dataset | labels per class | test images | embeddings, floored | embeddings, plain | floored - plain "
        "| raw pixels |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, shots, tested, scores in rows:
        lines.append(
            f"| {name} | {shots} | {tested:,} | {_cell(scores['floored'])} | {_cell(scores['plain'])} | "
            f"{_paired(scores['floored'], scores['plain'])} | {_cell(scores['raw pixels'])} |"
        )
    lines += [
        "",
        "## Steadiness: each test image against a copy with every pixel nudged by one level at random",
        "",
        "Each test image's largest change in a class's probability, its median and 99th percentile over the test "
        "images, and the share of test images whose predicted class changes; mean (and spread) over the draws.",
        "",
        "| dataset | labels per class | change: floored | plain | 99th percentile: floored | plain "
        "| class changed: floored | plain |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, shots, _, scores in rows:
        floored, plain = scores["floored"], scores["plain"]
        lines.append(
            f"| {name} | {shots} | {_cell(floored, 'swing')} | {_cell(plain, 'swing')} | "
            f"{_cell(floored, 'swing_tail')} | {_cell(plain, 'swing_tail')} | "
            f"{_cell(floored, 'flipped')} | {_cell(plain, 'flipped')} |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
