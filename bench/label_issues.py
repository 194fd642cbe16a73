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
  the labels given (what `tetsuban label-issues` ranks by).
How many to expect: tetsuban's count of wrong labels (`wrong_label_estimate`: the share of labels of another class
among the fifth of each predicted class the model and the neighbours are surest of), less the same count with no
error planted (the data's own doubtful labels), over the planted count; whether its 90% interval holds the planted
count plus that; and, for comparison, the summed probabilities that a label is wrong over the planted count.
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

from tetsuban.active.label_issues import (
    calibrated_wrong,
    label_issue_mask,
    neighbour_agreement,
    out_of_fold_probabilities,
    second_opinion,
    wrong_label_estimate,
)
from tetsuban.ingest.idx import read_idx

RESULTS = Path(__file__).resolve().parent / "results" / "label_issues.md"
RATES = (0.02, 0.05, 0.10)
EXPLAINED = """Precision at N (N = the planted errors) of each ranking on the same out-of-fold probabilities; median
over the draws (min-max). `cleanlab listed`: how many labels cleanlab's default filter lists, `recall`: the share of
planted errors among them; the same for tetsuban's list (confident learning's own filter, which `tetsuban
label-issues` and the review queue list). How many to expect: `expected` is tetsuban's count of wrong labels (the
share of labels of another class among the fifth of each predicted class the model and the neighbours are surest
of, times the labels), `none planted` the same count on the labels as they are (the data's own doubtful labels),
`added / planted` the difference over the planted count (1 is exact), `interval holds` the share of draws whose 90%
interval holds the planted count plus `none planted`; `summed / planted`: the summed probabilities that a label is
wrong over the planted count, which rank well but count every ambiguous image (shirt or T-shirt) too."""
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


def expected_wrong(x: np.ndarray, labels: np.ndarray, seed: int) -> int:
    """tetsuban's count of wrong labels to expect among ``labels`` as they are."""
    classes, p = out_of_fold_probabilities(x, list(labels), 5, seed)
    given = np.array([classes.index(name) for name in labels])
    return wrong_label_estimate(given, second_opinion(given, p, x)).expected


def run_case(x: np.ndarray, labels: np.ndarray, rate: float, seed: int, own: int) -> dict[str, float]:
    """One draw: ``own`` is the count of wrong labels tetsuban expects with none planted."""
    rng = np.random.default_rng(seed)
    noisy, changed = plant(labels, rate, rng)
    classes, p = out_of_fold_probabilities(x, list(noisy), 5, seed)
    given = np.array([classes.index(name) for name in noisy])
    truth, n = set(changed.tolist()), len(changed)
    row = {name: precision_at(rank(given, p, x), truth, n) for name, rank in RANKERS.items()}
    flagged = by_cleanlab(given, p, x)
    row["cleanlab listed"] = len(flagged)
    row["cleanlab recall"] = len(set(flagged.tolist()) & truth) / n
    listed = np.flatnonzero(label_issue_mask(given, p))  # what `tetsuban label-issues` lists
    row["tetsuban listed"] = len(listed)
    row["tetsuban recall"] = len(set(listed.tolist()) & truth) / n
    estimate = wrong_label_estimate(given, second_opinion(given, p, x))
    low, high = estimate.interval
    row["expected"] = estimate.expected
    row["none planted"] = own
    row["added / planted"] = (estimate.expected - own) / n
    row["interval holds"] = float(low <= n + own <= high)
    row["summed / planted"] = calibrated_wrong(given, p, x).sum() / n
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
        own = [expected_wrong(x, labels, seed) for seed in range(args.draws)]
        for rate in RATES:
            rows = [run_case(x, labels, rate, seed, own[seed]) for seed in range(args.draws)]
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
        f"{sys.platform}. " + " ".join(EXPLAINED.split()),
        "",
        "| data | planted | "
        + " | ".join(names)
        + " | cleanlab listed | cleanlab recall | tetsuban listed | tetsuban recall | expected | none planted "
        "| added / planted | interval holds | summed / planted |",
        "|---|---:|" + "---:|" * (len(names) + 9),
    ]


def table_row(name: str, rate: float, rows: list[dict[str, float]]) -> str:
    def cell(key: str, digits: str = ".2f") -> str:
        values = [r[key] for r in rows]
        return f"{np.median(values):{digits}} ({min(values):{digits}}-{max(values):{digits}})"

    cells = [cell(key) for key in RANKERS]
    return (
        f"| {name} | {rate:.0%} | " + " | ".join(cells) + f" | {cell('cleanlab listed', '.0f')} | "
        f"{cell('cleanlab recall')} | {cell('tetsuban listed', '.0f')} | {cell('tetsuban recall')} | "
        f"{cell('expected', '.0f')} | {cell('none planted', '.0f')} | "
        f"{cell('added / planted')} | {np.mean([r['interval holds'] for r in rows]):.2f} | {cell('summed / planted')} |"
    )


if __name__ == "__main__":
    main()
