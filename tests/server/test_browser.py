"""The labeling page in a real browser: Debian's chromium driven by Playwright, against `tetsuban serve`."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import embedded_project
from tetsuban import Project

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> Iterator[tuple[str, Path]]:
    """`tetsuban serve` on a project of 60 labelled and 100 unlabelled fashion-mnist images."""
    root = tmp_path_factory.mktemp("browser")
    project_dir = embedded_project(fashion_dir, root, 60, 100, test=0.1, val=0.1)
    port = _free_port()
    command = ["serve", str(project_dir), "--port", str(port), "--retrain-every", "10"]
    log = root / "serve.log"
    with log.open("wb") as output:  # a file, not a pipe: a full pipe would stall the server
        process = subprocess.Popen([sys.executable, "-m", "tetsuban", *command], stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/next?count=1", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        process.kill()
        raise AssertionError(f"the server did not start: {log.read_text(errors='replace')}")
    yield url, project_dir
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture()
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser.new_page(viewport={"width": 1000, "height": 800})
        browser.close()


def _wait_for_label_count(page: Page, count: int) -> None:
    expect(page.locator("#status")).to_contain_text(f"{count} labelled")


def test_labelling_by_keyboard_with_undo_and_accepting_suggestions(server: tuple[str, Path], page: Page) -> None:
    url, project_dir = server
    with Project.open(project_dir) as project:
        before = len(project.labelled())
    page.goto(url)
    page.wait_for_function("document.getElementById('image').dataset.id")
    shown = []
    for n in range(1, 31):
        shown.append(int(page.locator("#image").get_attribute("data-id") or 0))
        page.keyboard.press(str(1 + n % 3))
        _wait_for_label_count(page, before + n)
    assert len(set(shown)) == 30  # thirty different images, one after another
    page.keyboard.press("z")
    _wait_for_label_count(page, before + 29)
    page.keyboard.press("Enter")  # accept the suggestion for the image brought back
    _wait_for_label_count(page, before + 30)
    page.screenshot(path=str(DOCS / "labeling-single.png"))
    with Project.open(project_dir) as project:
        events = project.label_history()
        sources = [e.source for e in events if e.image_id in shown]
        assert sources.count("human") >= 30 and "model-accepted" in sources
        assert all(e.seconds_on_screen is not None for e in events if e.image_id in shown and e.label is not None)
        assert len(project.labelled()) == before + 30
