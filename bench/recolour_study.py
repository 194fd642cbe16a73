"""How the recolour finder's threshold trades precision for recall on the emoji skin-tone groups.

The survey links recoloured variants in two steps (src/tetsuban/survey/recolour.py): colour edge hashes within
EDGE_DISTANCE bits are candidates; a candidate is confirmed when an affine colour map explains all but a share
(the residual) of the other image's local colour variation. This script scores every candidate pair of all of
emoji-google once and groups the pairs at or under each threshold (connected components):

- recall: of the pairs of images that are one emoji in different skin tones (emoji.json), the share in one group;
- precision: of the pairs in one group, the share that are one emoji, counting an emoji's gendered forms as one
  (Noto draws man, woman and person running as nearly the same picture; see survey_speed.without_gender).

Writes bench/results/recolour_study.md. Usage: python bench/recolour_study.py
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from survey_speed import datasets_dir, skin_tone_truth

from tetsuban.files import file_sha256
from tetsuban.imaging.decode import decode
from tetsuban.survey.duplicates import groups_of, near_duplicate_pairs
from tetsuban.survey.recolour import EDGE_DISTANCE, MAX_RESIDUAL, edge_hash, residuals, thumbnail

RESULTS = Path(__file__).resolve().parent / "results" / "recolour_study.md"
THRESHOLDS = (0.01, 0.02, MAX_RESIDUAL, 0.03, 0.04, 0.05)


def load_emoji(folder: Path) -> tuple[np.ndarray, list[str]]:
    """The recolour thumbnail of every distinct emoji image, and its sha256."""
    thumbs: dict[str, np.ndarray] = {}
    for path in sorted(folder.glob("*.png")):
        thumbs.setdefault(file_sha256(path), thumbnail(decode(path)))
    return np.stack(list(thumbs.values())), list(thumbs)


def pair_shares(truth: Sequence[str], found: Sequence[int]) -> tuple[float, float]:
    """(share of ``found``'s same-group pairs that share a ``truth`` group, share of ``truth``'s same-group pairs
    that ``found`` puts in one group)."""
    _, t = np.unique(np.asarray(truth), return_inverse=True)
    _, f = np.unique(np.asarray(found), return_inverse=True)
    both = _pairs_within(f * (t.max() + 1) + t)
    return both / max(_pairs_within(f), 1), both / max(_pairs_within(t), 1)


def _pairs_within(labels: np.ndarray) -> int:
    counts = np.bincount(np.unique(labels, return_inverse=True)[1])
    return int((counts * (counts - 1) // 2).sum())


def main() -> None:
    emoji_root = datasets_dir() / "emoji-google"
    thumbs, shas = load_emoji(emoji_root / "64")
    strict, merged = (skin_tone_truth(emoji_root, merge) for merge in (False, True))
    started = time.perf_counter()
    hashes = {index: edge_hash(thumb) for index, thumb in enumerate(thumbs)}
    candidates = near_duplicate_pairs(hashes, EDGE_DISTANCE)
    first, second = (np.array([pair[i] for pair in candidates]) for i in (0, 1))
    residual = residuals(thumbs[first], thumbs[second])
    seconds = time.perf_counter() - started
    rows = []
    for threshold in (*THRESHOLDS, 1.0):
        keep = [
            (int(a), int(b), 0)
            for a, b in zip(first[residual <= threshold], second[residual <= threshold], strict=True)
        ]
        groups = groups_of(range(len(shas)), keep)
        found = [groups[i] for i in range(len(shas))]
        precision = pair_shares([merged.get(s, s) for s in shas], found)[0]
        recall = pair_shares([strict.get(s, s) for s in shas], found)[1]
        rows.append((threshold, precision, recall, max(np.bincount(np.array(found, dtype=np.int64)))))
        print(rows[-1], flush=True)
    lines = [
        "# The recolour finder's threshold on emoji skin tones",
        "",
        f"`python bench/recolour_study.py` on {datetime.now(UTC):%Y-%m-%d}: {len(shas):,} distinct emoji, "
        f"{len(candidates):,} candidate pairs (edge hashes within {EDGE_DISTANCE} of 256 bits), hashed and "
        f"compared in {seconds:.0f} s on one core. The survey uses residual <= {MAX_RESIDUAL}; the last row keeps "
        "every candidate (what the candidate step allows).",
        "",
        "| residual <= | precision (gendered forms one emoji) | recall (skin tones) | largest group |",
        "|---:|---:|---:|---:|",
        *(f"| {t:.3f} | {p:.3f} | {r:.3f} | {g} |" for t, p, r, g in rows),
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
