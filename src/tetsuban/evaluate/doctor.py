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
    by_model: Sequence[tuple[int, int, int]] = (),
) -> list[Finding]:
    """Every check, in a fixed order. ``pairs`` are the near-duplicate pairs the pixels prove; None when the images
    are not surveyed. ``by_model``: the pairs only the model's same-picture rule adds (``embedded``: whether it
    could, every image having an embedding)."""
    return [
        _files(problems),
        _leakage(splits, pairs, paths, embedded, by_model),
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


Pair = tuple[int, int, int]


def _leakage(
    splits: Mapping[int, str],
    pairs: Sequence[Pair] | None,
    paths: Mapping[int, str],
    embedded: bool,
    by_model: Sequence[Pair] = (),
) -> Finding:
    """FAIL only on copies the pixels prove (the rule the split kept together); the model's look-alikes that straddle
    are a warning to look at: the model also links distinct items of one kind (bench/results/lookalike_study.md),
    and a split made before the embeddings could not keep them together, so they never turn a verdict to FAIL."""
    if not splits:
        return Finding("leakage", "warn", "The project has no splits yet.", "Make them: tetsuban split")
    if pairs is None:
        return Finding(
            "leakage", "warn", "Near-duplicates are unknown: the images are not surveyed.", "Run tetsuban survey"
        )
    leaks, looks = _straddling(splits, pairs), _straddling(splits, by_model)
    if leaks:
        return Finding(
            "leakage",
            "fail",
            f"{len(leaks):,} near-duplicate pair(s) straddle train and val/test, so the scores would be inflated: "
            f"{_shown(leaks, splits, paths)}.",
            "Make the splits again with near-duplicates kept together: tetsuban split --reset (after tetsuban survey).",
        )
    if looks:
        return Finding(
            "leakage",
            "warn",
            f"No copy by the pixels straddles train and val/test, but {len(looks):,} pair(s) the model takes for one "
            f"picture do: {_shown(looks, splits, paths)}.",
            "Look at them: the model also pairs distinct items of one kind. If they are copies (mirrored, relit, "
            "cropped), make the splits again: tetsuban split --reset keeps them together.",
        )
    found = f"No near-duplicate pair of the {len(pairs) + len(by_model):,} found straddles train and val/test."
    if embedded:
        return Finding("leakage", "pass", found)
    return Finding(
        "leakage",
        "pass",
        f"{found} They were found from the pixels alone.",
        "Run tetsuban embed, then split: the model also finds mirrored, relit or slightly turned copies.",
    )


def _straddling(splits: Mapping[int, str], pairs: Sequence[Pair]) -> list[tuple[int, int]]:
    """The pairs with one image in train and the other in val or test."""
    return [
        (a, b)
        for a, b, _ in pairs
        if a in splits and b in splits and splits[a] != splits[b] and "train" in (splits[a], splits[b])
    ]


def _shown(pairs: Sequence[tuple[int, int]], splits: Mapping[int, str], paths: Mapping[int, str]) -> str:
    return "; ".join(f"{paths[a]} ({splits[a]}) ~ {paths[b]} ({splits[b]})" for a, b in pairs[:_SHOWN])


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
