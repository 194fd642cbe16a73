"""Folders: every file below a folder; in the ImageFolder layout the first sub-folder names the class."""

from __future__ import annotations

import os
from pathlib import Path

from tetsuban.errors import SourceError
from tetsuban.ingest.prepare import FileTask


def folder_tasks(root: Path, copy: bool, labels_from_folders: bool) -> list[FileTask]:
    """One task per file below ``root``, in a stable order; hidden files and folders are left out.

    With ``labels_from_folders``, a file in ``root/<class>/...`` gets the label ``<class>``; files directly in
    ``root`` get none.
    """
    if not root.exists():
        raise SourceError(f"The folder {root} does not exist. Check the path.")
    if not root.is_dir():
        raise SourceError(f"{root} is not a folder. Give a folder, a CSV file, an archive or an IDX file.")
    base = root.expanduser().resolve()
    tasks: list[FileTask] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        relative = Path(dirpath).relative_to(base)
        label = relative.parts[0] if labels_from_folders and relative.parts else None
        for name in sorted(filenames):
            if not name.startswith("."):
                tasks.append(FileTask(str(Path(dirpath) / name), label, copy))
    return tasks
