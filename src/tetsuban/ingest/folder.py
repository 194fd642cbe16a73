"""Folders: every file below a folder; in the ImageFolder layout the first sub-folder names the class."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from tetsuban.errors import SourceError
from tetsuban.ingest.prepare import FileTask


def folder_tasks(root: Path, copy: bool, labels_from_folders: bool, project_dir: Path) -> list[FileTask]:
    """One task per file below ``root``, in a stable order; hidden files and folders are left out.

    With ``labels_from_folders``, a file in ``root/<class>/...`` gets the label ``<class>``; files directly in
    ``root`` get none. The project folder is never read as a source, whether it lies below ``root`` or above it.
    """
    if not root.exists():
        raise SourceError(f"The folder {root} does not exist. Check the path.")
    if not root.is_dir():
        raise SourceError(f"{root} is not a folder. Give a folder, a CSV file, an archive or an IDX file.")
    base = root.expanduser().resolve()
    if base == project_dir or project_dir in base.parents:
        raise SourceError(f"{root} is inside the project {project_dir}. Import images from outside the project.")
    tasks: list[FileTask] = []
    for path in walk_files(base, skip=project_dir):
        relative = path.parent.relative_to(base)
        label = relative.parts[0] if labels_from_folders and relative.parts else None
        tasks.append(FileTask(str(path), label, copy))
    return tasks


def walk_files(base: Path, skip: Path | None = None) -> Iterator[Path]:
    """Every file below ``base`` in a stable order, leaving out hidden files and folders (and ``skip``)."""
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and Path(dirpath) / d != skip)
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name
