"""How often does confident learning's tie rule matter? Ours (the paper's) against cleanlab's, side by side.

When two or more classes reach their thresholds, the paper (Northcutt et al., JAIR 2021, section 3.1) counts the
image as the most probable of those classes; cleanlab 2.x takes the most probable class overall, which may be one
that did not reach its threshold. This script counts, on the same inputs, how often the two give a different
confident joint and a different set of flagged labels:
- random matrices: 2,000 of them, 200 images and 2-10 classes each, probabilities drawn from a Dirichlet with
  concentration 0.3-3 and given labels that agree with the most probable class 30-90% of the time;
- real out-of-fold probabilities: 1,500 fashion-mnist images (pixels as features) with 0, 5 and 20% of the labels
  changed to another class, five folds.
Writes bench/results/confident_learning.md.

Usage: python bench/confident_learning.py [--matrices 2000]
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from cleanlab.count import compute_confident_joint
from cleanlab.filter import find_label_issues as cleanlab_issues
from probe_accuracy import datasets_dir

from tetsuban.active.label_issues import confident_joint, label_issue_mask, out_of_fold_probabilities
from tetsuban.ingest.idx import read_idx

RESULTS = Path(__file__).resolve().parent / "results" / "confident_learning.md"


def random_case(rng: np.random.Generator, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Given labels and probabilities for ``n`` images: see the module docstring."""
    k = int(rng.integers(2, 11))
    probabilities = rng.dirichlet(np.full(k, rng.uniform(0.3, 3.0)), size=n)
    agree = rng.uniform(0.3, 0.9)
    labels = np.where(rng.random(n) < agree, probabilities.argmax(axis=1), rng.integers(0, k, n))
    return labels, probabilities


def compare(labels: np.ndarray, probabilities: np.ndarray) -> tuple[bool, int, int, int]:
    """(joints differ, images flagged by ours only, by cleanlab's only, flagged by both)."""
    ours_joint = confident_joint(labels, probabilities)
    np.fill_diagonal(ours_joint, ours_joint.diagonal().clip(min=1))  # cleanlab's floor of one per diagonal cell
    theirs_joint = compute_confident_joint(labels, probabilities, calibrate=False)
    ours = label_issue_mask(labels, probabilities)
    theirs = cleanlab_issues(labels, probabilities, filter_by="confident_learning")
    return (
        not np.array_equal(ours_joint, theirs_joint),
        int((ours & ~theirs).sum()),
        int((theirs & ~ours).sum()),
        int((ours & theirs).sum()),
    )


def random_rows(count: int) -> list[str]:
    rng = np.random.default_rng(0)
    results = []
    for _ in range(count):
        labels, probabilities = random_case(rng)
        if len(set(labels.tolist())) >= 2:
            results.append(compare(labels, probabilities))
    joints = sum(r[0] for r in results)
    issues = sum(r[1] + r[2] > 0 for r in results)
    only_ours = [r[1] for r in results]
    only_theirs = [r[2] for r in results]
    both = [r[3] for r in results]
    return [
        f"| random ({len(results)} matrices) | {joints} ({joints / len(results):.0%}) | {issues} "
        f"({issues / len(results):.0%}) | {np.median(both):.0f} | {np.median(only_ours):.0f} (max "
        f"{max(only_ours)}) | {np.median(only_theirs):.0f} (max {max(only_theirs)}) |"
    ]


def fashion_rows() -> list[str]:
    root = datasets_dir() / "fashion-mnist"
    x = read_idx(root / "t10k-images-idx3-ubyte.gz")[:1500].reshape(1500, -1).astype(np.float32) / 255.0
    y = read_idx(root / "t10k-labels-idx1-ubyte.gz")[:1500].astype(np.int64)
    rows = []
    for share in (0.0, 0.05, 0.2):
        rng = np.random.default_rng(1)
        noisy = y.copy()
        changed = rng.choice(len(y), int(share * len(y)), replace=False)
        noisy[changed] = (noisy[changed] + rng.integers(1, 10, len(changed))) % 10
        classes, probabilities = out_of_fold_probabilities(x, [str(v) for v in noisy], folds=5)
        labels = np.array([classes.index(str(v)) for v in noisy])
        differ, only_ours, only_theirs, both = compare(labels, probabilities)
        rows.append(
            f"| fashion-mnist, {share:.0%} changed | {'yes' if differ else 'no'} | "
            f"{'yes' if only_ours + only_theirs else 'no'} | {both} | {only_ours} | {only_theirs} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrices", type=int, default=2000)
    args = parser.parse_args()
    started = time.perf_counter()
    table = random_rows(args.matrices) + fashion_rows()
    lines = [
        "# Confident learning: the paper's tie rule (ours) against cleanlab's",
        "",
        f"`python bench/confident_learning.py --matrices {args.matrices}` on {datetime.now(UTC):%Y-%m-%d}: Python "
        f"{platform.python_version()}, {time.perf_counter() - started:.0f} s. Joints are compared before "
        "calibration, with cleanlab's floor of one image on each diagonal cell applied to ours; issues are "
        "`find_label_issues(filter_by='confident_learning')` against `label_issue_mask`. Medians over the matrices.",
        "",
        "| inputs | joints differ | flagged sets differ | flagged by both | flagged by ours only | by cleanlab only |",
        "|---|---:|---:|---:|---:|---:|",
        *table,
        "",
        "Where they differ it is by images whose most probable class did not reach its threshold while two or more "
        "others did: cleanlab counts such an image as the most probable class, we as the most probable of those "
        "that reached. We keep the paper's rule because a suggested class is then always one the model is "
        "confident of.",
    ]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
