"""Doctor: checks that keep an evaluation honest, each with what it found and what to do about it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tetsuban.status import FileProblem

MIN_TEST_PER_CLASS = 5
IMBALANCE_RATIO = 10.0
_SHOWN = 5


@dataclass(frozen=True)
class Finding:
    """One check's outcome: ``status`` is pass, warn or fail."""

    check: str
    status: str
    message: str
    advice: str = ""


def diagnose(
    problems: Sequence[FileProblem],
    labels: Mapping[int, str],
    splits: Mapping[int, str],
    pairs: Sequence[tuple[int, int, int]] | None,
    paths: Mapping[int, str],
    embedded: bool = False,
) -> list[Finding]:
    """Every check, in a fixed order. ``pairs`` are near-duplicate pairs; None when the images are not surveyed.
    ``embedded``: whether the model's same-picture pairs are among them."""
    return [
        _files(problems),
        _leakage(splits, pairs, paths, embedded),
        _balance(labels),
        _test_coverage(labels, splits),
    ]


def _files(problems: Sequence[FileProblem]) -> Finding:
    if not problems:
        return Finding("files", "pass", "Every image file is present and unchanged.")
    shown = "; ".join(f"{p.problem}: {p.path}" for p in problems[:_SHOWN])
    return Finding(
        "files",
        "fail",
        f"{len(problems):,} image file(s) are missing or changed since import ({shown}).",
        "Import the folder a moved file now lies in to relink it; import a changed file again to record its new "
        "content.",
    )


def _leakage(
    splits: Mapping[int, str], pairs: Sequence[tuple[int, int, int]] | None, paths: Mapping[int, str], embedded: bool
) -> Finding:
    if not splits:
        return Finding("leakage", "warn", "The project has no splits yet.", "Make them: tetsuban split")
    if pairs is None:
        return Finding(
            "leakage", "warn", "Near-duplicates are unknown: the images are not surveyed.", "Run tetsuban survey"
        )
    leaks = [
        (a, b)
        for a, b, _ in pairs
        if a in splits and b in splits and splits[a] != splits[b] and "train" in (splits[a], splits[b])
    ]
    if not leaks:
        found = f"No near-duplicate pair of the {len(pairs):,} found straddles train and val/test."
        if embedded:
            return Finding("leakage", "pass", found)
        return Finding(
            "leakage",
            "pass",
            f"{found} They were found from the pixels alone.",
            "Run tetsuban embed, then split: the model also finds mirrored, relit or slightly turned copies.",
        )
    shown = "; ".join(f"{paths[a]} ({splits[a]}) ~ {paths[b]} ({splits[b]})" for a, b in leaks[:_SHOWN])
    return Finding(
        "leakage",
        "fail",
        f"{len(leaks):,} near-duplicate pair(s) straddle train and val/test, so the scores would be inflated: {shown}.",
        "Make the splits again with near-duplicates kept together: tetsuban split --reset (after tetsuban survey).",
    )


def _balance(labels: Mapping[int, str]) -> Finding:
    counts = Counter(labels.values())
    if len(counts) < 2:
        return Finding("balance", "warn", f"{len(counts)} class(es) labelled.", "Label images of at least two classes.")
    (big, most), (small, least) = counts.most_common()[0], counts.most_common()[-1]
    summary = f"largest {big} ({most:,}), smallest {small} ({least:,})"
    if most / least > IMBALANCE_RATIO:
        return Finding(
            "balance",
            "warn",
            f"The classes are imbalanced more than {IMBALANCE_RATIO:g} to 1: {summary}.",
            f"Label more images of {small} and the other small classes; training already weights classes by "
            "their size, but a small class has little to learn from and little to be tested on.",
        )
    return Finding("balance", "pass", f"Classes within {IMBALANCE_RATIO:g} to 1: {summary}.")


def _test_coverage(labels: Mapping[int, str], splits: Mapping[int, str]) -> Finding:
    if not splits:
        return Finding("test set", "warn", "No test split yet.", "Make the splits: tetsuban split")
    if not labels:
        return Finding(
            "test set", "warn", "No image is labelled yet, so no class is tested.", "Label images, test ones too."
        )
    tested = Counter(label for image_id, label in labels.items() if splits.get(image_id) == "test")
    thin = sorted((n, name) for name in set(labels.values()) if (n := tested.get(name, 0)) < MIN_TEST_PER_CLASS)
    if not thin:
        return Finding("test set", "pass", f"Every class has at least {MIN_TEST_PER_CLASS} test images.")
    listed = ", ".join(f"{name} ({n})" for n, name in thin)
    return Finding(
        "test set",
        "warn",
        f"{len(thin)} class(es) have fewer than {MIN_TEST_PER_CLASS} labelled test images: {listed}.",
        "Their test scores will be noise. Label more images of these classes: new images are split in the same "
        "shares, so some of them land in test.",
    )
