"""Attack 7: an image file swapped after import (for a link to /etc/passwd, or for other bytes with the old size
but a new time) is not served: the app serves an image only while its file holds the content that was imported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import embedded_project
from tests.server.conftest import LOCAL, with_csrf
from tetsuban import Project
from tetsuban.server.app import create_app


@pytest.fixture()
def project_dir(tmp_path: Path, fashion_dir: Path) -> Path:
    return embedded_project(fashion_dir, tmp_path, labelled=12, unlabelled=12, test=0.2, val=0.2)


def test_a_file_swapped_after_import_is_not_served(project_dir: Path) -> None:
    with Project.open(project_dir) as project:
        records = project.images()[:3]
        paths = [project.image_path(r) for r in records]
    linked, resized, kept = zip(records, paths, strict=True)
    os.replace(linked[1], str(linked[1]) + ".moved")
    linked[1].symlink_to("/etc/passwd")
    same_size = bytearray(resized[1].read_bytes())
    same_size[-20] ^= 0xFF  # other bytes of the same length: the time changed, so the content is hashed
    resized[1].write_bytes(bytes(same_size))
    with TestClient(create_app(project_dir), base_url=LOCAL) as client:
        with_csrf(client)
        for record in (linked[0], resized[0]):
            for route in ("images", "thumbs"):
                answer = client.get(f"/{route}/{record.id}")
                assert answer.status_code == 410 and b"root:" not in answer.content, (route, record.id)
        served = client.get(f"/images/{kept[0].id}")
        assert served.status_code == 200 and served.content == kept[1].read_bytes()
        assert client.get(f"/thumbs/{kept[0].id}").headers["content-type"] == "image/jpeg"
