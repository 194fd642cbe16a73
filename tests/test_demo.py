"""The demo's command-line path end to end, on a small real subset: import, survey, split, embed, the loop's
questions answered from known labels, the holdout, train, evaluate, doctor, and the labeling app served."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.serving import free_port
from tetsuban import Project

CATEGORIES = ("Animals & Nature", "Food & Drink", "Travel & Places")
PER_CATEGORY = 30


def write_emoji_folders(emoji_root: Path, out: Path) -> Path:
    """30 real emoji of each of three categories, in class folders (ImageFolder)."""
    entries = json.loads((emoji_root / "emoji.json").read_text(encoding="utf-8"))
    for category in CATEGORIES:
        names = [e["image"] for e in entries if e["category"] == category]
        names = [name for name in names if (emoji_root / "64" / name).is_file()]
        folder = out / category.replace(" & ", "-")
        folder.mkdir(parents=True)
        for name in names[:PER_CATEGORY]:
            (folder / name).write_bytes((emoji_root / "64" / name).read_bytes())
    return out


@pytest.mark.slow
def test_the_demo_runs_the_recipe_and_serves_the_app(tmp_path: Path, emoji_dir: Path) -> None:
    images = write_emoji_folders(emoji_dir.parent, tmp_path / "emoji")
    port = free_port()
    env = {
        **os.environ,
        "DEMO_IMAGES": str(images),
        "DEMO_DIR": str(tmp_path / "demo"),
        "DEMO_LABELS": "24",
        "DEMO_ROUNDS": "3",
        "DEMO_HOLDOUT": "100",
        "DEMO_PORT": str(port),
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    log = tmp_path / "demo.log"
    with log.open("wb") as output:
        demo = subprocess.Popen(["bash", "scripts/demo.sh"], cwd=REPO, env=env, stdout=output, stderr=output)
    try:
        page = _served(f"http://127.0.0.1:{port}/", demo, log)
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert page.status_code == 200 and "tetsuban" in page.text
    assert text.count("Answered 8 images from the known labels") == 3, text[-3000:]
    assert "as a person would in the app" in text

    project_dir = tmp_path / "demo" / "emoji"
    model = Path(_printed(text, "Model:"))
    report = Path(_printed(text, "Evaluation:"))
    assert (project_dir / "survey.html").is_file() and report.is_file() and report.parent == model
    assert "PASS overfit" in text and "PASS preprocessing" in text and "PASS standalone graph" in text
    site = Path(_printed(text, "Web page:").split()[0])
    assert {"index.html", "model.onnx", "model.json"} <= {p.name for p in site.iterdir()}
    with Project.open(project_dir) as project:
        labels, splits = project.labelled(), project.splits()
    train = [i for i in labels if splits[i] == "train"]
    held = [i for i, split in splits.items() if split in ("val", "test")]
    assert len(train) == 24 and sorted(i for i in labels if splits[i] != "train") == sorted(held)
    assert json.loads((model / "card.json").read_text())["data"]["images"] == 24
    with (tmp_path / "demo" / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * PER_CATEGORY and sum(bool(row["label"]) for row in rows) == len(labels)


def _served(url: str, demo: subprocess.Popen[bytes], log: Path, timeout: float = 600.0) -> httpx.Response:
    """The app's first page, once the demo has reached its last step and the server answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            raise AssertionError(f"the demo ended (exit {demo.returncode}): {log.read_text(errors='replace')[-4000:]}")
        try:
            return httpx.get(url, timeout=5, follow_redirects=True)
        except httpx.HTTPError:
            time.sleep(1)
    raise AssertionError(f"the app was not served in time: {log.read_text(errors='replace')[-4000:]}")


def _printed(text: str, prefix: str) -> str:
    """The rest of the demo's line that starts with ``prefix``."""
    for line in text.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    raise AssertionError(f"the demo printed no {prefix!r} line")
