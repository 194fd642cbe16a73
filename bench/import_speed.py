"""How fast does tetsuban import, and how much does reduced JPEG decoding save?

Side by side in one run:
1. import throughput (images/s) with one worker against one per core, on emoji-google (3,786 small PNGs),
   on 200 six-megapixel JPEGs made from ../shared/datasets/photos, and on all 60,000 fashion-mnist train images;
2. decoding those JPEGs to 256 px: reduced decode (the codec scales while decoding) against full decode + resize.
Medians of several repeats; ratios are what to read, since this machine is noisy. Writes bench/results/import.md.

Usage: python bench/import_speed.py [--repeats 3]   (TETSUBAN_DATASETS names the datasets folder)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageOps

from tetsuban import Project, decode
from tetsuban.imaging.decode import resize_max_side

RESULTS = Path(__file__).resolve().parent / "results" / "import.md"
SIX_MP = (3000, 2000)


def datasets_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    return Path(os.environ.get("TETSUBAN_DATASETS", default))


def make_six_mp_jpegs(photos: Path, out: Path, count: int = 200) -> list[Path]:
    """``count`` distinct 3000x2000 JPEGs: each photo cropped, mirrored and tinted differently."""
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for p in photos.iterdir() if p.suffix in (".jpg", ".png"))
    rng = np.random.default_rng(0)
    made = []
    for i in range(count):
        path = out / f"six-mp-{i:03d}.jpg"
        if not path.exists():
            img = Image.open(sources[i % len(sources)]).convert("RGB")
            w, h = img.size
            left, top = int(rng.integers(0, max(1, w // 8))), int(rng.integers(0, max(1, h // 8)))
            img = img.crop((left, top, w - left // 2, h - top // 2)).resize(SIX_MP, Image.Resampling.BICUBIC)
            if i % 2:
                img = ImageOps.mirror(img)
            tint = Image.new("RGB", SIX_MP, tuple(int(v) for v in rng.integers(0, 255, 3)))
            Image.blend(img, tint, 0.08).save(path, quality=90)
        made.append(path)
    return made


def time_import(workers: int, run: Callable[[Project], object], scratch: Path) -> tuple[float, int]:
    """Seconds for one import into a fresh project with ``workers`` workers, and the images it added."""
    root = Path(tempfile.mkdtemp(dir=scratch))
    with Project.init(root / "p") as project:
        config = root / "p" / "tetsuban.toml"
        config.write_text(config.read_text().replace("workers = 0", f"workers = {workers}"))
    with Project.open(root / "p") as project:
        start = time.perf_counter()
        report = run(project)
        seconds = time.perf_counter() - start
    return seconds, report.counts["added"]  # type: ignore[attr-defined]


def median_import(workers: int, run: Callable[[Project], object], scratch: Path, repeats: int) -> tuple[float, int]:
    results = [time_import(workers, run, scratch) for _ in range(repeats)]
    return statistics.median(s for s, _ in results), results[0][1]


def decode_times(paths: list[Path], repeats: int) -> tuple[float, float, float]:
    """Median ms per image for reduced and for full decode to 256 px, alternating, and their mean abs difference."""
    reduced, full, diffs = [], [], []
    for _ in range(repeats):
        for path in paths:
            t0 = time.perf_counter()
            a = decode(path, max_side=256)
            t1 = time.perf_counter()
            b = resize_max_side(decode(path), 256)
            t2 = time.perf_counter()
            reduced.append(t1 - t0)
            full.append(t2 - t1)
            if a.shape == b.shape:
                diffs.append(float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()))
    return statistics.median(reduced) * 1000, statistics.median(full) * 1000, statistics.mean(diffs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = datasets_dir()
    cores = os.cpu_count() or 1
    scratch = Path(tempfile.mkdtemp(prefix="tetsuban-bench-"))
    jpegs = make_six_mp_jpegs(data / "photos", scratch / "six-mp")
    fashion = data / "fashion-mnist"
    cases: list[tuple[str, int, Callable[[Project], object]]] = [
        ("emoji-google/64 (3,786 PNG, 64x64)", 3786, lambda p: p.import_folder(data / "emoji-google" / "64")),
        ("200 JPEGs, 3000x2000", 200, lambda p: p.import_folder(scratch / "six-mp")),
        (
            "fashion-mnist train IDX (60,000, 28x28)",
            60000,
            lambda p: p.import_idx(fashion / "train-images-idx3-ubyte.gz", fashion / "train-labels-idx1-ubyte.gz"),
        ),
    ]
    rows = []
    for name, count, run in cases:
        one, added = median_import(1, run, scratch, args.repeats)
        many, _ = median_import(cores, run, scratch, args.repeats)
        rows.append((name, added, count / one, count / many, one / many, many))
        print(
            f"{name}: {count / one:,.0f} img/s with 1 worker, {count / many:,.0f} with {cores} ({many:.1f} s)",
            flush=True,
        )
    reduced_ms, full_ms, diff = decode_times(jpegs, args.repeats)
    print(f"decode to 256 px: reduced {reduced_ms:.1f} ms, full + resize {full_ms:.1f} ms", flush=True)
    write_table(rows, reduced_ms, full_ms, diff, cores, args.repeats)


def write_table(
    rows: list[tuple[str, int, float, float, float, float]],
    reduced_ms: float,
    full_ms: float,
    diff: float,
    cores: int,
    repeats: int,
) -> None:
    lines = [
        "# Import speed",
        "",
        f"`python bench/import_speed.py --repeats {repeats}` on {datetime.now(UTC):%Y-%m-%d}: {cores} cores, "
        f"Python {platform.python_version()}, Pillow {PIL.__version__}. Medians of {repeats} runs, each into a "
        "fresh project.",
        "",
        "## Import throughput",
        "",
        f"| source | images added | img/s, 1 worker | img/s, {cores} workers | speed-up | wall s, {cores} workers |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {n} | {a:,} | {one:,.0f} | {many:,.0f} | {ratio:.2f}x | {wall:.1f} |"
        for n, a, one, many, ratio, wall in rows
    ]
    lines += [
        "",
        "## Decoding 3000x2000 JPEGs to 256 px",
        "",
        "| method | ms per image (median) |",
        "|---|---:|",
        f"| full decode + area resize | {full_ms:.1f} |",
        f"| reduced decode (JPEG DCT scaling) + area resize | {reduced_ms:.1f} |",
        f"| **speed-up** | **{full_ms / reduced_ms:.1f}x** |",
        "",
        f"Mean absolute pixel difference between the two results: {diff:.2f} (of 255).",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
