"""The demo's stand-in for a person: labels known in advance, given for exactly the images tetsuban asks about.

    python scripts/demo_oracle.py emoji EMOJI_JSON IMAGES_FOLDER KNOWN.csv   each emoji's Unicode category
    python scripts/demo_oracle.py folders ROOT KNOWN.csv                     ROOT/<class>/<image> (ImageFolder)
    python scripts/demo_oracle.py answer KNOWN.csv ASKED.tsv ANSWERS.csv     the asked images' known labels

KNOWN.csv and ANSWERS.csv are ``path,label`` (what ``tetsuban import`` reads); ASKED.tsv is ``tetsuban queue``'s
output (image id, tab, path). The emoji's 'Component' category (skin-tone swatches, hair styles) is left out: it
is not a class of pictures. ``folders`` exits with status 3 when ROOT has no class folders: nothing is known.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


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


def folder_rows(root: Path) -> list[tuple[str, str]]:
    """(image path, class folder name) for every image one folder below ``root``."""
    return [
        (str(path), folder.name)
        for folder in sorted(p for p in root.iterdir() if p.is_dir())
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]


def answers(known: Path, asked: Path) -> list[tuple[str, str]]:
    """The known label of each asked image (matched by resolved path), in the order asked."""
    with known.open(newline="", encoding="utf-8") as handle:
        label = {str(Path(row["path"]).resolve()): row["label"] for row in csv.DictReader(handle)}
    found = []
    for line in asked.read_text(encoding="utf-8").splitlines():
        path = str(Path(line.split("\t", 1)[1]).resolve())
        if path in label:
            found.append((path, label[path]))
    return found


def write(rows: list[tuple[str, str]], out: Path) -> None:
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        writer.writerows(rows)


def main(args: list[str]) -> int:
    if args[:1] == ["emoji"] and len(args) == 4:
        write(emoji_rows(Path(args[1]), Path(args[2])), Path(args[3]))
    elif args[:1] == ["folders"] and len(args) == 3:
        rows = folder_rows(Path(args[1]))
        if not rows:
            return 3
        write(rows, Path(args[2]))
    elif args[:1] == ["answer"] and len(args) == 4:
        rows = answers(Path(args[1]), Path(args[2]))
        write(rows, Path(args[3]))
        classes = len({label for _, label in rows})
        print(f"Answered {len(rows)} images from the known labels ({classes} classes among them).")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
