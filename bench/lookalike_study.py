"""Where should embedding cosine call two images one picture? Edited copies against distinct images.

Originals: 3,000 fashion-mnist training images, the 1,911 base emoji of emoji-google (no skin-tone variants) and
the 13 photos. Each of 150 fashion images, 150 emoji and the 13 photos is also edited six ways (centre crop to
85%, mirror, JPEG at quality 40, 25% brighter, rotated 4 degrees, halved then restored), and everything is embedded
with the default backbone through a real project. For each cosine threshold, linking every pair at or above it
and, in a second table, only mutual nearest neighbours at or above it, the tables give:
- recall: the share of edited copies linked to their original, per edit (all sources, and the photos alone);
- distinct pairs: pairs of originals linked (within fashion, within emoji); fashion-mnist holds some true
  duplicates and many near-identical products, so this over-counts mistakes;
- the largest group that chaining the links makes among the originals.
Writes bench/results/lookalike_study.md.

Usage: python bench/lookalike_study.py [--fashion 3000] [--edited 150]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance
from probe_accuracy import datasets_dir, embed_files

from tetsuban import decode
from tetsuban.ingest.idx import read_idx
from tetsuban.survey.duplicates import groups_of
from tetsuban.survey.lookalikes import look_alike_pairs

RESULTS = Path(__file__).resolve().parent / "results" / "lookalike_study.md"
THRESHOLDS = (0.80, 0.85, 0.90, 0.92, 0.94, 0.95, 0.96, 0.97)
Edit = Callable[[Image.Image], Image.Image]


def _crop(img: Image.Image) -> Image.Image:
    w, h = img.size
    dx, dy = round(w * 0.075), round(h * 0.075)
    return img.crop((dx, dy, w - dx, h - dy)).resize((w, h), Image.Resampling.BILINEAR)


def _halved(img: Image.Image) -> Image.Image:
    w, h = img.size
    return img.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.BILINEAR).resize((w, h))


EDITS: dict[str, Edit] = {
    "crop 85%": _crop,
    "mirror": lambda img: img.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "JPEG q40": lambda img: img,  # the edit is in the saving
    "25% brighter": lambda img: ImageEnhance.Brightness(img).enhance(1.25),
    "rotated 4°": lambda img: img.rotate(4, resample=Image.Resampling.BILINEAR, fillcolor=(255, 255, 255)),
    "halved": _halved,
}


def originals(work: Path, fashion: int, rng: np.random.Generator) -> dict[str, list[Path]]:
    root = datasets_dir()
    folder = work / "fashion"
    folder.mkdir()
    images = read_idx(root / "fashion-mnist" / "train-images-idx3-ubyte.gz")
    files = []
    for i in sorted(rng.choice(len(images), fashion, replace=False).tolist()):
        files.append(folder / f"{i:05d}.png")
        Image.fromarray(images[i]).save(files[-1])
    emoji_root = root / "emoji-google"
    entries = json.loads((emoji_root / "emoji.json").read_text(encoding="utf-8"))
    emoji = [emoji_root / "64" / e["image"] for e in entries if (emoji_root / "64" / e["image"]).is_file()]
    photos = sorted(p for p in (root / "photos").iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    return {"fashion-mnist": files, "emoji": emoji, "photos": photos}


def edited_copies(work: Path, sources: list[Path], tag: str) -> list[tuple[str, Path, Path]]:
    """(edit, original, copy) for every edit of every source."""
    folder = work / f"edited-{tag}"
    folder.mkdir()
    out = []
    for n, source in enumerate(sources):
        img = Image.fromarray(decode(source))
        for e, (name, edit) in enumerate(EDITS.items()):
            path = folder / f"{n:04d}-{e}.{'jpg' if name == 'JPEG q40' else 'png'}"
            edit(img).save(path, quality=40) if path.suffix == ".jpg" else edit(img).save(path)
            out.append((name, source, path))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fashion", type=int, default=3000)
    parser.add_argument("--edited", type=int, default=150)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sets = originals(work, args.fashion, rng)
        copies = []
        for tag, files in sets.items():
            chosen = rng.choice(len(files), min(args.edited, len(files)), replace=False)
            copies += edited_copies(work, [files[i] for i in sorted(chosen)], tag)
        everything = sorted({f for files in sets.values() for f in files} | {c for _, _, c in copies})
        print(f"embedding {len(everything)} images", flush=True)
        vectors = dict(zip(everything, embed_files(work, everything), strict=True))
    tables = {mutual: [study_row(t, sets, copies, vectors, mutual) for t in THRESHOLDS] for mutual in (False, True)}
    write_tables(tables, args)


def study_row(
    threshold: float,
    sets: dict[str, list[Path]],
    copies: list[tuple[str, Path, Path]],
    vectors: dict[Path, np.ndarray],
    mutual: bool,
) -> dict[str, float]:
    """Recall of each edit (all sources, then photos alone), and pairs and largest group among originals."""
    row: dict[str, float] = {"threshold": threshold}
    originals_all = [f for files in sets.values() for f in files]
    photos = set(sets["photos"])
    for name in EDITS:
        edited = [(o, c) for e, o, c in copies if e == name]
        pool = {i: vectors[f] for i, f in enumerate(originals_all + [c for _, c in edited])}
        index = {f: i for i, f in enumerate(originals_all + [c for _, c in edited])}
        linked = {(a, b) for a, b, _ in look_alike_pairs(pool, threshold, mutual)}
        hits = [tuple(sorted((index[o], index[c]))) in linked for o, c in edited]
        row[name] = float(np.mean(hits))
        row[f"{name} photos"] = float(np.mean([h for h, (o, _) in zip(hits, edited, strict=True) if o in photos]))
    for tag in ("fashion-mnist", "emoji"):
        files = sets[tag]
        pairs = look_alike_pairs({i: vectors[f] for i, f in enumerate(files)}, threshold, mutual)
        row[f"{tag} pairs"] = len(pairs)
        sizes: dict[object, int] = {}
        for group in groups_of(range(len(files)), pairs).values():
            sizes[group] = sizes.get(group, 0) + 1
        row[f"{tag} largest"] = max(sizes.values())
    return row


def write_tables(tables: dict[bool, list[dict[str, float]]], args: argparse.Namespace) -> None:
    edits = list(EDITS)
    lines = [
        "# Look-alikes by model: where cosine means one picture",
        "",
        f"`python bench/lookalike_study.py --fashion {args.fashion} --edited {args.edited}` on "
        f"{datetime.now(UTC):%Y-%m-%d}: Python {platform.python_version()}, default backbone (EfficientNet-Lite0, "
        f"224 px). Edit columns: the share of edited copies linked to their original ({args.edited} fashion, "
        f"{args.edited} emoji and the 13 photos per edit, each edit searched among all originals), then in "
        "brackets the 13 photos alone. Pairs: distinct originals linked, among "
        f"{args.fashion:,} fashion-mnist images ({args.fashion * (args.fashion - 1) // 2:,} pairs) and the 1,911 base "
        "emoji (gendered forms, drawn alike by Noto, count as distinct here); largest group: what chaining those "
        "pairs makes. Fashion-mnist images are 28 px, so its crops, halvings and JPEG copies are heavy edits.",
    ]
    head = ["cosine ≥", *edits, "fashion pairs", "fashion largest", "emoji pairs", "emoji largest"]
    for mutual, rows in tables.items():
        title = "mutual nearest neighbours at or above the cosine" if mutual else "every pair at or above the cosine"
        lines += ["", f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
        for row in rows:
            cells = [f"{row['threshold']:.2f}"] + [f"{row[e]:.2f} ({row[e + ' photos']:.2f})" for e in edits]
            keys = ("fashion-mnist pairs", "fashion-mnist largest", "emoji pairs", "emoji largest")
            cells += [f"{row[k]:,.0f}" for k in keys]
            lines.append("| " + " | ".join(cells) + " |")
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
