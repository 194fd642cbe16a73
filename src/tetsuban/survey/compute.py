"""Survey every image of a project once (cached by content), in worker processes, batch by batch."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from tetsuban.errors import ImageError
from tetsuban.imaging.decode import decode
from tetsuban.interrupts import interrupts_deferred
from tetsuban.parallel import ordered_map
from tetsuban.progress import ProgressFn
from tetsuban.store.images import ImageRecord, image_path, readable_records
from tetsuban.store.survey import store_survey, surveyed
from tetsuban.survey.properties import SURVEY_SIDE, PixelStats, pixel_stats

SURVEY_VERSION = 3  # raise when a property's definition changes: every image is surveyed again
BATCH_SIZE = 64
Surveyed = tuple[str, str, PixelStats | None, str | None]  # sha256, file, properties or None with the reason


@dataclass(frozen=True)
class SurveyReport:
    """What one survey run did: images already surveyed, surveyed now, and those that failed with reasons."""

    total: int
    cached: int
    computed: int
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    pairs_checked: int = 0  # candidate pairs of colour images compared for a recolouring (Project.survey)


def survey_records(
    engine: Engine, project_dir: Path, records: Sequence[ImageRecord], workers: int, on_progress: ProgressFn | None
) -> SurveyReport:
    """Survey the records not surveyed by this version yet; each batch is stored in its own transaction."""
    started = time.perf_counter()
    with engine.connect() as conn:
        done = surveyed(conn, SURVEY_VERSION)
    todo = [r for r in records if r.sha256 not in done]
    readable, failed = readable_records(project_dir, todo)
    items = [(r.sha256, str(image_path(project_dir, r))) for r in readable]
    progress = len(records) - len(items)
    if on_progress is not None:
        on_progress(progress, len(records))
    batches = [items[i : i + BATCH_SIZE] for i in range(0, len(items), BATCH_SIZE)]
    pooled = workers > 1 and len(batches) > 1
    computed = 0
    for batch in ordered_map(survey_batch, batches, workers if pooled else 1, ("tetsuban.survey.compute",)):
        rows = [(sha, stats) for sha, _, stats, _ in batch if stats is not None]
        failed += [(path, reason or "unreadable") for _, path, stats, reason in batch if stats is None]
        with interrupts_deferred(), engine.begin() as conn:
            store_survey(conn, SURVEY_VERSION, rows)
        computed += len(rows)
        progress += len(batch)
        if on_progress is not None:
            on_progress(progress, len(records))
    return SurveyReport(len(records), len(records) - len(todo), computed, failed, time.perf_counter() - started)


def survey_batch(items: list[tuple[str, str]]) -> list[Surveyed]:
    """Properties of each (sha256, file); a file that cannot be decoded comes back with its reason."""
    out: list[Surveyed] = []
    for sha, path in items:
        try:
            out.append((sha, path, pixel_stats(decode(Path(path), max_side=SURVEY_SIDE)), None))
        except (ImageError, OSError) as exc:
            out.append((sha, path, None, str(exc)))
    return out
