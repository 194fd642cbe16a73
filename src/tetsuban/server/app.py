"""The app factory: the pages, the API, images by id, and the checks in front of them (body size, origin)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from tetsuban.project import Project
from tetsuban.server import api, media, pages
from tetsuban.server.security import Gate, app_secret, same_origin
from tetsuban.server.state import AppState
from tetsuban.server.uploads import MAX_UPLOAD_BYTES

MAX_BODY = 64 * 1024  # bytes in one API request; labels are small
_UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def create_app(
    project_dir: Path, strategy: str = "hybrid", retrain_every: int = 20, login_required: bool = False
) -> FastAPI:
    """The app for the project at ``project_dir``; the loop starts with the app and stops with it.

    Without users and ``login_required`` the app is open (for 127.0.0.1 only); with users every request needs a
    session.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        project = Project.open(project_dir)
        try:
            app.state.tetsuban = AppState(project, strategy, retrain_every)
            app.state.gate = Gate(project.accounts, app_secret(project.root / ".cache"), login_required)
            yield
        finally:
            project.close()

    app = FastAPI(title="tetsuban", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(packages=[("tetsuban.server", "static")]), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(media.router)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Refuse oversized bodies before they are read, and state changes sent from another site's page."""
        limit = MAX_UPLOAD_BYTES if request.url.path == "/api/upload" else MAX_BODY
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return JSONResponse({"detail": f"A request body here may hold at most {limit} bytes."}, status_code=413)
        if request.method in _UNSAFE_METHODS and not same_origin(request):
            return JSONResponse({"detail": "State changes are accepted from this app's own pages only."}, 403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    return app
