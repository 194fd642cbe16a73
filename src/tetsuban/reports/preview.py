"""The pipeline's contact sheet: random images of a workspace, each preprocessed and augmented a few times, so
that a person sees what the model will see."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tetsuban.errors import ProjectError
from tetsuban.imaging.decode import decode
from tetsuban.params import check_int
from tetsuban.pipeline.fitted import FIT_DECODE_SIDE
from tetsuban.pipeline.preview import contact_sheet, write_png
from tetsuban.workspace import Workspace


def preview(ws: Workspace, out: str | Path, n: int = 32, augmented: int = 5, seed: int = 0) -> Path:
    """Write a PNG contact sheet: ``n`` random images, each preprocessed and augmented ``augmented`` times."""
    check_int("n", n, 1, 1000)
    check_int("augmented", augmented, 1, 20)
    records = ws.images()
    if not records:
        raise ProjectError("The project has no images to preview. Import some first: tetsuban import")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(records), size=min(n, len(records)), replace=False).tolist())
    labels = ws.current_labels([records[i].id for i in chosen])
    images = []
    for i in chosen:
        event = labels.get(records[i].id)
        label = None if event is None else event.label
        images.append((decode(ws.image_path(records[i]), max_side=FIT_DECODE_SIDE), label))
    path = Path(out).expanduser()
    write_png(path, contact_sheet(images, ws.pipeline(), augmented, seed))
    return path
