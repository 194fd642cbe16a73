"""``tetsuban serve --workers N``: N processes of the app on one socket, under uvicorn's supervisor, which starts
each by spawning (nothing of the parent's, no database connection, is inherited) and starts a new one in place of
one that dies. They share everything through the project's PostgreSQL database (:mod:`tetsuban.server.team`).

A spawned worker builds its app from an import string, so what it must serve travels in an environment variable.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from tetsuban.active.heads import DEFAULT_HEAD
from tetsuban.server.binding import Binding

if TYPE_CHECKING:
    import uvicorn

SPEC_VARIABLE = "TETSUBAN_SERVE_WORKER"
MAX_WORKERS = 64


@dataclass(frozen=True)
class WorkerSpec:
    """What each worker serves: the project, the loop's settings and the binding (its host names and proxies)."""

    project_dir: str
    strategy: str
    retrain_every: int
    host: str
    port: int | None
    names: tuple[str, ...]
    trusted_proxies: tuple[str, ...]
    head: str = DEFAULT_HEAD

    @property
    def binding(self) -> Binding:
        return Binding(self.host, self.port, self.names, self.trusted_proxies)


def spec_of(
    project_dir: Path, strategy: str, retrain_every: int, binding: Binding, head: str = DEFAULT_HEAD
) -> WorkerSpec:
    return WorkerSpec(
        str(project_dir.resolve()),
        strategy,
        retrain_every,
        binding.host,
        binding.port,
        binding.names,
        binding.trusted_proxies,
        head,
    )


def serve_workers(spec: WorkerSpec, workers: int, sock: socket.socket) -> None:
    """Serve with ``workers`` processes on ``sock`` until Ctrl+C (or SIGTERM), restarting any that dies."""
    from uvicorn.supervisors import Multiprocess

    os.environ[SPEC_VARIABLE] = json.dumps(asdict(spec))
    config = uvicorn_config(f"{__name__}:worker_app", spec.binding, workers)
    Multiprocess(config, sockets=[sock]).run()


def uvicorn_config(app: FastAPI | str, binding: Binding, workers: int = 1) -> uvicorn.Config:
    """uvicorn's settings for ``app`` (an import string names a factory, called in each worker): warnings only, and
    X-Forwarded-For believed only from ``binding.trusted_proxies`` (uvicorn's own default believes it from
    127.0.0.1, which lets any local process pose as any address)."""
    import uvicorn

    trusted = list(binding.trusted_proxies)
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        workers=workers,
        log_level="warning",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


def worker_app() -> FastAPI:
    """The app of one worker, as its parent described it (uvicorn calls this in the spawned process)."""
    from tetsuban.server.app import create_app

    fields = json.loads(os.environ[SPEC_VARIABLE])
    spec = WorkerSpec(
        **{**fields, "names": tuple(fields["names"]), "trusted_proxies": tuple(fields["trusted_proxies"])}
    )
    return create_app(Path(spec.project_dir), spec.strategy, spec.retrain_every, spec.binding, spec.head)
