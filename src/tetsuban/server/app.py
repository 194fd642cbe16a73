"""The app factory: the pages, the API, images by id, and the guard in front of them (body size, origin)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from threadpoolctl import threadpool_limits

from tetsuban.project import Project
from tetsuban.server import api, media, pages
from tetsuban.server.guard import Guard
from tetsuban.server.security import Gate, app_secret
from tetsuban.server.state import AppState
from tetsuban.server.uploads import MAX_UPLOAD_BYTES

MAX_BODY = 64 * 1024  # bytes in one API request; labels are small


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
        switch = sys.getswitchinterval()
        # Retrains run in a thread beside the requests; with Python's 5 ms switch interval a request waits up to
        # that long each time it wants the interpreter back while a retrain holds it.
        sys.setswitchinterval(0.0005)
        # One BLAS thread: a retrain keeps to one core and leaves the other to the requests (two spinning BLAS
        # threads on two cores starve everything else).
        blas = threadpool_limits(limits=1, user_api="blas")
        try:
            app.state.tetsuban = state = AppState(project, strategy, retrain_every)
            app.state.gate = Gate(project.accounts, app_secret(project.root / ".cache"), login_required)
            yield
            state.close()
        finally:
            blas.restore_original_limits()
            sys.setswitchinterval(switch)
            project.close()

    app = FastAPI(title="tetsuban", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(packages=[("tetsuban.server", "static")]), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(media.router)

    app.add_middleware(Guard, default=MAX_BODY, limits={"/api/upload": MAX_UPLOAD_BYTES})
    return app
