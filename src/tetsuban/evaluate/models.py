"""Which images a model is scored on, and which model came before it."""

from __future__ import annotations

from pathlib import Path

from tetsuban.errors import ProjectError
from tetsuban.evaluate.run import ScoredImage
from tetsuban.learn.artifact import CARD_NAME, Artifact, load_artifact
from tetsuban.store.images import ImageRecord


def test_images(
    records: list[ImageRecord], labels: dict[int, str], splits: dict[int, str], paths: dict[int, Path]
) -> list[ScoredImage]:
    """The labelled images of the test split, by image id."""
    return [
        ScoredImage(record.id, paths[record.id], labels[record.id])
        for record in sorted(records, key=lambda r: r.id)
        if splits.get(record.id) == "test" and record.id in labels
    ]


def model_before(models_dir: Path, artifact: Artifact) -> Artifact | None:
    """The newest model in ``models_dir`` made before ``artifact`` (by the card's time, then the folder's name:
    two models of one second get ids -2, -3, ... in order), or None."""
    made = (artifact.card.created_at, artifact.folder.name)
    earlier = []
    for card in models_dir.glob(f"*/{CARD_NAME}"):
        if card.parent.resolve() == artifact.folder.resolve():
            continue
        try:
            other = load_artifact(card.parent)
        except (ProjectError, OSError, ValueError):  # a damaged or foreign folder is not a model to compare with
            continue
        when = (other.card.created_at, other.folder.name)
        if when < made:
            earlier.append((when, other))
    return max(earlier, key=lambda e: e[0])[1] if earlier else None
