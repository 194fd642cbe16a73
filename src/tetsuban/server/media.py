"""Images by id only (no path from a client reaches the file system), cached thumbnails, and uploads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, UploadFile
from fastapi.responses import Response

from tetsuban.errors import FileRefused, TetsubanError
from tetsuban.files import read_bounded
from tetsuban.server.deps import app_state, changer, viewer
from tetsuban.server.state import AppState, Viewer
from tetsuban.server.thumbs import MAX_THUMB_BYTES, thumbnail
from tetsuban.server.uploads import MAX_FILES, Upload, take_uploads
from tetsuban.store.images import read_as_imported

router = APIRouter()
State = Annotated[AppState, Depends(app_state)]
_MEDIA = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}


def _known(state: AppState, image_id: int) -> None:
    if image_id not in state.records:
        raise HTTPException(404, f"No image has id {image_id} in this project.")


def _imported_bytes(state: AppState, image_id: int) -> bytes:
    """The image's bytes, only while its file still holds what was imported: whatever lies at the stored path now
    (another file, a link to /etc/passwd) is never served."""
    _known(state, image_id)
    try:
        return read_as_imported(state.image_file(image_id), state.records[image_id])
    except (FileRefused, OSError):
        raise HTTPException(
            410, f"Image {image_id}'s file has changed or gone since it was imported; tetsuban status lists it."
        ) from None


@router.get("/images/{image_id}")
def image(image_id: int, state: State, _who: Annotated[Viewer, Depends(viewer)]) -> Response:
    data = _imported_bytes(state, image_id)
    media_type = _MEDIA.get(state.records[image_id].format, "application/octet-stream")
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})


@router.get("/thumbs/{image_id}")
def thumb(image_id: int, state: State, _who: Annotated[Viewer, Depends(viewer)]) -> Response:
    """The cached thumbnail's bytes in one answer (a few kilobytes: cheaper than streaming a file); made from the
    image's bytes only while they are the ones imported."""
    _known(state, image_id)
    record = state.records[image_id]
    path = thumbnail(state.project.root / ".cache", record.sha256, lambda: _imported_bytes(state, image_id))
    return Response(
        read_bounded(path, MAX_THUMB_BYTES),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=86400"},
    )


@router.post("/api/upload")
def upload(
    state: State,
    who: Annotated[Viewer, Depends(changer())],
    files: list[UploadFile],
    label: Annotated[str | None, Form(max_length=64)] = None,
) -> dict[str, object]:
    """Import the files into the project (the checks of ``tetsuban import``), optionally labelled."""
    if len(files) > MAX_FILES:
        raise HTTPException(413, f"At most {MAX_FILES} files per upload. Got {len(files)}.")
    if label and label not in state.classes():
        raise HTTPException(422, f"No class named {label!r}. Add it first, or upload without a class.")
    try:
        report = take_uploads(state, who, [Upload(f.filename or "upload", f.file) for f in files], label or None)
    except TetsubanError as error:
        raise HTTPException(422, str(error)) from None
    return report
