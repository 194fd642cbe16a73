"""The app factory: routes for the labeling page, the next images, labels, and images served by id only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field

from tetsuban.errors import TetsubanError
from tetsuban.project import Project
from tetsuban.server.state import MAX_LABEL_LENGTH, AppState

MAX_BODY = 64 * 1024  # bytes in one API request; labels are small
_MEDIA = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}


class LabelIn(BaseModel):
    """One label from the page."""

    image_id: int
    label: str = Field(min_length=1, max_length=MAX_LABEL_LENGTH)
    seconds: float | None = Field(default=None, ge=0, le=86_400)
    accepted: bool = False


class UndoIn(BaseModel):
    """Take back the label of one image."""

    image_id: int


def create_app(project_dir: Path, strategy: str = "hybrid", retrain_every: int = 20) -> FastAPI:
    """The app for the project at ``project_dir``; the loop starts with the app and stops with it."""
    holder: dict[str, AppState] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        project = Project.open(project_dir)
        try:
            holder["state"] = AppState(project, strategy, retrain_every)
            yield
        finally:
            project.close()

    app = FastAPI(title="tetsuban", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(packages=[("tetsuban.server", "static")]), name="static")
    pages = Environment(loader=PackageLoader("tetsuban.server"), autoescape=select_autoescape())

    def state() -> AppState:
        return holder["state"]

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return JSONResponse({"detail": f"A request body may hold at most {MAX_BODY} bytes."}, status_code=413)
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def label_page() -> str:
        current = state()
        classes = sorted(set(current.project.labelled().values()))
        return pages.get_template("label.html.j2").render(name=current.project.config.name, classes=classes)

    @app.get("/api/next")
    def next_images(count: int = 5) -> dict[str, object]:
        if not 1 <= count <= 100:
            raise HTTPException(422, f"count must be in [1, 100]. Got {count}.")
        generation, images = state().next_images(count)
        return {
            "generation": generation,
            "images": [{"id": s.image_id, "suggestion": s.suggestion, "probability": s.probability} for s in images],
        }

    @app.post("/api/labels")
    def add_label(body: LabelIn) -> dict[str, object]:
        current = state()
        try:
            current.label(body.image_id, body.label, body.seconds, body.accepted)
        except KeyError:
            raise HTTPException(404, f"No image has id {body.image_id} in this project.") from None
        except TetsubanError as error:
            raise HTTPException(422, str(error)) from None
        return {"ok": True, "labelled": len(current.project.labelled()), "generation": current.loop.snapshot.generation}

    @app.post("/api/undo")
    def undo(body: UndoIn) -> dict[str, object]:
        current = state()
        try:
            current.undo(body.image_id)
        except KeyError:
            raise HTTPException(404, f"No image has id {body.image_id} in this project.") from None
        return {"ok": True, "labelled": len(current.project.labelled())}

    @app.get("/images/{image_id}")
    def image(image_id: int) -> FileResponse:
        current = state()
        if image_id not in current.records:
            raise HTTPException(404, f"No image has id {image_id} in this project.")
        record = current.records[image_id]
        return FileResponse(
            current.image_file(image_id), media_type=_MEDIA.get(record.format, "application/octet-stream")
        )

    @app.get("/thumbs/{image_id}")
    def thumbnail(image_id: int) -> FileResponse:
        current = state()
        if image_id not in current.records:
            raise HTTPException(404, f"No image has id {image_id} in this project.")
        return FileResponse(
            current.thumbnail(image_id), media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
        )

    return app
