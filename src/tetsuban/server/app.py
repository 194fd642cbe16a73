"""The app factory: the pages, the API, images by id, and the guard in front of them (body size, origin)."""

from __future__ import annotations

import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from threadpoolctl import threadpool_limits

from tetsuban.active.heads import DEFAULT_HEAD, check_head
from tetsuban.active.registry import strategy_named
from tetsuban.commands import SplitRun, split_where_missing
from tetsuban.errors import ProjectError
from tetsuban.params import check_int
from tetsuban.progress import ProgressFn
from tetsuban.project import Project
from tetsuban.server import api, media, pages
from tetsuban.server.binding import Binding, check_binding, listen
from tetsuban.server.guard import Guard
from tetsuban.server.security import REMEMBER, SHARED_REMEMBER, Gate, project_secret
from tetsuban.server.state import AppState
from tetsuban.server.team import is_shared
from tetsuban.server.uploads import MAX_UPLOAD_BYTES
from tetsuban.server.workers import MAX_WORKERS, serve_workers, spec_of, uvicorn_config

MAX_BODY = 64 * 1024  # bytes in one API request; labels are small


def create_app(
    project_dir: Path,
    strategy: str = "hybrid",
    retrain_every: int = 20,
    binding: Binding | None = None,
    head: str = DEFAULT_HEAD,
) -> FastAPI:
    """The app for the project at ``project_dir``; the loop starts with the app and stops with it.

    Bound to this machine without users the app is open; with users, or bound elsewhere (which needs users),
    every request needs a session. It answers only to the host names of ``binding`` (this machine's by default).
    """
    binding = binding or Binding()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        project = Project.open(project_dir)
        try:
            check_binding(binding, project.accounts.exist())
        except BaseException:
            project.close()
            raise
        switch = sys.getswitchinterval()
        # Retrains run in a thread beside the requests; with Python's 5 ms switch interval a request waits up to
        # that long each time it wants the interpreter back while a retrain holds it.
        sys.setswitchinterval(0.0005)
        # One BLAS thread: a retrain keeps to one core and leaves the other to the requests (two spinning BLAS
        # threads on two cores starve everything else).
        blas = threadpool_limits(limits=1, user_api="blas")
        try:
            app.state.tetsuban = state = AppState(project, strategy, retrain_every, head)
            # With other processes on the store a session is remembered for a second only: a logout in one of them
            # reaches the others within it.
            remember = SHARED_REMEMBER if state.team is not None else REMEMBER
            app.state.gate = Gate(project.accounts, project_secret(project), not binding.local, remember)
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

    app.add_middleware(Guard, default=MAX_BODY, limits={"/api/upload": MAX_UPLOAD_BYTES}, binding=binding)
    return app


def serve_app(app: FastAPI, binding: Binding, sock: socket.socket) -> None:
    """Serve ``app`` until Ctrl+C on ``sock``, bound to ``binding`` by :func:`listen`. X-Forwarded-For is believed
    only from ``binding.trusted_proxies`` (:func:`uvicorn_config`)."""
    import uvicorn

    uvicorn.Server(uvicorn_config(app, binding)).run(sockets=[sock])


@dataclass(frozen=True)
class ServeHooks:
    """What :func:`serve_project` tells its caller while it starts: progress of the embedding and of the survey,
    the splits it made, and, once the port is held and the app about to answer, whether logins are needed."""

    on_embed: ProgressFn | None = None
    on_survey: ProgressFn | None = None
    on_split: Callable[[SplitRun], None] | None = None
    on_ready: Callable[[bool], None] | None = None


def serve_project(
    project_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    strategy: str = "hybrid",
    retrain_every: int = 20,
    hooks: ServeHooks = ServeHooks(),
    workers: int = 1,
    head: str = DEFAULT_HEAD,
) -> None:
    """Check the settings and the binding (off this machine only with users), take the port, embed the images not
    embedded yet (so that the first page is no long wait), give a split to every image without one (a newcomer's
    first serve comes right after import), then serve the app until Ctrl+C, in ``workers`` processes (a PostgreSQL
    project only). Every refusal comes before the app is announced."""
    strategy_named(strategy)
    check_head(head)
    check_int("retrain_every", retrain_every, 1, 100_000)
    check_int("port", port, 1, 65_535)
    check_int("workers", workers, 1, MAX_WORKERS)
    with Project.open(project_dir) as opened:
        server = opened.config.server
        binding = Binding(host, port, server.hosts, server.trusted_proxies)
        logins = opened.accounts.exist()
        check_binding(binding, logins)
        check_workers(opened, workers)
        if not opened.images():
            raise ProjectError(f"The project has no images yet. Import some: tetsuban import {project_dir} FOLDER")
        sock = listen(binding)
        try:
            opened.embed(hooks.on_embed)  # here, with its bar, not when the app starts: the first page is no wait
            made = split_where_missing(opened.workspace, on_survey=hooks.on_survey)
            check_train_split(opened)
        except BaseException:
            sock.close()
            raise
    if made is not None and hooks.on_split is not None:
        hooks.on_split(made)
    if hooks.on_ready is not None:
        hooks.on_ready(logins)
    if workers > 1:
        serve_workers(spec_of(project_dir, strategy, retrain_every, binding, head), workers, sock)
    else:
        serve_app(create_app(project_dir, strategy, retrain_every, binding, head), binding, sock)


def check_workers(project: Project, workers: int) -> None:
    """Refuse several workers on a SQLite project: its file takes one writer at a time, and its processes would not
    share the loop's state."""
    if workers > 1 and not is_shared(project.workspace.engine):
        raise ProjectError(
            f"Several workers ({workers}) share the labelling loop through a PostgreSQL database, and this project "
            "keeps its tables in a SQLite file: serve it with one worker, or start a project on PostgreSQL with "
            "tetsuban init PROJECT --database postgresql+psycopg://USER@HOST:PORT/DATABASE"
        )


def check_train_split(project: Project) -> None:
    """Refuse a project whose train split is empty: the loop would have nothing to queue or learn from."""
    counts = Counter(project.splits().values())
    if counts["train"] == 0:
        raise ProjectError(
            f"No image is in the train split (val {counts['val']}, test {counts['test']}), so the app has nothing "
            "to queue. Import more images, or split again with smaller shares: tetsuban split --reset --test 0.1"
        )
