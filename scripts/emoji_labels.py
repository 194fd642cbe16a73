"""Write a labels CSV (path,label) for the Noto emoji images: each image's Unicode category from emoji.json.

Usage: python scripts/emoji_labels.py EMOJI_JSON IMAGES_FOLDER OUT.csv
The 'Component' category (skin-tone swatches, hair styles) is left out: it is not a class of pictures.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def emoji_rows(emoji_json: Path, images: Path) -> list[tuple[str, str]]:
    """(image path, category) for every emoji image that exists in ``images``, skin-tone variants included."""
    entries = json.loads(emoji_json.read_text(encoding="utf-8"))
    rows = []
    for entry in entries:
        if entry["category"] == "Component":
            continue
        names = [entry["image"]] + [v["image"] for v in (entry.get("skin_variations") or {}).values()]
        rows.extend((str(images / name), entry["category"]) for name in names if (images / name).is_file())
    return rows


def main() -> None:
    emoji_json, images, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        writer.writerows(emoji_rows(emoji_json, images))


if __name__ == "__main__":
    main()
