"""Work spread over a Ray cluster instead of this machine's process pool (`--ray ADDRESS`, or `--ray local` for a
cluster of this machine's cores started on the spot).

:func:`parallel.ordered_map` hands its batches here while :func:`on_cluster` is in effect: Ray Data takes them as a
dataset, one row per batch, and maps them through a pool of actors, each of which runs the same ``setup`` once (an
ONNX Runtime session on as many threads as the actor has CPUs) and the same ``work`` on each batch that a local
worker process would. The batches are made here exactly as for the local pool, and each is computed whole by one
actor, so every image meets the same graph in the same company: the results are the same bytes.

The nodes must reach the images and the exported graph at the same paths as this machine (a shared file system),
and have tetsuban installed. Ray is imported only here, and only when a cluster is named.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from tetsuban.errors import ConfigError

In = TypeVar("In")
Out = TypeVar("Out")

LOCAL = "local"


@dataclass(frozen=True)
class Cluster:
    """Where the work goes: a Ray address (``local``: start one here) and the CPUs each actor takes."""

    address: str
    cpus_per_actor: int = 1


_CURRENT: ContextVar[Cluster | None] = ContextVar("tetsuban_cluster", default=None)


def current() -> Cluster | None:
    """The cluster that :func:`parallel.ordered_map` uses now, if any."""
    return _CURRENT.get()


@contextlib.contextmanager
def on_cluster(address: str | None, cpus_per_actor: int = 1) -> Iterator[Cluster | None]:
    """Within the block, batched work runs on the Ray cluster at ``address`` (None or "": here, as before);
    connected on entry, so that an unreachable cluster is said before any work starts."""
    if not address:
        yield None
        return
    cluster = Cluster(address, cpus_per_actor)
    connect(cluster)
    token = _CURRENT.set(cluster)
    try:
        yield cluster
    finally:
        _CURRENT.reset(token)


def connect(cluster: Cluster) -> None:
    """Join the cluster (or start a local one) unless this process already has; a clear ConfigError otherwise."""
    ray = _import_ray()
    if ray.is_initialized():
        return
    env = {"env_vars": {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(cluster.cpus_per_actor)}}
    try:
        if cluster.address == LOCAL:
            ray.init(include_dashboard=False, runtime_env=env, log_to_driver=False)
        else:
            ray.init(address=cluster.address, include_dashboard=False, runtime_env=env, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ConfigError(
            f"The Ray cluster at {cluster.address!r} cannot be reached: {error}. Name a running cluster's address "
            "(ray://HOST:10001 or HOST:6379), or --ray local to start one on this machine." + _token_hint()
        ) from None


def _token_hint() -> str:
    """What to set when a cluster may want a token this process does not send: Ray clusters started since 2.52
    authenticate by token unless told otherwise, and a command joining one sends its token only in token mode."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        return ""
    return (
        " If the cluster authenticates by token (Ray's default for new clusters), set RAY_AUTH_MODE=token and give "
        "the cluster's token in RAY_AUTH_TOKEN (or ~/.ray/auth_token)."
    )


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "Ray is not installed: pip install 'tetsuban[ray]' (Ray Data runs the work on the cluster)."
        ) from None
    return ray


def cluster_map(
    cluster: Cluster,
    work: Callable[[In], Out],
    items: Iterable[In],
    setup: Callable[..., None] | None,
    setup_args: tuple[object, ...],
) -> Iterator[Out]:
    """Yield ``work(item)`` for each item in order, computed by a pool of Ray actors that each ran ``setup`` once."""
    ray = _import_ray()
    rows = [{"item": pickle.dumps(item)} for item in items]
    if not rows:
        return
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    actors = max(1, min(len(rows), int(ray.cluster_resources().get("CPU", 1)) // cluster.cpus_per_actor))
    dataset = ray.data.from_items(rows, override_num_blocks=min(len(rows), 4 * actors)).map_batches(
        _Actor,
        batch_size=1,
        batch_format="numpy",
        fn_constructor_args=(work, setup, setup_args, cluster.cpus_per_actor),
        num_cpus=cluster.cpus_per_actor,
        compute=ray.data.ActorPoolStrategy(size=actors),  # not concurrency=, deprecated since Ray 2.51
    )
    for row in dataset.iter_rows():
        yield pickle.loads(row["result"])


class _Actor:
    """One actor of the pool: ``setup`` once, then ``work`` on each row (one batch of the local pool's making)."""

    def __init__(
        self, work: Callable[[Any], Any], setup: Callable[..., None] | None, setup_args: tuple[object, ...], cpus: int
    ) -> None:
        import cv2

        cv2.setNumThreads(cpus)
        self._work = work
        if setup is not None:
            setup(*setup_args)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[bytes]]:
        return {"result": [pickle.dumps(self._work(pickle.loads(item))) for item in batch["item"]]}
