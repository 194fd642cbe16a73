"""Importing from object storage: an S3 bucket served by moto on 127.0.0.1, read through s3fs as a user's would be.
Labels come from sub-folders, hidden objects are left out, a broken one is reported, an import run again fetches
only what is new or changed (by ETag and size), and the app serves the images by id."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import write_fashion_images
from tests.run_cli import tetsuban
from tests.server.conftest import LOCAL
from tetsuban import Project
from tetsuban.server.app import create_app

BUCKET = "photos-bucket"
_AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")


def _aws_env() -> dict[str, str]:
    """What the command's process needs to reach the test's bucket (run_cli passes on no environment of its own)."""
    return {name: os.environ[name] for name in _AWS}


@pytest.fixture()
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """An S3 client on moto's server (its own thread, on loopback), with the environment pointing s3fs at it."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }.items():
        monkeypatch.setenv(name, value)
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client
    finally:
        server.stop()


def _put(client: object, key: str, body: bytes) -> None:
    client.put_object(Bucket=BUCKET, Key=key, Body=body)  # type: ignore[attr-defined]


def _upload(client: object, images: Path, prefix: str) -> dict[str, str]:
    """Every file below ``images`` under ``prefix``, keeping its folder (its class); key -> class."""
    uploaded = {}
    for path in sorted(images.rglob("*.png")):
        key = f"{prefix}/{path.parent.name}/{path.name}"
        _put(client, key, path.read_bytes())
        uploaded[key] = path.parent.name
    return uploaded


def test_a_bucket_prefix_is_imported_once_with_its_labels_and_changes_only_are_fetched_again(
    s3: object, tmp_path: Path, fashion_dir: Path
) -> None:
    uploaded = _upload(s3, write_fashion_images(fashion_dir, tmp_path / "images", 20), "photos")
    some_png = sorted((tmp_path / "images").rglob("*.png"))[0].read_bytes()
    _put(s3, "photos/Bag/.DS_Store", b"hidden")
    _put(s3, "photos/Bag/broken.png", b"\x89PNG\r\n\x1a\n" + b"0" * 40)
    _put(s3, "elsewhere/Coat/x.png", some_png)  # beside the prefix, not below it
    url = f"s3://{BUCKET}/photos/"
    with Project.init(tmp_path / "project") as project:
        report = project.import_path(url)
        assert report.counts["added"] == 20 and report.counts["skipped"] == 1, report.counts
        (broken,) = project.import_outcomes(report.run_id, "skipped")
        assert broken.item.startswith(f"s3://{BUCKET}/photos/Bag/broken.png (etag ") and broken.reason
        labels = project.labelled()
        by_origin = {r.origin: r for r in project.images()}
        assert sorted(labels.values()) == sorted(uploaded.values())  # classes from the sub-folders
        assert all(r.stored for r in project.images())  # in the project: nothing needs the bucket from now on
        assert not any("elsewhere" in origin or ".DS_Store" in origin for origin in by_origin)

        again = project.import_path(url)
        assert again.counts["unchanged"] == 20 and again.counts["added"] == 0  # known by ETag and size: no fetch

        changed_key = sorted(uploaded)[0]
        other = sorted((tmp_path / "images").rglob("*.png"))[-1].read_bytes()
        _put(s3, changed_key, other + b"\0")  # a new version: a new ETag and size
        third = project.import_path(url)
        assert third.counts["unchanged"] == 19 and third.counts["added"] == 1  # only the new version, fetched


def test_the_app_serves_imported_objects_by_id_and_the_cli_takes_an_s3_url(
    s3: object, tmp_path: Path, fashion_dir: Path
) -> None:
    _upload(s3, write_fashion_images(fashion_dir, tmp_path / "images", 12), "set")
    with Project.init(tmp_path / "project"):
        pass
    result = tetsuban("import", tmp_path / "project", f"s3://{BUCKET}/set", env=_aws_env())
    assert "12 added" in result.stdout.replace(",", ""), result.stdout
    with Project.open(tmp_path / "project") as project:
        image_id = project.images()[0].id
        project.split(test=0.2, val=0.2)
    with TestClient(create_app(tmp_path / "project"), base_url=LOCAL) as client:
        answer = client.get(f"/images/{image_id}")
        assert answer.status_code == 200 and answer.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_bucket_that_is_not_there_is_said_in_one_line(s3: object, tmp_path: Path) -> None:
    with Project.init(tmp_path / "project"):
        pass
    result = tetsuban("import", tmp_path / "project", "s3://no-such-bucket-here/x/", check=False, env=_aws_env())
    assert result.returncode != 0
    assert "no-such-bucket-here" in result.stderr and "Traceback" not in result.stderr
