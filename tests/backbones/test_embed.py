"""The embedding cache: asking again costs nothing, and a changed preprocess recomputes exactly what it changes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import start_as_from_a_terminal, write_fashion_images
from tetsuban import ConfigError, Project
from tetsuban.backbones.onnx_export import EMBEDDING_NAME, ExportedBackbone
from tetsuban.backbones.stage import stored_embeddings
from tetsuban.config import CONFIG_NAME, pipeline_toml
from tetsuban.infer import InferenceJob, infer
from tetsuban.pipeline.inputs import model_input
from tetsuban.pipeline.spec import Pipeline, default_pipeline
from tetsuban.pipeline.transforms import CenterCrop, Grey, Normalize, Resize
from tetsuban.store.db import DB_NAME
from tetsuban.store.embeddings import EmbeddingRow, store_embeddings


def _set_pipeline(project: Project, pipeline: Pipeline) -> Project:
    """Write ``pipeline`` into the project's tetsuban.toml and open the project again."""
    config = project.root / CONFIG_NAME
    text = config.read_text(encoding="utf-8")
    config.write_text(text[: text.index("# preprocess: always")] + pipeline_toml(pipeline), encoding="utf-8")
    project.close()
    return Project.open(project.root)


def test_embedding_again_costs_nothing(project: Project, emoji_sample: Path, lite0_onnx: ExportedBackbone) -> None:
    project.import_folder(emoji_sample)
    first = project.embed()
    assert (first.total, first.computed, first.cached, first.reused, first.failed) == (40, 40, 0, 0, [])
    again = project.embed()
    assert (again.computed, again.cached, again.reused) == (0, 40, 0)
    vectors = project.embeddings([r.id for r in project.images()])
    assert len(vectors) == 40
    matrix = np.stack(list(vectors.values()))
    assert matrix.shape == (40, 1280 + 192) and matrix.dtype == np.float32  # pooled features, block 5's mean
    assert len({v.tobytes() for v in matrix}) == 40  # forty different images, forty different vectors


def test_a_changed_preprocess_recomputes_exactly_the_embeddings_it_changes(
    project: Project, emoji_sample: Path, fashion_dir: Path, tmp_path: Path, lite0_onnx: ExportedBackbone
) -> None:
    project.import_folder(emoji_sample)  # 40 colour emoji
    project.import_folder(write_fashion_images(fashion_dir, tmp_path / "fashion", 20))  # 20 grey photos
    before = project.embed()
    assert before.computed == 60
    old = project.embeddings([r.id for r in project.images()])

    grey = Pipeline((Resize(256), Grey(), CenterCrop(224), Normalize()))
    project = _set_pipeline(project, grey)
    unchanged = [
        r.id
        for r in project.images()
        if np.array_equal(
            model_input(project.image_path(r), grey), model_input(project.image_path(r), default_pipeline())
        )
    ]
    assert len(unchanged) >= 20  # every grey photo at least: taking the colour out of grey changes nothing
    after = project.embed()
    assert (after.cached, after.reused, after.computed) == (0, len(unchanged), 60 - len(unchanged))
    new = project.embeddings([r.id for r in project.images()])
    for image_id in old:
        assert np.array_equal(new[image_id], old[image_id]) == (image_id in unchanged)

    project = _set_pipeline(project, default_pipeline())
    back = project.embed()  # the old preprocess: still cached
    assert (back.cached, back.computed, back.reused) == (60, 0, 0)
    project.close()


def test_worker_processes_give_what_one_process_gives(emoji_sample: Path, lite0_onnx: ExportedBackbone) -> None:
    files = sorted(emoji_sample.rglob("*.png"))
    job = InferenceJob(lite0_onnx.path, default_pipeline().to_dict(), (EMBEDDING_NAME,))
    items = list(enumerate(files))
    pooled = [r for batch in infer(job, items, workers=2, batch_size=4) for r in batch]  # 10 batches, 2 processes
    local = [r for batch in infer(job, items, workers=1, batch_size=4) for r in batch]
    assert [r.key for r in pooled] == [r.key for r in local] == list(range(40))
    for a, b in zip(pooled, local, strict=True):
        assert a.outputs is not None and b.outputs is not None and a.digest == b.digest
        assert np.abs(a.outputs[EMBEDDING_NAME] - b.outputs[EMBEDDING_NAME]).max() < 1e-6


