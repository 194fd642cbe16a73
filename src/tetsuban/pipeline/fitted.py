"""The project's pipeline with its fitted state (whitening), fitted once per pipeline spec and kept in the project."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tetsuban.errors import FileRefused
from tetsuban.files import read_bounded, write_atomic
from tetsuban.imaging.decode import decode
from tetsuban.pipeline.spec import Pipeline

MAX_FIT_BYTES = 64 * 1024 * 1024  # a fitted-pipeline file larger than this is not ours: fit again

FIT_FILE = "pipeline-fit.json"
FIT_IMAGES = 256
FIT_DECODE_SIDE = 512


def fitted_pipeline(
    project_dir: Path, pipeline: Pipeline, image_files: Callable[[], Sequence[Path]], seed: int = 0
) -> Pipeline:
    """``pipeline`` with its fitted steps fitted on up to 256 of ``image_files()``; reuses the stored fit when the
    spec is unchanged. A pipeline without fitted steps comes back as it is, and lists no images."""
    if not pipeline.needs_fit:
        return pipeline
    spec = pipeline.preprocess_hash()
    stored = _read(project_dir / FIT_FILE)
    if stored is not None and stored.get("spec") == spec:
        return Pipeline.from_dict(stored["pipeline"])
    files = image_files()
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(files), size=min(FIT_IMAGES, len(files)), replace=False).tolist())
    fitted = pipeline.fit([decode(files[i], max_side=FIT_DECODE_SIDE) for i in chosen], seed=seed)
    _write(project_dir / FIT_FILE, {"spec": spec, "images": len(chosen), "seed": seed, "pipeline": fitted.to_dict()})
    return fitted


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(read_bounded(path, MAX_FIT_BYTES).decode("utf-8"))
    except (OSError, FileRefused, ValueError):
        return None  # absent or damaged: fit again
    return data if isinstance(data, dict) and "pipeline" in data else None


def _write(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=1).encode("utf-8"))
