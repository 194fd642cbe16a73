"""survey.html: what the images look like, with examples from both ends of every measurement.

Sections: counts, images that need attention, class balance, one histogram per measurement with its lowest and
highest images, near-duplicate groups, and outliers. Everything is inlined: one file to open or share.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tetsuban.files import write_atomic
from tetsuban.reports.inline import bars_uri, histogram_uri, thumbnail_uri
from tetsuban.survey.duplicates import groups_of
from tetsuban.survey.lookalikes import LOOK_ALIKE, SAME_PICTURE
from tetsuban.survey.table import Row
from tetsuban.templating import report_templates

EXAMPLES = 6
SHOWN = 12
MEASURES = (
    ("width", "width (px)", False),
    ("height", "height (px)", False),
    ("aspect", "aspect (width / height)", False),
    ("megapixels", "megapixels", True),
    ("bytes", "file size (bytes)", True),
    ("brightness", "brightness (mean luma, 0-255)", False),
    ("contrast", "contrast (luma spread)", False),
    ("colourfulness", "colourfulness", False),
    ("sharpness", "sharpness (variance of the Laplacian at 512 px)", True),
    ("tilt", "tilt (degrees)", False),
    ("faces", "frontal faces", False),
)
ATTENTION: dict[str, tuple[str, Callable[[Row], bool]]] = {
    "very dark": ("mean luma below 40", lambda r: _num(r, "brightness") < 40),
    "blurred": ("variance of the Laplacian below 20", lambda r: _num(r, "sharpness") < 20),
    "tiny": ("shorter side below 64 px", lambda r: min(_num(r, "width"), _num(r, "height")) < 64),
    "extreme aspect": ("wider or taller than 3 to 1", lambda r: not 1 / 3 <= _num(r, "aspect") <= 3),
}
OUTLIER_Z = 5.0
_OUTLIER_MEASURES = ("brightness", "contrast", "colourfulness", "sharpness", "megapixels")


@dataclass(frozen=True)
class Example:
    """One image shown in the report: its thumbnail, path and a caption."""

    uri: str | None
    path: str
    caption: str


def write_survey_report(
    out: Path,
    project_name: str,
    rows: Sequence[Row],
    pairs: Sequence[tuple[int, int, int]],
    look_alikes: Sequence[tuple[int, int, float]] | None = None,
) -> Path:
    """Render the report for ``rows`` (the survey table), near-duplicate ``pairs`` and the model's
    ``look_alikes`` (None: nothing embedded yet) into ``out``."""
    measured = [r for r in rows if r["brightness"] is not None]
    environment = report_templates()
    html = environment.get_template("survey.html.j2").render(
        name=project_name,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        images=len(rows),
        measured=len(measured),
        greyscale=sum(bool(r["greyscale"]) for r in measured),
        formats=_counts(r["format"] for r in rows),
        attention=_attention(measured),
        balance=_balance(rows),
        measures=_measures(measured),
        duplicates=_duplicate_groups(rows, pairs),
        look_alikes=None if look_alikes is None else _look_alikes(rows, pairs, look_alikes),
        look_alike_cosine=LOOK_ALIKE,
        same_picture_cosine=SAME_PICTURE,
        outliers=_outliers(measured),
    )
    write_atomic(out, html.encode("utf-8"))
    return out


def _num(row: Row, key: str) -> float:
    value = row[key]
    return float(str(value)) if value is not None else math.nan


def _counts(values: object) -> dict[str, int]:
    found: dict[str, int] = {}
    for v in values:  # type: ignore[attr-defined]
        found[str(v)] = found.get(str(v), 0) + 1
    return dict(sorted(found.items(), key=lambda kv: -kv[1]))


def _example(row: Row, caption: str) -> Example:
    return Example(thumbnail_uri(Path(str(row["path"]))), str(row["path"]), caption)


def _attention(rows: Sequence[Row]) -> list[dict[str, object]]:
    sections: list[dict[str, object]] = []
    for name, (rule, test) in ATTENTION.items():
        hits = [r for r in rows if test(r)]
        sections.append(
            {"name": name, "rule": rule, "count": len(hits), "examples": [_example(r, name) for r in hits[:SHOWN]]}
        )
    return sections


def _balance(rows: Sequence[Row]) -> dict[str, object]:
    counts = _counts(r["label"] if r["label"] is not None else "(unlabelled)" for r in rows)
    return {"counts": counts, "chart": bars_uri(counts, "images per class") if counts else None}


def _measures(rows: Sequence[Row]) -> list[dict[str, object]]:
    sections: list[dict[str, object]] = []
    for key, title, log in MEASURES:
        known = [r for r in rows if r[key] is not None]
        if not known:
            sections.append({"title": title, "chart": None, "low": [], "high": [], "missing": len(rows), "same": None})
            continue
        ordered = sorted(known, key=lambda r: _num(r, key))
        values = [_num(r, key) for r in ordered]
        if values[0] == values[-1]:
            same = f"{values[0]:.4g}"
            missing = len(rows) - len(known)
            sections.append({"title": title, "chart": None, "low": [], "high": [], "missing": missing, "same": same})
            continue
        sections.append(
            {
                "same": None,
                "title": title,
                "chart": histogram_uri(values, title, log=log),
                "low": [_example(r, f"{_num(r, key):.4g}") for r in ordered[:EXAMPLES]],
                "high": [_example(r, f"{_num(r, key):.4g}") for r in ordered[-EXAMPLES:][::-1]],
                "missing": len(rows) - len(known),
            }
        )
    return sections


def _duplicate_groups(rows: Sequence[Row], pairs: Sequence[tuple[int, int, int]]) -> dict[str, object]:
    by_id = {int(str(r["image_id"])): r for r in rows}
    components: dict[object, list[int]] = {}
    for image_id, group in groups_of(by_id, pairs).items():
        components.setdefault(group, []).append(image_id)
    groups = sorted((sorted(m) for m in components.values() if len(m) > 1), key=lambda m: (-len(m), m[0]))
    shown = [[_example(by_id[i], f"#{i}") for i in members[:8]] for members in groups[:20]]
    return {"count": len(groups), "images": sum(len(g) for g in groups), "groups": shown}


def _look_alikes(
    rows: Sequence[Row], pairs: Sequence[tuple[int, int, int]], look_alikes: Sequence[tuple[int, int, float]]
) -> dict[str, object]:
    """The closest look-alike pairs that are not already near-duplicates, most alike first."""
    by_id = {int(str(r["image_id"])): r for r in rows}
    known = {(a, b) for a, b, _ in pairs}
    fresh = sorted(((a, b, c) for a, b, c in look_alikes if (a, b) not in known), key=lambda t: -t[2])
    shown = [[_example(by_id[a], f"#{a}"), _example(by_id[b], f"#{b} cos {c:.3f}")] for a, b, c in fresh[: SHOWN * 2]]
    return {"count": len(fresh), "pairs": shown}


def _outliers(rows: Sequence[Row]) -> list[Example]:
    scored: list[tuple[float, Row, str]] = []
    for key in _OUTLIER_MEASURES:
        values = np.array([_num(r, key) for r in rows])
        if key in ("sharpness", "megapixels"):
            values = np.log10(np.maximum(values, 1e-9))
        median = np.median(values)
        spread = 1.4826 * np.median(np.abs(values - median))
        if spread == 0:
            continue
        for row, z in zip(rows, np.abs(values - median) / spread, strict=True):
            if z > OUTLIER_Z:
                scored.append((float(z), row, key))
    best: dict[object, tuple[float, Row, str]] = {}
    for z, row, key in scored:
        if row["image_id"] not in best or z > best[row["image_id"]][0]:
            best[row["image_id"]] = (z, row, key)
    ranked = sorted(best.values(), key=lambda t: -t[0])[:SHOWN]
    return [_example(row, f"{key}: {z:.0f} spreads from the median") for z, row, key in ranked]
