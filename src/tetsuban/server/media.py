"""Images by id only (no path from a client reaches the file system), cached thumbnails, and uploads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, UploadFile
from fastapi.responses import FileResponse, Response

from tetsuban.errors import TetsubanError
from tetsuban.server.deps import app_state, changer, viewer
from tetsuban.server.state import AppState, Viewer
from tetsuban.server.thumbs import thumbnail
from tetsuban.server.uploads import MAX_FILES, Upload, take_uploads

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


@router.get("/images/{image_id}")
def image(image_id: int, state: State, _who: Annotated[Viewer, Depends(viewer)]) -> FileResponse:
    _known(state, image_id)
    record = state.records[image_id]
    return FileResponse(
        state.image_file(image_id),
        media_type=_MEDIA.get(record.format, "application/octet-stream"),
        headers={"Cache-Control": "private, max-age=86400"},
    )


@router.get("/thumbs/{image_id}")
def thumb(image_id: int, state: State, _who: Annotated[Viewer, Depends(viewer)]) -> Response:
    """The cached thumbnail's bytes in one answer (a few kilobytes: cheaper than streaming a file)."""
    _known(state, image_id)
    record = state.records[image_id]
    path = thumbnail(state.project.root / ".cache", record.sha256, state.image_file(image_id))
    return Response(path.read_bytes(), media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


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
