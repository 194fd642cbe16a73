"""Images dropped on the page or taken with a phone's camera, into the project with the checks of ``import``.

Each upload is written under the project's cache, imported as a copy (so the project owns it), optionally
labelled, embedded, given a split with the shares the project's splits were made with, and taken into the loop.
"""

from __future__ import annotations

import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tetsuban.server.state import AppState, Viewer
from tetsuban.splits.stage import plan_in_force

MAX_FILES = 50  # per upload request
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_UPLOAD_BYTES = MAX_FILES * MAX_FILE_BYTES
_CHUNK = 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name the browser gave (never used as a path) and its bytes."""

    filename: str
    stream: BinaryIO


def safe_name(index: int, filename: str) -> str:
    """A file name made only of safe characters, numbered so that two uploads never collide."""
    base = _UNSAFE.sub("_", Path(filename.replace("\\", "/")).name).strip("._") or "upload"
    return f"{index:03d}-{base[-80:]}"


def take_uploads(state: AppState, viewer: Viewer, uploads: list[Upload], label: str | None) -> dict[str, object]:
    """Import ``uploads``; return the counts, the refused files with their reasons, and the images' ids."""
    project = state.project
    folder = project.root / ".cache" / "uploads" / secrets.token_hex(8)
    folder.mkdir(parents=True)
    try:
        written, refused = _write(folder, uploads)
        added: list[int] = []
        duplicate: list[int] = []
        if written:
            report = project.import_files(list(written), copy=True)
            for outcome in project.import_outcomes(report.run_id):
                name = written.get(Path(outcome.item).resolve(), outcome.item)
                if outcome.outcome == "added" and outcome.image_id is not None:
                    added.append(outcome.image_id)
                elif outcome.outcome in ("duplicate", "unchanged") and outcome.image_id is not None:
                    duplicate.append(outcome.image_id)
                elif outcome.outcome == "skipped":
                    refused.append({"name": name, "reason": outcome.reason or "refused"})
        if label is not None and added + duplicate:
            project.set_labels([(i, label) for i in added + duplicate], "human", viewer.name)
        if added:
            _split_and_embed(state, viewer, added)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"added": len(added), "duplicate": len(duplicate), "skipped": refused, "ids": added + duplicate}


def _write(folder: Path, uploads: list[Upload]) -> tuple[dict[Path, str], list[dict[str, str]]]:
    """Copy each upload into ``folder`` (refusing any over the size limit); (path -> original name, refused)."""
    written: dict[Path, str] = {}
    refused: list[dict[str, str]] = []
    for index, upload in enumerate(uploads):
        path = (folder / safe_name(index, upload.filename)).resolve()
        size = 0
        with path.open("wb") as out:
            while chunk := upload.stream.read(_CHUNK):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    break
                out.write(chunk)
        if size > MAX_FILE_BYTES:
            path.unlink()
            refused.append({"name": upload.filename, "reason": f"larger than {MAX_FILE_BYTES // 2**20} MiB"})
        else:
            written[path] = upload.filename
    return written, refused


def _split_and_embed(state: AppState, viewer: Viewer, image_ids: list[int]) -> None:
    """New images get embeddings, splits (the shares in force; test stays frozen; embedded first, so that a picture
    the project already has joins its split), and a place in the loop."""
    project = state.project
    project.embed(image_ids=image_ids)
    in_force = plan_in_force(project.split_history())
    if in_force is not None:
        plan, seed = in_force
        project.split(plan.test, plan.val, seed, author=viewer.name)
    state.take_in_new_images()
