"""Embedding, survey and prediction on a Ray cluster (one local cluster of two CPUs for the whole session) give
what the local process pool gives, byte for byte; `--ray ADDRESS` on the command line joins that running cluster as
a command on another machine would."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_fashion_images
from tests.run_cli import tetsuban
from tetsuban import Project
from tetsuban.backbones.stage import backbone
from tetsuban.cluster import LOCAL, _token_hint, on_cluster
from tetsuban.learn.predict import predict
from tetsuban.parallel import ordered_map
from tetsuban.store.embeddings import load_embeddings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """One local Ray cluster of two CPUs for these tests (every Ray test of the session is here), shut down after
    them: its daemons and idle workers would otherwise share the two cores with every later test."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> Path:
    return write_fashion_images(fashion_dir, tmp_path_factory.mktemp("ray") / "images", 100)


def _project(root: Path, images: Path) -> Path:
    """A project of ``images``, its embeddings computed by as many processes as this machine has cores."""
    with Project.init(root) as project:
        project.import_folder(images)
    return root


def _stored(project: Project) -> dict[str, bytes]:
    """Every image's cached embedding, as the bytes the store holds."""
    ws = project.workspace
    shas = [r.sha256 for r in ws.images()]
    with ws.engine.connect() as conn:
        found = load_embeddings(conn, backbone(ws).key, ws.pipeline().preprocess_hash(), shas)
    return {sha: vector.tobytes() for sha, vector in found.items()}


def test_batched_work_goes_to_the_clusters_actors_in_order_while_named(ray_cluster: None) -> None:
    """Within on_cluster, ordered_map's work runs in Ray's actor processes (each item answers with the pid of the
    process that read /proc/self), in the items' order; outside it, in this machine's pool as before."""
    here = str(os.getpid())
    with on_cluster(LOCAL):
        pids = list(ordered_map(os.readlink, ["/proc/self"] * 12, workers=1))
        numbered = list(ordered_map(str, range(50), workers=1))
    assert here not in pids and 1 <= len(set(pids)) <= 2  # two CPUs, one per actor
    assert numbered == [str(i) for i in range(50)]
    assert set(ordered_map(os.readlink, ["/proc/self"] * 3, workers=1)) == {here}


def test_an_embedding_on_ray_is_the_same_bytes_as_a_local_one(ray_cluster: None, tmp_path: Path, images: Path) -> None:
    with Project.open(_project(tmp_path / "local", images)) as local:
        assert local.embed().computed == 100
        expected = _stored(local)
    with Project.open(_project(tmp_path / "ray", images)) as on_ray, on_cluster(LOCAL):
        report = on_ray.embed()
        assert report.computed == 100 and not report.failed
        assert _stored(on_ray) == expected
        assert on_ray.embed().computed == 0  # cached, as after a local run


def test_a_survey_on_ray_measures_what_a_local_one_does(ray_cluster: None, tmp_path: Path, images: Path) -> None:
    with Project.open(_project(tmp_path / "local", images)) as local:
        local.survey()
        expected = local.survey_table()
    with Project.open(_project(tmp_path / "ray", images)) as on_ray, on_cluster(LOCAL):
        on_ray.survey()
        assert on_ray.survey_table() == expected


def test_predictions_on_ray_are_those_of_the_local_pool(ray_cluster: None, tmp_path: Path, fashion_dir: Path) -> None:
    labelled = write_fashion_images(fashion_dir, tmp_path / "labelled", 60)
    with Project.init(tmp_path / "project") as project:
        project.import_folder(labelled)
        project.split(test=0.2, val=0.2)
        model = project.train().artifact.folder
    local = predict(model, labelled, tmp_path / "local.csv", workers=2)
    with on_cluster(LOCAL):
        on_ray = predict(model, labelled, tmp_path / "ray.csv", workers=2)
    assert local.predicted == on_ray.predicted == 60
    assert (tmp_path / "ray.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def test_embed_with_ray_address_on_the_command_line_joins_the_running_cluster(
    ray_cluster: None, tmp_path: Path, images: Path
) -> None:
    """`--ray ADDRESS` connects the command to a cluster that is already running (this module's, by its GCS
    address), runs its batches in that cluster's actors and stores the same bytes as the local pool."""
    import ray

    address = ray.get_runtime_context().gcs_address
    few = tmp_path / "few"
    few.mkdir()
    for path in sorted(images.rglob("*.png"))[:40]:
        (few / path.parent.name).mkdir(exist_ok=True)
        shutil.copy(path, few / path.parent.name / path.name)
    with Project.open(_project(tmp_path / "local", few)) as local:
        local.embed()
        expected = _stored(local)
    _project(tmp_path / "ray", few)
    # Ray's new clusters want a token: the one ray.init made is in ~/.ray/auth_token, sent in token mode
    result = tetsuban("embed", tmp_path / "ray", "--ray", address, env={"RAY_AUTH_MODE": "token"}, timeout=600)
    assert "40" in result.stdout, result.stdout
    with Project.open(tmp_path / "ray") as on_ray:
        assert _stored(on_ray) == expected
    assert np.frombuffer(next(iter(expected.values())), np.float32).shape == (1280 + 192,)


def test_a_cluster_that_cannot_be_joined_is_told_about_ray_tokens_unless_in_token_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    assert "set RAY_AUTH_MODE=token" in _token_hint() and "RAY_AUTH_TOKEN" in _token_hint()
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    assert _token_hint() == ""
