"""Which labels to look at first: tetsuban's label-issue ranking against cleanlab's default, on planted errors.

Real embeddings (default backbone, through a real project) of 2,000 fashion-mnist images (10 classes) and the
1,892 emoji of emoji-google (9 categories). For each error rate (2%, 5%, 10%) and three draws, that share of the
labels is changed to another class at random; out-of-fold probabilities (5 folds, the linear head, exactly as
`tetsuban label-issues` computes them) are then ranked by each method, on the same probabilities:
- cleanlab: `cleanlab.filter.find_label_issues(..., return_indices_ranked_by="self_confidence")`, its default
  filter (prune by noise rate) and ranking;
- self-confidence: every label, by the probability of the given label, lowest first (cleanlab's score);
- margin: by the given label's probability less the largest other (cleanlab's "normalized margin");
- neighbours: by the given label's probability averaged with its share among the 10 nearest images' labels
  (cosine on the embeddings), lowest first;
- tetsuban: the out-of-fold probabilities averaged with the neighbours' label shares, temperature-calibrated to
  the labels given (what `tetsuban label-issues` ranks by); the sum of its probabilities that a label is wrong,
  and the count above 0.5, are reported against the planted count.
Precision at N: the share of planted errors among the first N of a ranking, N = the planted count (cleanlab's
list may be shorter: then its precision at N counts only what it lists). Medians over the draws, with min-max.
Writes bench/results/label_issues.md.

Usage: python bench/label_issues.py [--draws 3]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from cleanlab.filter import find_label_issues as cleanlab_issues
from probe_accuracy import FASHION, embed_files
from real_data import datasets_dir, emoji_by_category, write_pngs

from tetsuban.active.label_issues import calibrated_wrong, neighbour_agreement, out_of_fold_probabilities
from tetsuban.ingest.idx import read_idx

RESULTS = Path(__file__).resolve().parent / "results" / "label_issues.md"
RATES = (0.02, 0.05, 0.10)
Ranker = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def plant(labels: np.ndarray, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(noisy labels, indices changed): ``rate`` of the labels moved to another class at random."""
    classes = np.unique(labels)
    changed = np.sort(rng.choice(len(labels), round(rate * len(labels)), replace=False))
    noisy = labels.copy()
    for i in changed:
        noisy[i] = rng.choice(classes[classes != labels[i]])
    return noisy, changed


