"""`tetsuban serve` as a newcomer starts it: right after import (no splits yet), on a port that is taken, on a
project without images. Each refusal is one line, before the app says where it is."""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path

import httpx

from tests.conftest import copied
from tests.run_cli import tetsuban
from tests.serving import free_port, start_serve
from tetsuban import Project


def _imported(tmp_path: Path, emoji_dir: Path, count: int) -> Path:
    """A project made as the guide says, init then import of a flat folder of real emoji, and nothing else."""
    flat = copied(sorted(emoji_dir.glob("1f6*.png"))[:count], tmp_path / "flat")
    tetsuban("init", tmp_path / "project")
    tetsuban("import", tmp_path / "project", flat)
    return tmp_path / "project"


def _one_line_refusal(result_stderr: str) -> str:
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result_stderr
    return lines[0]


def test_a_first_serve_right_after_import_makes_the_splits_says_so_and_serves(tmp_path: Path, emoji_dir: Path) -> None:
    project_dir = _imported(tmp_path, emoji_dir, 30)
    log = tmp_path / "serve.log"
    process, url = start_serve(project_dir, log)
    try:
        queued = [image["id"] for image in httpx.get(url + "/api/next", params={"count": 5}).json()["images"]]
    finally:
        process.terminate()
        process.wait(timeout=30)
    said = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in said
    assert said.index("No splits yet, so tetsuban made them (test 0.2, val 0.1, seed 0") < said.index("Labeling ")
    with Project.open(project_dir) as project:
        splits = project.splits()
        assert len(splits) == len(project.images()) == 30
    counts = Counter(splits.values())
    assert counts["test"] > 0 and counts["val"] > 0 and counts["train"] > counts["test"]
    assert f"train {counts['train']}, val {counts['val']}, test {counts['test']}" in said
    assert queued and all(splits[i] == "train" for i in queued)


def test_serve_refuses_a_taken_port_in_one_line_before_it_announces_the_app(tmp_path: Path, emoji_dir: Path) -> None:
    project_dir = _imported(tmp_path, emoji_dir, 3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = tetsuban("serve", project_dir, "--port", str(port), check=False, timeout=120)
    assert result.returncode == 1 and "Labeling" not in result.stdout
    line = _one_line_refusal(result.stderr)
    assert f"cannot listen on 127.0.0.1 port {port}" in line and "--port" in line
    with Project.open(project_dir) as project:
        assert project.splits() == {}  # refused before any work: nothing embedded, nothing split


def test_serve_on_a_project_without_images_says_to_import_in_one_line(tmp_path: Path) -> None:
    tetsuban("init", tmp_path / "empty")
    result = tetsuban("serve", tmp_path / "empty", check=False, timeout=120)
    assert result.returncode == 1 and "Labeling" not in result.stdout
    assert "no images yet" in _one_line_refusal(result.stderr) and "tetsuban import" in result.stderr


def test_serve_refuses_a_project_whose_train_split_is_empty_in_one_line(tmp_path: Path, emoji_dir: Path) -> None:
    project_dir = _imported(tmp_path, emoji_dir, 1)
    tetsuban("split", project_dir, "--test", "0.8", "--val", "0.1")  # one image: it goes to test
    result = tetsuban("serve", project_dir, "--port", str(free_port()), check=False, timeout=120)
    assert result.returncode == 1 and "Labeling" not in result.stdout and "Traceback" not in result.stderr
    assert "No image is in the train split (val 0, test 1)" in result.stderr.strip().splitlines()[-1]
