"""The same work gives the same answers on both databases: one walk through a project that writes every table of
the store (imports, labels and classes, a class renamed, the survey, splits, embeddings, properties, users and
sessions, the loop's retrains and snapshot) is made on SQLite and on PostgreSQL, and what the project then reads
back is compared, field by field."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import write_fashion_images
from tests.postgres import PostgresServer
from tetsuban import Project


def _walk(root: Path, images: Path, database: str) -> None:
    with Project.init(root, database=database) as project:
        project.import_folder(images)
        ids = sorted(r.id for r in project.images())
        project.set_labels([(ids[0], "Flgas"), (ids[1], "Flgas")], author="ann", seconds_on_screen=1.5)
        project.set_labels([(ids[2], None)], author="ann")  # a label cleared
        project.rename_class("Flgas", "Flags", author="bob")
        project.survey()
        project.split(test=0.2, val=0.2, seed=3)
        project.embed()
        project.add_property("view", "choice", ["front", "side"])
        project.set_property("view", [(ids[3], "side"), (ids[4], "front")], author="ann")
        user = project.accounts.add("ann", "a long password", "reviewer")
        project.accounts.start_session(user)
        project.label_loop(background=False, snapshot_seconds=0)


def _read(root: Path) -> dict[str, object]:
    """What the project reads back, in a form that compares across databases (ids renumbered by sha256)."""
    with Project.open(root) as project:
        records = sorted(project.images(), key=lambda r: r.sha256)
        number = {r.id: n for n, r in enumerate(records)}
        vectors = project.embeddings([r.id for r in records])
        return {
            "images": [(r.sha256, r.width, r.height, r.format, r.bytes) for r in records],
            "labels": sorted((number[i], label) for i, label in project.labelled().items()),
            "history": sorted(
                (
                    (number[e.image_id], e.label, e.source, e.author, e.seconds_on_screen)
                    for e in project.label_history()
                ),
                key=repr,
            ),
            "classes": project.classes(),
            "counts": project.class_counts(),
            "splits": sorted((number[i], split) for i, split in project.splits().items()),
            "survey": sorted(_renumbered(row, number) for row in project.survey_table()),
            "embeddings": np.stack([vectors[r.id] for r in records]).round(5).tolist(),
            "properties": sorted((p.name, p.kind, p.choices, p.rule) for p in project.properties().values()),
            "view": sorted(((number[i], v) for i, v in project.property_values("view").items()), key=repr),
            "users": [(u.name, u.role) for u in project.accounts.users()],
            "retrains": [(r.generation, r.labels, r.val_images) for r in project.retrains()],
        }


def _renumbered(row: dict[str, object], number: dict[int, int]) -> tuple[tuple[str, str], ...]:
    """A survey row as sorted (column, text) pairs, its image id replaced by the image's rank by sha256."""
    return tuple(
        sorted((key, str(number[int(value)] if key in ("id", "image_id") else value)) for key, value in row.items())
    )


def test_a_project_reads_back_the_same_from_sqlite_and_postgresql(
    tmp_path: Path, fashion_dir: Path, postgres_server: PostgresServer
) -> None:
    images = write_fashion_images(fashion_dir, tmp_path / "images", 30)
    _walk(tmp_path / "on-sqlite", images, "")
    _walk(tmp_path / "on-postgresql", images, postgres_server.new_database())
    sqlite, postgresql = _read(tmp_path / "on-sqlite"), _read(tmp_path / "on-postgresql")
    assert "Flags" in sqlite["classes"] and "Flgas" not in sqlite["classes"]
    for key in sqlite:
        assert postgresql[key] == sqlite[key], key
    assert len(sqlite["images"]) == 30 and sqlite["retrains"] and sqlite["survey"]
