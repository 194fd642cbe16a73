"""Labels keep their whole history; the current label is the latest event."""

from __future__ import annotations

from pathlib import Path

import pytest

from tetsuban import ConfigError, Project


def test_history_is_kept_and_the_latest_label_wins(project: Project, emoji_sample: Path) -> None:
    project.import_folder(emoji_sample, labels_from_folders=False)
    first, second = (r.id for r in project.images()[:2])
    project.set_labels([(first, "smiley")], author="ada")
    project.set_labels([(first, "person")], source="model-accepted", author="bo")
    project.set_labels([(second, "smiley")], author="ada")
    project.set_labels([(second, None)], author="ada")  # cleared
    history = project.label_history(first)
    assert [(e.label, e.source, e.author) for e in history] == [
        ("smiley", "human", "ada"),
        ("person", "model-accepted", "bo"),
    ]
    status = project.status()
    assert status.per_class == {"person": 1, "smiley": 0}
    assert project.class_counts() == {"person": 1, "smiley": 0}  # the latest label counts; a cleared one does not
    assert status.labelled == 1


def test_unknown_label_source_is_refused(project: Project, emoji_sample: Path) -> None:
    project.import_folder(emoji_sample)
    with pytest.raises(ConfigError, match="'source' parameter must be one of"):
        project.set_labels([(project.images()[0].id, "x")], source="guess")