def by_self_confidence(given: np.ndarray, p: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.argsort(p[np.arange(len(given)), given], kind="stable")


def by_margin(given: np.ndarray, p: np.ndarray, x: np.ndarray) -> np.ndarray:
    own = p[np.arange(len(given)), given]
    others = p.copy()
    others[np.arange(len(given)), given] = -np.inf
    return np.argsort(own - others.max(axis=1), kind="stable")


def by_neighbours(given: np.ndarray, p: np.ndarray, x: np.ndarray) -> np.ndarray:
    own = p[np.arange(len(given)), given]
    return np.argsort((own + neighbour_agreement(x, given)) / 2, kind="stable")


def by_tetsuban(given: np.ndarray, p: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.argsort(-calibrated_wrong(given, p, x), kind="stable")


def by_cleanlab(given: np.ndarray, p: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.asarray(cleanlab_issues(given, p, return_indices_ranked_by="self_confidence"))


RANKERS: dict[str, Ranker] = {
    "cleanlab (default)": by_cleanlab,
    "self-confidence": by_self_confidence,
    "margin": by_margin,
    "neighbours": by_neighbours,
    "tetsuban": by_tetsuban,
}


def precision_at(ranking: np.ndarray, truth: set[int], n: int) -> float:
    return len(set(ranking[:n].tolist()) & truth) / n


def run_case(x: np.ndarray, labels: np.ndarray, rate: float, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    noisy, changed = plant(labels, rate, rng)
    classes, p = out_of_fold_probabilities(x, list(noisy), 5, seed)
    given = np.array([classes.index(name) for name in noisy])
    truth, n = set(changed.tolist()), len(changed)
    row = {name: precision_at(rank(given, p, x), truth, n) for name, rank in RANKERS.items()}
    flagged = by_cleanlab(given, p, x)
    row["cleanlab listed"] = len(flagged)
    row["cleanlab recall"] = len(set(flagged.tolist()) & truth) / n
    wrong = calibrated_wrong(given, p, x)
    row["expected / planted"] = wrong.sum() / n
    doubted = np.flatnonzero(wrong > 0.5)
    row["doubted / planted"] = len(doubted) / n
    row["doubted precision"] = len(set(doubted.tolist()) & truth) / max(1, len(doubted))
    return row


def fashion(work: Path, rng: np.random.Generator) -> tuple[str, np.ndarray, np.ndarray]:
    """2,000 random fashion-mnist test images: name, embeddings, labels."""
    root = datasets_dir() / "fashion-mnist"
    images, labels = read_idx(root / "t10k-images-idx3-ubyte.gz"), read_idx(root / "t10k-labels-idx1-ubyte.gz")
    chosen = np.sort(rng.choice(len(labels), 2000, replace=False))
    files = write_pngs(images[chosen], work / "fashion")
    return "fashion-mnist (10 classes)", embed_files(work, files), np.asarray([FASHION[c] for c in labels[chosen]])


def emoji(work: Path) -> tuple[str, np.ndarray, np.ndarray]:
    """Every base emoji of emoji-google (no skin-tone variant) by its Unicode category."""
    files, labels, groups = emoji_by_category()
    first = sorted({g: i for i, g in reversed(list(enumerate(groups)))}.values())
    base = [files[i] for i in first]
    return "emoji-google (9 categories)", embed_files(work, base), np.asarray([labels[i] for i in first])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        data = [fashion(Path(tmp), rng), emoji(Path(tmp))]
    lines = header(args)
    for name, x, labels in data:
        for rate in RATES:
            rows = [run_case(x, labels, rate, seed) for seed in range(args.draws)]
            lines.append(table_row(f"{name}, {len(labels):,} images", rate, rows))
            print(lines[-1], flush=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


def header(args: argparse.Namespace) -> list[str]:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    names = list(RANKERS)
    return [
        "# Label issues: which labels to look at first",
        "",
        f"`python bench/label_issues.py --draws {args.draws}` on {stamp}: Python {platform.python_version()}, "
        f"{sys.platform}. Precision at N (N = the planted errors) of each ranking on the same out-of-fold "
        "probabilities; median over the draws (min-max). `cleanlab listed`: how many labels cleanlab's default "
        "filter lists, `recall`: the share of planted errors among them; `expected / planted`: the sum of tetsuban's "
        "calibrated probabilities that a label is wrong, over the planted count; `doubted / planted`: the labels "
        "whose probability of being wrong passes 0.5, over the planted count, and `doubted precision` the share of "
        "planted errors among them. Both counts are far above the planted errors: the probabilities count the "
        "images the model and their neighbours find ambiguous (shirt or T-shirt) as well as wrong labels, so they "
        "rank well but do not count errors.",
        "",
        "| data | planted | " + " | ".join(names) + " | cleanlab listed | cleanlab recall | expected / planted | "
        "doubted / planted | doubted precision |",
        "|---|---:|" + "---:|" * (len(names) + 5),
    ]


def table_row(name: str, rate: float, rows: list[dict[str, float]]) -> str:
    def cell(key: str, digits: str = ".2f") -> str:
        values = [r[key] for r in rows]
        return f"{np.median(values):{digits}} ({min(values):{digits}}-{max(values):{digits}})"

    cells = [cell(key) for key in RANKERS]
    return (
        f"| {name} | {rate:.0%} | " + " | ".join(cells) + f" | {cell('cleanlab listed', '.0f')} | "
        f"{cell('cleanlab recall')} | {cell('expected / planted')} | {cell('doubted / planted')} | "
        f"{cell('doubted precision')} |"
    )


if __name__ == "__main__":
    main()
