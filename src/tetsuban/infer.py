"""Decode, preprocess and run an ONNX graph over many images, in batches, in worker processes.

Each worker holds one ONNX Runtime session on one thread and does everything for its batch: decode, preprocess,
infer. With two workers on two cores one decodes while the other infers, so decoding overlaps inference without
shipping large float arrays between processes; only the small outputs travel back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tetsuban.cluster import current as current_cluster
from tetsuban.errors import ImageError
from tetsuban.parallel import ordered_map
from tetsuban.pipeline.inputs import input_digest, model_pixels, to_batch
from tetsuban.pipeline.spec import Pipeline

INPUT_NAME = "images"  # the input of every graph tetsuban runs: a batch of preprocessed images
BATCH_SIZE = 32
_PRELOAD = ("tetsuban.infer", "onnxruntime")


@dataclass(frozen=True)
class InferenceJob:
    """What to run: an ONNX file, the preprocessing (fitted, as a dict), which outputs to keep, and which inputs
    need no inference because their outputs are known (by input digest)."""

    model: Path
    pipeline: dict[str, Any]
    outputs: tuple[str, ...]
    skip: frozenset[str] = frozenset()
    threads: int = 1


@dataclass(frozen=True)
class Inferred:
    """One image's result: its outputs, or None with ``known`` (its digest is in the job's skip set) or an error."""

    key: int
    digest: str | None
    outputs: dict[str, np.ndarray] | None
    error: str | None = None

    @property
    def known(self) -> bool:
        return self.outputs is None and self.error is None


def infer(
    job: InferenceJob,
    items: Sequence[tuple[int, Path]],
    workers: int,
    batch_size: int = BATCH_SIZE,
) -> Iterator[list[Inferred]]:
    """Yield results batch by batch, in the order of ``items`` (each a caller's key and an image file).

    Few images run here, on ``workers`` threads; more run in ``workers`` processes of one thread each; on a Ray
    cluster (:mod:`tetsuban.cluster`), in its actors, on as many threads as each has CPUs.
    """
    if not items:
        return
    batches = [list(items[i : i + batch_size]) for i in range(0, len(items), batch_size)]
    pooled = workers > 1 and len(batches) > 2
    cluster = current_cluster()
    threads = cluster.cpus_per_actor if cluster is not None else 1 if pooled else max(1, workers)
    yield from ordered_map(_run, batches, workers if pooled else 1, _PRELOAD, _setup, (replace(job, threads=threads),))


# -- inside a worker ------------------------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}  # the session, pipeline and job of this process, set by _setup


def _setup(job: InferenceJob) -> None:
    from tetsuban.runtime import open_session

    _WORKER["session"] = open_session(job.model, threads=job.threads)
    _WORKER["pipeline"] = Pipeline.from_dict(job.pipeline)
    _WORKER["job"] = job


def _run(batch: list[tuple[int, Path]]) -> list[Inferred]:
    job: InferenceJob = _WORKER["job"]
    pipeline: Pipeline = _WORKER["pipeline"]
    results: dict[int, Inferred] = {}
    todo: list[tuple[int, str, np.ndarray]] = []
    for key, path in batch:
        try:
            pixels = model_pixels(Path(path), pipeline)
        except (ImageError, OSError) as exc:
            results[key] = Inferred(key, None, None, _reason(exc))
            continue
        digest = input_digest(pixels, pipeline)
        if digest in job.skip:
            results[key] = Inferred(key, digest, None)
        else:
            todo.append((key, digest, pipeline.finish(pixels)))
    if todo:
        values = _WORKER["session"].run(list(job.outputs), {INPUT_NAME: to_batch([a for _, _, a in todo])})
        for row, (key, digest, _) in enumerate(todo):
            outputs = {name: np.asarray(value[row]) for name, value in zip(job.outputs, values, strict=True)}
            results[key] = Inferred(key, digest, outputs)
    return [results[key] for key, _ in batch]


def _reason(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename}"
    if isinstance(exc, OSError):
        return f"cannot read the file: {exc.strerror or exc}"
    return str(exc)
