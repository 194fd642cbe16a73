"""An open project as every stage sees it: its folder, its configuration, its store, and the reads they all share
(images, labels, splits, the pipeline). Opening and closing a project, and choosing another model for one run,
make workspaces; the stages take one and own the rest of their work."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.engine import Engine

from tetsuban.config import CONFIG_NAME, ProjectConfig, default_config_text, load_config
from tetsuban.errors import ProjectError, TetsubanError
from tetsuban.pipeline.fitted import fitted_pipeline
from tetsuban.pipeline.spec import Pipeline
from tetsuban.store.db import DB_NAME, postgresql_engine, project_engine, sqlite_engine
from tetsuban.store.images import ImageRecord, all_images, image_path
from tetsuban.store.labels import LabelEvent, class_order, current_labels
from tetsuban.store.schema import create_schema, upgrade_schema
from tetsuban.store.splits import current_splits


@dataclass(frozen=True)
class Workspace:
    """``root``: the project folder; ``config``: its tetsuban.toml; ``engine``: its store."""

    root: Path
    config: ProjectConfig
    engine: Engine

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def with_model(self, backbone: str | None = None, weights: str | None = None) -> Workspace:
        """This workspace with another backbone (or weights file) than tetsuban.toml names, for one run."""
        model = self.config.model
        chosen = replace(
            model,
            backbone=model.backbone if backbone is None else backbone,
            weights=model.weights if weights is None else weights,
        )
        return replace(self, config=replace(self.config, model=chosen))

    def images(self) -> list[ImageRecord]:
        """Every image record, in id order."""
        with self.engine.connect() as conn:
            return all_images(conn)

    def image_path(self, record: ImageRecord) -> Path:
        """The file holding an image's bytes."""
        return image_path(self.root, record)

    def current_labels(self, image_ids: list[int]) -> dict[int, LabelEvent]:
        """The latest label event of each of ``image_ids`` that has one (a cleared label included), in one read."""
        with self.engine.connect() as conn:
            return current_labels(conn, image_ids)

    def labelled(self) -> dict[int, str]:
        """The current label of every labelled image, by image id."""
        with self.engine.connect() as conn:
            events = current_labels(conn)
        return {i: e.label for i, e in sorted(events.items()) if e.label is not None}

    def classes(self) -> list[str]:
        """Every class name, labelled or not yet, in the order they were added (so that the app's keys 1-9 stay
        put when a class is added)."""
        with self.engine.connect() as conn:
            return class_order(conn)

    def splits(self) -> dict[int, str]:
        """Each assigned image's split (train, val or test), by image id."""
        with self.engine.connect() as conn:
            return current_splits(conn)

    def pipeline(self) -> Pipeline:
        """The pipeline of tetsuban.toml, with whitening (if any) fitted on this project's images."""
        return fitted_pipeline(self.root, self.config.pipeline, lambda: [self.image_path(r) for r in self.images()])


def create_workspace(path: str | Path, name: str | None = None, database: str = "") -> Workspace:
    """Create a project in ``path`` (made if missing): tetsuban.toml and the store, in the SQLite file of the folder
    or, with ``database``, in that PostgreSQL database (which must hold no project yet)."""
    root = Path(path).expanduser().resolve()
    if (root / CONFIG_NAME).exists():
        raise ProjectError(f"{root} is already a tetsuban project. Open it instead (for example: tetsuban status).")
    if root.exists() and not root.is_dir():
        raise ProjectError(f"{root} exists and is not a folder. Choose another path.")
    engine = postgresql_engine(database) if database else None  # reached, or refused, before anything is made
    made = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    engine = engine or sqlite_engine(root / DB_NAME)
    try:
        create_schema(engine)
    except TetsubanError:  # a database that holds a project already: leave no half-made folder behind
        engine.dispose()
        if made:
            shutil.rmtree(root)
        raise
    (root / CONFIG_NAME).write_text(default_config_text(name or root.name, database), encoding="utf-8")
    return Workspace(root, load_config(root), engine)


def open_workspace(path: str | Path) -> Workspace:
    """Open the project in ``path``, upgrading its store if an older tetsuban made it."""
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise ProjectError(f"The project folder {root} does not exist. Create it with: tetsuban init {path}")
    config = load_config(root) if (root / CONFIG_NAME).is_file() else None
    if config is None or (not config.store.url and not (root / DB_NAME).is_file()):  # no URL: the SQLite file
        raise ProjectError(
            f"{root} is not a tetsuban project (no {CONFIG_NAME} and {DB_NAME}). Create one with: tetsuban init {path}"
        )
    engine = project_engine(root, config.store.url)
    upgrade_schema(engine)
    return Workspace(root, config, engine)
