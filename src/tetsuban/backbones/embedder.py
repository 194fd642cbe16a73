"""Compute the embeddings a project lacks and keep them in its store; asking again costs nothing."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from tetsuban.backbones.onnx_export import EMBEDDING_NAME, ExportedBackbone
from tetsuban.infer import InferenceJob, Inferred, infer
from tetsuban.interrupts import interrupts_deferred
from tetsuban.pipeline.inputs import check_model_input
from tetsuban.pipeline.spec import Pipeline
from tetsuban.progress import ProgressFn
from tetsuban.store.embeddings import EmbeddingRow, cached_images, known_digests, store_embeddings
from tetsuban.store.images import ImageRecord, image_path, readable_records


@dataclass(frozen=True)
class EmbedReport:
    """What one ``embed`` did: images already cached, reused by equal input, computed, and those that failed."""

    backbone: str
    preprocess: str
    total: int
    cached: int
    reused: int
    computed: int
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    seconds: float = 0.0


def embed_records(
    engine: Engine,
    project_dir: Path,
    records: Sequence[ImageRecord],
    backbone: ExportedBackbone,
    pipeline: Pipeline,
    workers: int,
    on_progress: ProgressFn | None = None,
) -> EmbedReport:
    """Embed every record that has no embedding under ``backbone`` and ``pipeline``'s preprocess part.

    Results are stored batch by batch, each in its own transaction: a killed run keeps what it finished.
    A file that vanished, changed since import, or cannot be decoded is reported and skipped.
    """
    started = time.perf_counter()
    check_model_input(pipeline, backbone.input_size, backbone.mean, backbone.std)
    preprocess = pipeline.preprocess_hash()
    with engine.connect() as conn:
        done = cached_images(conn, backbone.key, preprocess)
        known = known_digests(conn, backbone.key)
    todo = [r for r in records if r.sha256 not in done]
    runnable, failed = readable_records(project_dir, todo)
    progress = len(records) - len(runnable)
    if on_progress is not None:
        on_progress(progress, len(records))
    job = InferenceJob(backbone.path, pipeline.to_dict(), (EMBEDDING_NAME,), known)
    items = [(i, image_path(project_dir, r)) for i, r in enumerate(runnable)]
    reused = computed = 0
    for batch in infer(job, items, workers):
        rows = []
        for result in batch:
            record = runnable[result.key]
            if result.error is not None:
                failed.append((str(image_path(project_dir, record)), result.error))
                continue
            rows.append(_row(record, result))
            computed += result.outputs is not None
            reused += result.known
        if rows:
            with interrupts_deferred(), engine.begin() as conn:
                store_embeddings(conn, backbone.key, preprocess, rows)
        progress += len(batch)
        if on_progress is not None:
            on_progress(progress, len(records))
    cached = len(records) - len(todo)
    return EmbedReport(
        backbone.key, preprocess, len(records), cached, reused, computed, failed, time.perf_counter() - started
    )


def _row(record: ImageRecord, result: Inferred) -> EmbeddingRow:
    assert result.digest is not None
    vector = None if result.outputs is None else result.outputs[EMBEDDING_NAME]
    return EmbeddingRow(record.sha256, result.digest, vector)
