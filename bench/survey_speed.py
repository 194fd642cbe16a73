"""How fast is the survey, and how well does the near-duplicate finder find the emoji skin-tone groups?

Side by side in one run:
- throughput: import then survey all of emoji-google (3,786 PNG) and all 60,000 fashion-mnist training images
  (IDX), each into a fresh project, on every core (the target: fashion-mnist surveyed in under 2 minutes);
- the near-duplicate finder (perceptual hashes within 4 bits confirmed by fingerprints, as splits use it) against
  the truth of emoji.json:
  an emoji and its skin-tone variants are one group. Pairwise precision and recall over the pairs the finder puts
  in one group, and the share of skin-tone groups kept whole (which is what keeps them on one side of a split).
Writes bench/results/survey.md.

Usage: python bench/survey_speed.py
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from tetsuban import Project
from tetsuban.survey.duplicates import groups_of

RESULTS = Path(__file__).resolve().parent / "results" / "survey.md"


def datasets_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    return Path(os.environ.get("TETSUBAN_DATASETS", default))


def timed_survey(root: Path, source: Path, labels: Path | None = None) -> tuple[Project, float, float, int]:
    project = Project.init(root)
    started = time.perf_counter()
    if labels is None:
        project.import_path(source)
    else:
        project.import_idx(source, labels)
    imported = time.perf_counter() - started
    started = time.perf_counter()
    report = project.survey()
    return project, imported, time.perf_counter() - started, report.computed


def skin_tone_truth(emoji_root: Path) -> dict[str, int]:
    """sha256 of each emoji image -> its emoji.json entry (base and skin-tone variants share it)."""
    truth: dict[str, int] = {}
    for entry_index, entry in enumerate(json.loads((emoji_root / "emoji.json").read_text(encoding="utf-8"))):
        names = [entry["image"]] + [v["image"] for v in (entry.get("skin_variations") or {}).values()]
        for name in names:
            path = emoji_root / "64" / name
            if path.is_file():
                truth.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), entry_index)
    return truth


def finder_scores(project: Project, truth: dict[str, int]) -> dict[str, float]:
    records = project.images()
    entry = {r.id: truth[r.sha256] for r in records if r.sha256 in truth}
    found = groups_of(entry, [p for p in project.near_duplicates() if p[0] in entry and p[1] in entry])
    members: dict[object, list[int]] = defaultdict(list)
    for image_id, group in found.items():
        members[group].append(image_id)
    linked = {(a, b) for group in members.values() for a in group for b in group if a < b}
    true_pairs = {(a, b) for a in entry for b in entry if a < b and entry[a] == entry[b]}
    hits = len(linked & true_pairs)
    variants: dict[int, set[object]] = defaultdict(set)
    sizes: dict[int, int] = defaultdict(int)
    for image_id, e in entry.items():
        variants[e].add(found[image_id])
        sizes[e] += 1
    skin_groups = [e for e, n in sizes.items() if n > 1]
    return {
        "precision": hits / len(linked) if linked else 0.0,
        "recall": hits / len(true_pairs) if true_pairs else 0.0,
        "whole": sum(len(variants[e]) == 1 for e in skin_groups) / len(skin_groups),
        "groups": float(len(skin_groups)),
    }


def _largest_group(project: Project) -> int:
    groups = groups_of((r.id for r in project.images()), project.near_duplicates())
    sizes: dict[object, int] = defaultdict(int)
    for group in groups.values():
        sizes[group] += 1
    return max(sizes.values())


def main() -> None:
    data = datasets_dir()
    with tempfile.TemporaryDirectory(prefix="survey-bench-") as tmp:
        emoji, e_import, e_survey, e_n = timed_survey(Path(tmp) / "emoji", data / "emoji-google" / "64")
        print(f"emoji: import {e_import:.1f} s, survey {e_survey:.1f} s for {e_n} images", flush=True)
        scores = finder_scores(emoji, skin_tone_truth(data / "emoji-google"))
        print(scores, flush=True)
        emoji.close()
        fashion, f_import, f_survey, f_n = timed_survey(
            Path(tmp) / "fashion",
            data / "fashion-mnist" / "train-images-idx3-ubyte.gz",
            data / "fashion-mnist" / "train-labels-idx1-ubyte.gz",
        )
        largest = _largest_group(fashion)
        fashion.close()
        print(f"fashion: import {f_import:.1f} s, survey {f_survey:.1f} s for {f_n} images", flush=True)
        print(f"fashion: largest near-duplicate group {largest}", flush=True)
    lines = [
        "# Survey speed and near-duplicate finding",
        "",
        f"`python bench/survey_speed.py` on {datetime.now(UTC):%Y-%m-%d}: {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. Each dataset into a fresh project; survey on every core.",
        "",
        "| images | import s | survey s | surveyed/s |",
        "|---|---:|---:|---:|",
        f"| emoji-google, {e_n:,} PNG 64 px | {e_import:.1f} | {e_survey:.1f} | {e_n / e_survey:,.0f} |",
        f"| fashion-mnist train, {f_n:,} (IDX, 28 px) | {f_import:.1f} | {f_survey:.1f} | {f_n / f_survey:,.0f} |",
        "",
        f"The largest near-duplicate group among the 60,000 fashion-mnist images holds {largest} images (without the "
        "fingerprint check, the perceptual hash alone put 9,268 different sneakers in one group).",
        "",
        "Near-duplicate finder (perceptual hash within 4 bits and fingerprints correlating >= 0.99, grouped by "
        "connected components) against emoji.json's "
        f"skin-tone groups ({scores['groups']:.0f} emoji with variants):",
        "",
        "| pairwise precision | pairwise recall | skin-tone groups kept whole |",
        "|---:|---:|---:|",
        f"| {scores['precision']:.3f} | {scores['recall']:.3f} | {scores['whole']:.3f} |",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
