"""Figures and thumbnails as data URIs, so that a report is one file to open or share."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from tetsuban.errors import ImageError
from tetsuban.imaging.decode import decode

THUMB_SIDE = 96


def thumbnail_uri(path: Path, side: int = THUMB_SIDE) -> str | None:
    """A JPEG data URI of the image at most ``side`` pixels on its longer side; None when it cannot be read."""
    try:
        rgb = decode(path, max_side=side)
    except (ImageError, OSError):
        return None
    return array_uri(rgb)


def array_uri(rgb: np.ndarray) -> str:
    """A uint8 (H, W, 3) image as a JPEG data URI."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def histogram_uri(values: Sequence[float], title: str, log: bool = False) -> str:
    """A small PNG histogram of ``values`` as a data URI."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display backend

    figure = Figure(figsize=(4.2, 2.4), dpi=100)
    axes = figure.add_subplot()
    data = np.asarray(values, dtype=np.float64)
    axes.hist(data[np.isfinite(data)], bins=40, color="#4a6fa5", log=log)
    axes.set_title(title, fontsize=10)
    axes.tick_params(labelsize=8)
    figure.tight_layout()
    return figure_uri(figure)


def plain_text(name: str) -> str:
    """``name`` as matplotlib draws it literally: a ``$`` pair would start math, and a class name such as
    ``a$\\frac$b`` would stop the report with a parse error."""
    return name.replace("$", r"\$")


def bars_uri(counts: dict[str, int], title: str) -> str:
    """A horizontal bar chart of ``counts`` (largest first) as a data URI."""
    from matplotlib.figure import Figure

    names = sorted(counts, key=lambda k: -counts[k])
    figure = Figure(figsize=(5.0, 0.3 * len(names) + 0.9), dpi=100)
    axes = figure.add_subplot()
    axes.barh([plain_text(n) for n in names[::-1]], [counts[n] for n in names[::-1]], color="#4a6fa5")
    axes.set_title(title, fontsize=10)
    axes.tick_params(labelsize=8)
    figure.tight_layout()
    return figure_uri(figure)


def figure_uri(figure: object) -> str:
    """A matplotlib figure as a PNG data URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")  # type: ignore[attr-defined]
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def curves_uri(
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], title: str, xlabel: str, ylabel: str
) -> str:
    """Line plot of (x, mean, spread) per name, the spread drawn as a band, as a data URI."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.8), dpi=100)
    axes = figure.add_subplot()
    for name, (x, mean, spread) in curves.items():
        (line,) = axes.plot(x, mean, label=name, linewidth=1.6)
        axes.fill_between(x, mean - spread, mean + spread, color=line.get_color(), alpha=0.15, linewidth=0)
    axes.set_title(title, fontsize=10)
    axes.set_xlabel(xlabel, fontsize=9)
    axes.set_ylabel(ylabel, fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    axes.tick_params(labelsize=8)
    figure.tight_layout()
    return figure_uri(figure)
