"""How often the split's same-picture rule links distinct items of one class (false links).

The split keeps together the images its rule takes for one picture: copies by the pixels (perceptual hash and
fingerprint, recolourings) and, once embedded, mutual nearest neighbours at cosine SAME_PICTURE or above. On data
where every image is a different item of its class, each link it makes within a class is a false link: it costs
the split a little freedom (the linked images go to one side together) and, before this bench, it made the doctor
FAIL when the model found such pairs after a split made from the pixels.

Data, each item distinct as far as the source says: fashion-mnist training images (``--per-class`` of each of the
ten classes; the set holds a few true duplicates, so its counts are an upper bound on the false links) and the 100
faces of the LFW subset (different photos of faces, one class). Everything goes through a real project: import,
survey, embed, then the rule as the split applies it. Writes bench/results/lookalike_one_class.md.

Usage: python bench/lookalike_one_class.py [--per-class 300]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image
from probe_accuracy import datasets_dir

from tetsuban import Project
from tetsuban.backbones.stage import same_pictures
from tetsuban.ingest.idx import read_idx
from tetsuban.survey.duplicates import groups_of
from tetsuban.survey.lookalikes import SAME_PICTURE
from tetsuban.survey.stage import near_duplicates_of, surveyed

RESULTS = Path(__file__).resolve().parent / "results" / "lookalike_one_class.md"
FASHION = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def fashion_folder(out: Path, per_class: int, rng: np.random.Generator) -> Path:
    """``per_class`` random training images of each fashion-mnist class, in class folders."""
    root = datasets_dir() / "fashion-mnist"
    images = read_idx(root / "train-images-idx3-ubyte.gz")
    labels = read_idx(root / "train-labels-idx1-ubyte.gz")
    for k, name in enumerate(FASHION):
        folder = out / name
        folder.mkdir(parents=True)
        for i in sorted(rng.choice(np.flatnonzero(labels == k), per_class, replace=False).tolist()):
            Image.fromarray(images[i]).save(folder / f"{i:05d}.png")
    return out


def faces_folder(out: Path) -> Path:
    """The 100 faces of the LFW subset (25 px grey crops) in one class folder."""
    faces = np.load(datasets_dir() / "faces-lfw-subset" / "lfw_subset.npy")[:100]
    folder = out / "face"
    folder.mkdir(parents=True)
    for i, face in enumerate(faces):
        Image.fromarray(np.clip(np.asarray(face) * 255, 0, 255).astype(np.uint8)).save(folder / f"{i:03d}.png")
    return out


def links(folder: Path, work: Path) -> list[dict[str, object]]:
    """Per class: images, links by the pixels, links the model adds, images linked, the largest group."""
    with Project.init(work) as project:
        project.import_folder(folder)
        project.survey()
        project.embed()
        ws = project.workspace
        measured = surveyed(ws)
        by_pixels = {(a, b) for a, b, _ in near_duplicates_of(ws, measured, [])}
        by_rule = {(a, b) for a, b, _ in near_duplicates_of(ws, measured, same_pictures(ws))}
        labels = project.labelled()
    rows = []
    for name in sorted(set(labels.values())):
        members = {i for i, label in labels.items() if label == name}
        pixel = {p for p in by_pixels if set(p) <= members}
        rule = {p for p in by_rule if set(p) <= members}
        sizes = Counter(groups_of(sorted(members), sorted((a, b, 0) for a, b in rule)).values())
        linked = {i for pair in rule for i in pair}
        rows.append(
            {
                "class": name,
                "images": len(members),
                "pixels": len(pixel),
                "model adds": len(rule - pixel),
                "linked": len(linked),
                "largest": max(sizes.values()),
            }
        )
    across = sum(1 for a, b in by_rule if labels.get(a) != labels.get(b))
    rows.append({"class": "(pairs across classes)", "images": 0, "pixels": 0, "model adds": across, "linked": 0})
    return rows


def table(title: str, rows: list[dict[str, object]]) -> list[str]:
    lines = [
        f"## {title}",
        "",
        "| class | images | links by the pixels | links the model adds | images linked | share linked "
        "| largest group |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row["class"] == "(pairs across classes)":
            lines.append(f"| pairs across classes | | | {row['model adds']} | | | |")
            continue
        images, linked = int(str(row["images"])), int(str(row["linked"]))
        lines.append(
            f"| {row['class']} | {images:,} | {row['pixels']} | {row['model adds']} | {linked} | "
            f"{linked / images:.1%} | {row['largest']} |"
        )
    totals = [r for r in rows if r["class"] != "(pairs across classes)"]
    images = sum(int(str(r["images"])) for r in totals)
    linked = sum(int(str(r["linked"])) for r in totals)
    shares = sorted(int(str(r["linked"])) / int(str(r["images"])) for r in totals)
    lines += [
        "",
        f"All: {linked:,} of {images:,} images linked ({linked / images:.1%}); median share per class "
        f"{float(np.median(shares)):.1%}.",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fashion = links(fashion_folder(work / "fashion", args.per_class, rng), work / "fashion-project")
        faces = links(faces_folder(work / "faces"), work / "faces-project")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        "# The same-picture rule on distinct items of one class",
        "",
        f"`python bench/lookalike_one_class.py --per-class {args.per_class}` on {stamp}: Python "
        f"{platform.python_version()}, {sys.platform}, default backbone. The rule as the split applies it: copies "
        f"by the pixels, then mutual nearest neighbours at cosine >= {SAME_PICTURE:.2f} that bring a lone image to "
        "another (never merging two pixel groups). Every image is a different item, so each link within a class is "
        "a false link (fashion-mnist holds a few true duplicates: an upper bound).",
        "",
        *table(f"fashion-mnist, {args.per_class} training images per class", fashion),
        *table("LFW subset, 100 faces (25 px, grey)", faces),
    ]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
