"""Attacks that held before issue 16, kept under test here so that they keep holding: path traversal, CSRF, body
limits, archive members named ../, symlink loops, uploads of SVG and HTML, binding off loopback without users,
kill -9 while labelling, and unpickling a checkpoint."""

from __future__ import annotations

import http.client
import io
import os
import shutil
import signal
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.run_cli import tetsuban
from tests.security.conftest import CLASS_NAMES
from tests.server.conftest import LOCAL, csrf_of
from tests.serving import start_serve
from tetsuban import Project
from tetsuban.server.app import MAX_BODY, create_app
from tetsuban.server.binding import Binding


def _raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (an HTTP client would tidy the dots away)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    connection.putrequest("GET", path, skip_host=True)
    connection.putheader("Host", parts.netloc)
    connection.endheaders()
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    return answer.status, body


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2ftetsuban.toml",
        "/images/..%2f..%2ftetsuban.toml",
        "/images/1%2f..%2f..%2fetc%2fpasswd",
    ],
)
def test_paths_that_climb_out_reach_no_file(served: str, path: str) -> None:
    status, body = _raw_get(served, path)
    assert status in (400, 404, 422) and b"root:" not in body and b"[project]" not in body


@pytest.mark.slow
def test_a_state_change_needs_the_pages_token_and_origin(served: str, served_project: Path) -> None:
    with Project.open(served_project) as project:
        before = len(project.label_history())
        image_id = project.images()[-1].id
    with httpx.Client(base_url=served) as client:
        body = {"image_id": image_id, "label": CLASS_NAMES[2]}
        assert client.post("/api/labels", json=body).status_code == 403  # no token
        token = csrf_of(client.get("/").text)
        other_site = {"X-CSRF-Token": token, "Origin": "http://evil.example"}
        assert client.post("/api/labels", json=body, headers=other_site).status_code == 403
        assert (
            client.post("/api/labels", content=b"x" * (MAX_BODY + 1), headers={"X-CSRF-Token": token}).status_code
            == 413
        )
    with Project.open(served_project) as project:
        assert len(project.label_history()) == before


def test_archive_members_named_to_climb_out_are_refused(tmp_path: Path, photos_dir: Path) -> None:
    archive = tmp_path / "evil.zip"
    photo = (photos_dir / "orange.jpg").read_bytes()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("../../escaped.jpg", photo)
        writer.writestr("/etc/cron.d/evil.jpg", photo)
        writer.writestr("fine/ok.jpg", photo)
    with Project.init(tmp_path / "p") as project:
        report = project.import_path(archive)
    assert report.counts["added"] == 1 and report.counts["skipped"] == 2
    assert all("unsafe member name" in (o.reason or "") for o in report.skipped)
    assert not (tmp_path / "escaped.jpg").exists() and not (tmp_path.parent / "escaped.jpg").exists()


def test_a_symlink_loop_in_a_folder_ends(tmp_path: Path, photos_dir: Path) -> None:
    folder = tmp_path / "images"
    (folder / "deeper").mkdir(parents=True)
    shutil.copy2(photos_dir / "orange.jpg", folder / "orange.jpg")
    (folder / "deeper" / "loop").symlink_to(folder, target_is_directory=True)
    tetsuban("init", tmp_path / "p")
    result = tetsuban("import", tmp_path / "p", folder, timeout=120)
    assert "1 added" in result.stdout


def test_uploads_of_svg_and_html_are_refused_and_never_served(hostile: Path, tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(hostile, copy)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
    html = b"<html><body><script>alert(3)</script></body></html>"
    with TestClient(create_app(copy), base_url=LOCAL) as client:
        client.headers["X-CSRF-Token"] = csrf_of(client.get("/").text)
        files = [
            ("files", ("x.svg", io.BytesIO(svg), "image/svg+xml")),
            ("files", ("y.html", io.BytesIO(html), "text/html")),
        ]
        answer = client.post("/api/upload", files=files).json()
    assert answer["added"] == 0 and len(answer["skipped"]) == 2
    with Project.open(copy) as project:
        assert {r.format for r in project.images()} <= {"PNG", "JPEG"}


def test_binding_off_loopback_without_users_is_refused_by_the_app_itself(hostile: Path, tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(hostile, copy)
    with pytest.raises(Exception, match="needs logins first"), TestClient(create_app(copy, binding=Binding("0.0.0.0"))):
        pass


@pytest.mark.slow
def test_kill_9_while_labelling_loses_no_label(hostile: Path, tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(hostile, copy)
    process, url = start_serve(copy, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=url) as client:
            token = csrf_of(client.get("/").text)
            offered = client.get("/api/next", params={"count": 5}).json()["images"]
            for item in offered:
                body = {"image_id": item["id"], "label": CLASS_NAMES[2]}
                assert client.post("/api/labels", json=body, headers={"X-CSRF-Token": token}).status_code == 200
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    with Project.open(copy) as project:
        labels = project.labelled()
    assert all(labels.get(item["id"]) == CLASS_NAMES[2] for item in offered)


def test_a_checkpoint_that_would_run_code_is_never_unpickled(tmp_path: Path) -> None:
    import pickle

    from tests.security.test_models import _Payload
    from tetsuban.finetune.checkpoint import load_checkpoint

    marker = tmp_path / "pwned"
    path = tmp_path / "run.pt"
    path.write_bytes(pickle.dumps({"format": "x", "progress": _Payload(marker)}))
    assert load_checkpoint(path, "key") is None  # refused as damaged: the run starts afresh
    assert not marker.exists()
