"""Is our augmentation as fast as the field's? The same steps, on the same images, side by side in one run.

Steps: random resized crop to 224 (at least 35% of the area, aspect 3/4..4/3), horizontal flip (p = 0.5),
brightness and contrast (+-0.2); uint8 (H, W, 3) in, uint8 (224, 224, 3) out. Compared: tetsuban's pipeline,
albumentations 2.0.8 and torchvision.transforms.v2 (numpy <-> tensor conversion counted, as a user pays it).
One thread each (OpenCV and torch), rounds interleaved, median seconds per round. Writes bench/results/augment.md.

Usage: python bench/augment_speed.py [--rounds 7]   (needs: pip install -c constraints.txt -e '.[bench]')
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch
import torchvision
from torchvision.transforms import v2

from tetsuban import decode
from tetsuban.pipeline import Pipeline
from tetsuban.pipeline.transforms import BrightnessContrast, HFlip, RandomResizedCrop

RESULTS = Path(__file__).resolve().parent / "results" / "augment.md"
Augment = Callable[[np.ndarray], np.ndarray]


def datasets_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    return Path(os.environ.get("TETSUBAN_DATASETS", default))


def load_images(count: int) -> list[np.ndarray]:
    """``count`` real photos decoded with the longer side at 320 px (cycling through ../shared photos)."""
    photos = sorted((datasets_dir() / "photos").iterdir())
    decoded = [decode(p, max_side=320) for p in photos]
    return [decoded[i % len(decoded)] for i in range(count)]


def ours() -> Augment:
    pipeline = Pipeline((), (RandomResizedCrop(224, 0.35), HFlip(0.5), BrightnessContrast(0.2, 0.2)))
    rng = np.random.default_rng(0)
    return lambda img: pipeline.pixels(img, rng, train=True)[0]


def albumentations() -> Augment:
    compose = A.Compose(
        [
            A.RandomResizedCrop(size=(224, 224), scale=(0.35, 1.0), ratio=(3 / 4, 4 / 3)),
            A.HorizontalFlip(p=0.5),
            A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=1.0),
        ],
        seed=0,
    )
    return lambda img: compose(image=img)["image"]


def torchvision_v2() -> Augment:
    torch.manual_seed(0)
    compose = v2.Compose(
        [
            v2.RandomResizedCrop(224, scale=(0.35, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
            v2.RandomHorizontalFlip(0.5),
            v2.ColorJitter(brightness=0.2, contrast=0.2),
        ]
    )
    return lambda img: compose(torch.from_numpy(img).permute(2, 0, 1)).permute(1, 2, 0).numpy()


def one_round(augment: Augment, images: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for img in images:
        out = augment(img)
    seconds = time.perf_counter() - start
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8, (out.shape, out.dtype)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--images", type=int, default=300)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    images = load_images(args.images)
    contenders = {
        "tetsuban": ours(),
        "albumentations 2.0.8": albumentations(),
        "torchvision.transforms.v2": torchvision_v2(),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, augment in contenders.items():
            times[name].append(one_round(augment, images))
    rates = {name: args.images / statistics.median(t) for name, t in times.items()}
    for name, rate in rates.items():
        print(f"{name}: {rate:,.0f} images/s")
    write_table(rates, args)


def write_table(rates: dict[str, float], args: argparse.Namespace) -> None:
    base = rates["albumentations 2.0.8"]
    lines = [
        "# Augmentation speed",
        "",
        f"`python bench/augment_speed.py --rounds {args.rounds} --images {args.images}` "
        f"on {datetime.now(UTC):%Y-%m-%d}: "
        f"Python {platform.python_version()}, OpenCV {cv2.__version__}, torch {torch.__version__}, torchvision "
        f"{torchvision.__version__}. One thread each; median of {args.rounds} interleaved rounds over {args.images} "
        "real photos (longer side 320 px).",
        "",
        "Steps: random resized crop to 224 (area >= 0.35, aspect 3/4..4/3), horizontal flip p = 0.5, brightness and "
        "contrast +-0.2; uint8 in and out. tetsuban scales contrast around the image's mean level (so contrast "
        "does not shift brightness); albumentations scales around 0; torchvision blends with the grey mean.",
        "",
        "| pipeline | images/s | relative to albumentations |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {rate:,.0f} | {rate / base:.2f}x |" for name, rate in rates.items()]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
