"""What the app holds while it runs: the open project, its labelling loop, and the map between both's ids."""

from __future__ import annotations

import getpass
import threading
from dataclasses import dataclass
from pathlib import Path

from tetsuban.active.loop import LabelLoop
from tetsuban.errors import ConfigError
from tetsuban.files import write_atomic
from tetsuban.imaging.decode import decode
from tetsuban.project import Project
from tetsuban.store.images import ImageRecord

MAX_LABEL_LENGTH = 64
THUMB_SIDE = 256


@dataclass(frozen=True)
class Suggested:
    """An image to label, with the model's suggestion (None before the loop's first head)."""

    image_id: int
    suggestion: str | None
    probability: float | None


class AppState:
    """One project and its loop. Label writes go to the store first, then to the loop: a killed server loses at
    most the label in flight, and on restart the loop is rebuilt from the store."""

    def __init__(self, project: Project, strategy: str, retrain_every: int) -> None:
        self.project = project
        self.loop: LabelLoop
        self.loop, image_ids = project.label_loop(strategy, retrain_every, queue_size=4 * retrain_every)
        self.image_ids = [int(image_id) for image_id in image_ids]
        self.row_of = {image_id: row for row, image_id in enumerate(self.image_ids)}
        self.records: dict[int, ImageRecord] = {r.id: r for r in project.images()}
        self.author = getpass.getuser()
        self._write = threading.Lock()

    def next_images(self, count: int) -> tuple[int, list[Suggested]]:
        """(generation, images) from the loop's latest queue, each with its suggestion."""
        snapshot, rows = self.loop.serve_snapshot(count)
        out = []
        for row in rows:
            suggestion = probability = None
            if snapshot.head is not None and snapshot.probabilities is not None:
                best = int(snapshot.probabilities[row].argmax())
                suggestion, probability = snapshot.head.classes[best], float(snapshot.probabilities[row, best])
            out.append(Suggested(self.image_ids[row], suggestion, probability))
        return snapshot.generation, out

    def label(self, image_id: int, label: str, seconds: float | None, accepted: bool) -> None:
        """Record ``label`` for ``image_id`` (author, time, seconds on screen, whether it accepted the suggestion),
        then tell the loop."""
        check_label(label)
        if image_id not in self.records:
            raise KeyError(image_id)
        with self._write:
            source = "model-accepted" if accepted else "human"
            self.project.set_labels([(image_id, label)], source, self.author, seconds)
        row = self.row_of.get(image_id)
        if row is not None and self.loop.eligible[row]:  # the loop learns from train images only
            self.loop.label(row, label)

    def undo(self, image_id: int) -> None:
        """Clear ``image_id``'s label (the history keeps it), and take it back from the loop."""
        if image_id not in self.records:
            raise KeyError(image_id)
        with self._write:
            self.project.set_labels([(image_id, None)], "human", self.author)
        row = self.row_of.get(image_id)
        if row is not None:
            self.loop.unlabel(row)

    def image_file(self, image_id: int) -> Path:
        return self.project.image_path(self.records[image_id])

    def thumbnail(self, image_id: int) -> Path:
        """The image's JPEG thumbnail, made once into the project's cache."""
        record = self.records[image_id]
        path = self.project.root / ".cache" / "thumbs" / f"{record.sha256}.jpg"
        if not path.is_file():
            import io

            from PIL import Image

            buffer = io.BytesIO()
            Image.fromarray(decode(self.image_file(image_id), max_side=THUMB_SIDE)).save(buffer, "JPEG", quality=85)
            write_atomic(path, buffer.getvalue())
        return path


def check_label(label: str) -> None:
    """A class name is 1 to 64 printable characters, not only spaces."""
    if not label.strip() or len(label) > MAX_LABEL_LENGTH or not label.isprintable():
        raise ConfigError(
            f"A label must be 1 to {MAX_LABEL_LENGTH} printable characters. Got {label[:80]!r} ({len(label)} long)."
        )