def test_vanished_changed_and_damaged_files_are_reported_and_the_rest_embedded(
    project: Project, emoji_sample: Path, lite0_onnx: ExportedBackbone
) -> None:
    project.import_folder(emoji_sample)  # in place
    files = sorted(emoji_sample.rglob("*.png"))
    files[0].unlink()
    files[1].write_bytes(files[1].read_bytes()[:100])  # truncated: size and mtime change
    stat = files[2].stat()
    files[2].write_bytes(b"\0" * stat.st_size)  # damaged behind tetsuban's back: same size, same mtime
    os.utime(files[2], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    report = project.embed()
    assert report.computed == 37
    reasons = dict(report.failed)
    assert set(reasons) == {str(f) for f in files[:3]}
    assert "missing or changed" in reasons[str(files[0])] and "missing or changed" in reasons[str(files[1])]
    assert "not an image" in reasons[str(files[2])]


def test_a_pipeline_that_makes_no_model_input_is_refused(project: Project, emoji_sample: Path) -> None:
    project.import_folder(emoji_sample)
    project = _set_pipeline(project, Pipeline((Resize(256), CenterCrop(224))))  # no normalize: uint8 out
    with pytest.raises(ConfigError, match=r"takes 224x224 normalized images.*center_crop"):
        project.embed()
    project.close()


def _start_embed(project: Project, at_least: int) -> subprocess.Popen[str]:
    """Run ``tetsuban embed`` and return once it has stored at least ``at_least`` embeddings."""
    command = [sys.executable, "-m", "tetsuban", "embed", str(project.root)]
    child = start_as_from_a_terminal(command)
    deadline = time.monotonic() + 120
    while _stored(project) < at_least and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    return child


def _stored(project: Project) -> int:
    with sqlite3.connect(f"file:{project.root / DB_NAME}?mode=ro", uri=True, timeout=5) as conn:
        return int(conn.execute("SELECT count(*) FROM embedding_keys").fetchone()[0])


def test_a_killed_embed_keeps_its_finished_batches(
    project: Project, emoji_dir: Path, lite0_onnx: ExportedBackbone
) -> None:
    project.import_files(sorted(emoji_dir.glob("*.png"))[:640])
    images = len(project.images())  # a few files are byte-identical: one image each
    child = _start_embed(project, 64)
    os.killpg(child.pid, signal.SIGKILL)  # the CLI and its workers, with no chance to clean up
    child.communicate()
    kept = _stored(project)
    assert 64 <= kept < images, kept
    report = project.embed()
    assert report.cached == kept and report.computed + report.reused == images - kept and not report.failed
    assert _stored(project) == images


def test_ctrl_c_stops_embed_cleanly(project: Project, emoji_dir: Path, lite0_onnx: ExportedBackbone) -> None:
    project.import_files(sorted(emoji_dir.glob("*.png"))[:640])
    child = _start_embed(project, 64)
    os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's process group
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130
    assert "run embed again" in stderr and "Traceback" not in stderr
    assert 64 <= _stored(project) < len(project.images())


def test_any_timm_backbone_from_a_weights_file(project: Project, emoji_sample: Path, tmp_path: Path) -> None:
    import timm
    import torch

    weights = tmp_path / "resnet18.pth"
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), weights)
    project.import_folder(emoji_sample)
    resnet = project.using_model("resnet18", str(weights))
    with pytest.raises(ConfigError, match=r"normalized with mean \[0\.485, 0\.456, 0\.406\]"):
        resnet.embed()  # the default pipeline normalizes for EfficientNet-Lite0, not for this backbone
    imagenet = Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    project = _set_pipeline(project, Pipeline((Resize(256), CenterCrop(224), imagenet)))
    report = project.using_model("resnet18", str(weights)).embed()
    assert report.computed == 40 and report.backbone.startswith("resnet18@")
    vectors = project.using_model("resnet18", str(weights)).embeddings([r.id for r in project.images()])
    assert {v.shape for v in vectors.values()} == {(512,)}
    project = _set_pipeline(project, default_pipeline())
    assert project.embed().computed == 40  # the default backbone's embeddings are kept apart
    project.close()


def test_embeddings_from_before_taps_give_way_to_todays_once_both_are_stored(
    project: Project, emoji_sample: Path, lite0_onnx: ExportedBackbone
) -> None:
    project.import_folder(emoji_sample)
    records = project.images()
    preprocess = project.workspace.pipeline().preprocess_hash()
    old_key = replace(lite0_onnx, taps=()).key  # what a project embedded before block 5 was tapped
    rows = [
        EmbeddingRow(r.sha256, f"old-{r.sha256}", np.full(1280, n + 1.0, np.float32)) for n, r in enumerate(records)
    ]
    with project.workspace.engine.begin() as conn:
        store_embeddings(conn, old_key, preprocess, rows)
    assert {len(v) for v in stored_embeddings(project.workspace).values()} == {1280}  # all it has: still used
    project.embed(image_ids=[records[0].id])
    assert {len(v) for v in stored_embeddings(project.workspace).values()} == {1280}  # the old key has more images
    project.embed()
    today = stored_embeddings(project.workspace)
    assert len(today) == len(records) and {len(v) for v in today.values()} == {1280 + 192}
