"""The shift bench: train on the data as it is, test on shifted copies of the test images.

The test images of emoji-google (by category) and fashion-mnist (10,000 images) are copied once per corruption
family of bench/corruptions.py (blur, JPEG, noise, colour, brightness, contrast, greyscale) at the model's input
size (short side 224 px), the severities 1 to 5 taking turns over the images, and once resized only ("none": the
clean reference, resized as the copies are). Per label draw, a project is trained both ways a user trains it,
`tetsuban train` (the linear probe) and `tetsuban train --finetune`, on k labelled images per class with k/2 more
for validation, and both models predict every copy through `tetsuban predict`'s own path. Reported: top-1 accuracy
per family, the median over the draws with their range. fashion-mnist is grey, so its colour and greyscale copies
are its "none" again. Writes bench/results/shift.md.

Usage: python bench/shift.py [--shots 100] [--draws 3] [--datasets emoji fashion]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from corruptions import FAMILIES, SEVERITIES
from finetune import Source, build_project, detail, draw_split, emoji_source, fashion_source
from PIL import Image

from tetsuban.imaging.decode import decode
from tetsuban.learn.artifact import load_artifact
from tetsuban.learn.predict import predict_files
from tetsuban.pipeline.ops import resize_short_side

RESULTS = Path(__file__).resolve().parent / "results" / "shift.md"
SIDE = 224  # the default backbone's input size: corruptions apply at the size the model sees
METHODS = ("linear probe", "fine-tuning")


@dataclass(frozen=True)
class Run:
    """One model of one label draw: its accuracy on each shifted copy, its training time and how it was made."""

    dataset: str
    draw: int
    method: str
    accuracy: dict[str, float]
    seconds: float
    detail: str


def shifted_copies(source: Source, folder: Path, seed: int) -> dict[str, list[Path]]:
    """Per family (and "none"), a PNG of every test image, in the order of ``source.test``."""
    copies: dict[str, list[Path]] = {name: [] for name in ("none", *FAMILIES)}
    for name in copies:
        (folder / name).mkdir(parents=True, exist_ok=True)
    for position, index in enumerate(source.test):
        img = resize_short_side(decode(source.files[int(index)]), SIDE)
        severity = SEVERITIES[position % len(SEVERITIES)]
        for name, files in copies.items():
            rng = np.random.default_rng([seed, position])
            shifted = img if name == "none" else FAMILIES[name](img, severity, rng)
            files.append(folder / name / f"{position:05d}.png")
            Image.fromarray(shifted).save(files[-1])
    return copies


def accuracies(model: Path, copies: dict[str, list[Path]], truth: list[str]) -> dict[str, float]:
    """Top-1 accuracy of ``model`` on each copy (an unreadable file counts as wrong)."""
    artifact = load_artifact(model)
    found = {}
    for name, files in copies.items():
        predictions = predict_files(artifact, files, k=1)
        hits = [bool(p.top) and p.top[0][0] == label for p, label in zip(predictions, truth, strict=True)]
        found[name] = float(np.mean(hits))
    return found


def run_draw(source: Source, copies: dict[str, list[Path]], shots: int, index: int, work: Path) -> list[Run]:
    """Both methods on one draw of the labels."""
    rng = np.random.default_rng([1, index])
    train, val = draw_split(source, shots, rng)
    truth = [source.labels[int(i)] for i in source.test]
    runs = []
    with build_project(work / f"draw-{index}", source, train, val) as project:
        for method in METHODS:
            started = time.perf_counter()
            report = project.finetune() if method == "fine-tuning" else project.train()
            seconds = time.perf_counter() - started
            found = accuracies(report.artifact.folder, copies, truth)
            runs.append(Run(source.name, index, method, found, seconds, detail(report)))
            print(f"  draw {index}, {method} ({seconds:.0f} s): " + ", ".join(f"{k} {v:.3f}" for k, v in found.items()))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["emoji", "fashion"], choices=["emoji", "fashion"])
    args = parser.parse_args()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="shift-bench-") as tmp:
        work = Path(tmp)
        for name in args.datasets:
            rng = np.random.default_rng(0)
            source = emoji_source(rng) if name == "emoji" else fashion_source(work / name, rng)
            started = time.perf_counter()
            copies = shifted_copies(source, work / name / "shifted", seed=0)
            print(
                f"{source.name}: {len(source.test)} test images x {len(copies)} copies in "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
            for index in range(args.draws):
                runs += run_draw(source, copies, args.shots, index, work / name)
    write_table(runs, args)


def _cell(values: list[float]) -> str:
    """Median over the draws, with the range when there is more than one."""
    median = float(np.median(values))
    return f"{median:.3f}" if len(values) == 1 else f"{median:.3f} ({min(values):.3f}-{max(values):.3f})"


def write_table(runs: list[Run], args: argparse.Namespace) -> None:
    families = ("none", *FAMILIES)
    lines = [
        "# Under shift: the linear probe against fine-tuning on corrupted copies of the test images",
        "",
        f"`python bench/shift.py --shots {args.shots} --draws {args.draws} --datasets {' '.join(args.datasets)}` on "
        f"{datetime.now(UTC):%Y-%m-%d}, Python {platform.python_version()}, {os.cpu_count()} CPU cores, no GPU. "
        f"{args.shots} labels per class (and half as many for validation) per draw; both models trained on the "
        "data as it is, tested on copies of the same test images, each copy corrupted by one family (bench/"
        "corruptions.py) at severities 1-5 in turn, at 224 px. Top-1 accuracy: the median over the draws (range). "
        "fashion-mnist is grey: its colour and greyscale copies are its clean ones.",
        "",
        "| dataset | family | linear probe | fine-tuning | difference |",
        "|---|---|---:|---:|---:|",
    ]
    for dataset in dict.fromkeys(r.dataset for r in runs):
        by_method = {m: [r for r in runs if r.dataset == dataset and r.method == m] for m in METHODS}
        for family in families:
            probe = [r.accuracy[family] for r in by_method["linear probe"]]
            tuned = [r.accuracy[family] for r in by_method["fine-tuning"]]
            gains = [t - p for p, t in zip(probe, tuned, strict=True)]
            lines.append(f"| {dataset} | {family} | {_cell(probe)} | {_cell(tuned)} | {np.median(gains):+.3f} |")
    lines += ["", "| dataset | method | draw | train time | how |", "|---|---|---:|---:|---|"]
    lines += [f"| {r.dataset} | {r.method} | {r.draw} | {r.seconds:.0f} s | {r.detail} |" for r in runs]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
