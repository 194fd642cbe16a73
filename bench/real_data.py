"""The real datasets the benchmarks read: where they lie, and the emoji with their categories and groups."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image


def datasets_dir() -> Path:
    """$TETSUBAN_DATASETS, else ../shared/datasets beside the checkout."""
    default = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    return Path(os.environ.get("TETSUBAN_DATASETS", default))


def emoji_by_category() -> tuple[list[Path], list[str], list[int]]:
    """Every emoji image (skin-tone variants included, the 'Component' category left out), its Unicode category,
    and its group: an emoji and its variants share one, so that a split can keep them together."""
    root = datasets_dir() / "emoji-google"
    files, labels, groups = [], [], []
    for group, entry in enumerate(json.loads((root / "emoji.json").read_text(encoding="utf-8"))):
        if entry["category"] == "Component":
            continue
        names = [entry["image"]] + [v["image"] for v in (entry.get("skin_variations") or {}).values()]
        for name in names:
            if (root / "64" / name).is_file():
                files.append(root / "64" / name)
                labels.append(entry["category"])
                groups.append(group)
    return files, labels, groups


def test_by_group(groups: list[int], rng: np.random.Generator, share: float = 0.2) -> np.ndarray:
    """A boolean mask: the images of a random ``share`` of the groups, the test set."""
    unique = np.unique(groups)
    chosen = set(rng.choice(unique, size=round(len(unique) * share), replace=False).tolist())
    return np.array([g in chosen for g in groups])


def write_pngs(images: np.ndarray | list[np.ndarray], folder: Path) -> list[Path]:
    """Each uint8 image of ``images`` as ``folder/00000.png``, ``00001.png``, ... (the folder is made)."""
    folder.mkdir(parents=True)
    files = []
    for i, img in enumerate(images):
        files.append(folder / f"{i:05d}.png")
        Image.fromarray(img).save(files[-1])
    return files
