"""The embedding stage: the project's backbone as an ONNX graph, the embeddings it gives each image under the
project's preprocessing (computed once, cached in the store by content), and the pairs of images they say look
alike or are the same picture."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tetsuban.backbones.embedder import EmbedReport, embed_records
from tetsuban.backbones.onnx_export import ExportedBackbone, export_backbone, taps_suffix
from tetsuban.backbones.registry import BACKBONES
from tetsuban.config import weights_file
from tetsuban.parallel import worker_count
from tetsuban.params import check_float
from tetsuban.pipeline.spec import Pipeline
from tetsuban.progress import ProgressFn
from tetsuban.store.embeddings import embedded_backbones, load_embeddings
from tetsuban.store.images import ImageRecord
from tetsuban.survey.lookalikes import LOOK_ALIKE, SAME_PICTURE, look_alike_pairs
from tetsuban.workspace import Workspace


def backbone(ws: Workspace) -> ExportedBackbone:
    """The project's backbone as an ONNX graph (exported on first use, then cached per weights hash)."""
    return export_backbone(ws.config.model.backbone, weights_file(ws.root, ws.config.model))


def embed(ws: Workspace, on_progress: ProgressFn | None = None, image_ids: Sequence[int] | None = None) -> EmbedReport:
    """Compute the embeddings that are not cached yet, for every image (or those of ``image_ids``)."""
    return embed_with(ws, ws.images(), backbone(ws), ws.pipeline(), on_progress, image_ids)


def embeddings(ws: Workspace, image_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """The cached embedding of each of ``image_ids`` that has one (run :func:`embed` first)."""
    return embeddings_with(ws, ws.images(), backbone(ws), ws.pipeline(), image_ids)


def embed_with(
    ws: Workspace,
    records: Sequence[ImageRecord],
    graph: ExportedBackbone,
    pipeline: Pipeline,
    on_progress: ProgressFn | None,
    image_ids: Sequence[int] | None,
) -> EmbedReport:
    """:func:`embed` with the records, backbone and pipeline a caller has read once already."""
    if image_ids is not None:
        wanted = set(image_ids)
        records = [r for r in records if r.id in wanted]
    workers = worker_count(ws.config.model.workers)
    return embed_records(ws.engine, ws.root, records, graph, pipeline, workers, on_progress)


def embeddings_with(
    ws: Workspace,
    records: Sequence[ImageRecord],
    graph: ExportedBackbone,
    pipeline: Pipeline,
    image_ids: Sequence[int],
) -> dict[int, np.ndarray]:
    """:func:`embeddings` with the records, backbone and pipeline a caller has read once already."""
    by_id = {r.id: r.sha256 for r in records}
    shas = [by_id[i] for i in image_ids if i in by_id]
    with ws.engine.connect() as conn:
        found = load_embeddings(conn, graph.key, pipeline.preprocess_hash(), shas)
    return {i: found[by_id[i]] for i in image_ids if i in by_id and by_id[i] in found}


def stored_embeddings(ws: Workspace) -> dict[int, np.ndarray]:
    """Each image's stored embedding under the project's backbone and preprocess, found without exporting the
    backbone (when several keys have embeddings, those with the most images; on a tie, those that tap the blocks the
    backbone taps today); empty when none are stored."""
    preprocess = ws.pipeline().preprocess_hash()
    name = ws.config.model.backbone
    with ws.engine.connect() as conn:
        stored = embedded_backbones(conn, preprocess)
        mine = {key: n for key, n in stored.items() if key.startswith(f"{name}@")}
        if not mine:
            return {}
        records = ws.images()
        current = current_taps_suffix(name)
        chosen = max(mine, key=lambda k: (mine[k], k.rpartition("/")[2].lstrip("0123456789") == current))
        found = load_embeddings(conn, chosen, preprocess, [r.sha256 for r in records])
    return {r.id: found[r.sha256] for r in records if r.sha256 in found}


def current_taps_suffix(name: str) -> str:
    """How the keys of registered backbone ``name`` end after the input size today ("" for a timm model by name:
    only registered backbones tap blocks)."""
    spec = BACKBONES.get(name)
    return taps_suffix(spec.taps) if spec is not None else ""


def look_alikes(ws: Workspace, threshold: float = LOOK_ALIKE, mutual: bool = False) -> list[tuple[int, int, float]]:
    """(image id, image id, cosine) of images whose stored embeddings are at least ``threshold`` alike; with
    ``mutual``, only pairs of mutual nearest neighbours. Empty until :func:`embed` has run."""
    check_float("threshold", threshold, -1.0, 1.0)
    return look_alike_pairs(stored_embeddings(ws), threshold, mutual)


def same_pictures(ws: Workspace) -> list[tuple[int, int, float]]:
    """The pairs the stored embeddings say are the same picture (mutual nearest neighbours at SAME_PICTURE or
    more): what the survey's near-duplicates and the split's groups take from this stage."""
    return look_alikes(ws, SAME_PICTURE, mutual=True)
