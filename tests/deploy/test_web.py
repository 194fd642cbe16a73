"""`tetsuban export --format web`: a static folder where chromium, offline, classifies the files chosen on the page
as `tetsuban predict` does, fetching nothing but the folder's own files."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import write_fashion_images
from tests.deploy.test_client import stored_turned, with_clear_background
from tests.run_cli import tetsuban
from tests.server.conftest import BROWSER_ARGS, CHROMIUM
from tetsuban.deploy.agreement import NEAR_TIE
from tetsuban.deploy.preprocess_graph import IMAGE_INPUT
from tetsuban.deploy.web import ORT_WEB_VERSION, RUNTIME_FILES
from tetsuban.imaging.decode import decode
from tetsuban.learn.artifact import PROBABILITIES_NAME, Artifact
from tetsuban.learn.predict import predict_files
from tetsuban.runtime import open_session

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def served(site: Path) -> Iterator[str]:
    with serving(site) as address:
        yield address


@contextlib.contextmanager
def serving(site: Path) -> Iterator[str]:
    """``site`` on a static server of this machine, as any static host would serve it; yields its address."""
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
    }

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def page(browser: Browser) -> Page:
    return browser.new_page()


def test_the_site_holds_the_page_the_runtime_and_the_graph(site: Path) -> None:
    names = {p.name for p in site.iterdir()}
    assert {"index.html", "app.js", "style.css", "model.onnx", "model.json", *RUNTIME_FILES} == names
    page = (site / "index.html").read_text(encoding="utf-8")
    assert "default-src 'self'" in page and "http" not in page.replace("http-equiv", "")
    script = (REPO / "scripts" / "fetch-onnxruntime-web.sh").read_text(encoding="utf-8")
    assert f"version={ORT_WEB_VERSION}" in script
    assert "innerHTML" not in (site / "app.js").read_text(encoding="utf-8")


def test_the_page_classifies_chosen_files_as_predict_does_offline(
    model: Artifact, served: str, page: Page, tmp_path: Path, emoji_dir: Path, fashion_dir: Path, photos_dir: Path
) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    opened(page, served)
    fashion = sorted(write_fashion_images(fashion_dir, tmp_path / "fashion", 4, start=900).rglob("*.png"))
    files = [*sorted(emoji_dir.glob("1f60*.png"))[:4], photos_dir / "butterfly.jpg", *fashion]
    files += [
        stored_turned(fashion[0], tmp_path / "turned.jpg"),
        with_clear_background(fashion[1], tmp_path / "clear.png"),
    ]
    (tmp_path / "notes.png").write_bytes(b"not an image at all")
    shown = chosen(page, [*files, tmp_path / "notes.png"])
    assert shown["notes.png"][2] == "This file is not an image the browser can read."
    for path, prediction in zip(files, predict_files(model, files, k=2), strict=True):
        top, probability, _ = shown[path.name]
        (first, p1), (second, p2) = prediction.top
        assert top == first or (top == second and p1 - p2 < NEAR_TIE), (path.name, top, prediction.top)
        assert abs(float(probability) - (p1 if top == first else p2)) < 0.05, (path.name, probability, prediction.top)
    assert asked and all(url.startswith(served) for url in asked), asked


def test_an_int8_site_runs_its_quantized_graph_in_the_page(
    model: Artifact, site: Path, page: Page, tmp_path: Path, emoji_dir: Path, fashion_dir: Path
) -> None:
    import onnx

    quantized = tmp_path / "int8-site"
    result = tetsuban("export", model.folder, "--format", "web", "--quantize", "int8", "-o", quantized)
    assert f"Wrote {quantized} (web, int8," in result.stdout
    graph = quantized / "model.onnx"
    assert sum(n.op_type == "QuantizeLinear" for n in onnx.load(str(graph)).graph.node) > 50
    assert graph.stat().st_size < (site / "model.onnx").stat().st_size / 2.5
    files = [*sorted(emoji_dir.glob("1f60*.png"))[:3]]
    files += sorted(write_fashion_images(fashion_dir, tmp_path / "fashion", 3, start=900).rglob("*.png"))
    with serving(quantized) as address:
        opened(page, address)
        shown = chosen(page, files)
    session = open_session(graph)
    for path in files:  # the page's numbers are the int8 graph's, run here by onnxruntime on the same pixels
        expected = session.run([PROBABILITIES_NAME], {IMAGE_INPUT: decode(path)[np.newaxis]})[0][0]
        first, second = np.argsort(-expected, kind="stable")[:2]
        top, probability, error = shown[path.name]
        assert not error, (path.name, error)
        near_tie = expected[first] - expected[second] < NEAR_TIE
        assert top == model.classes[first] or (near_tie and top == model.classes[second]), (path.name, top, expected)
        assert abs(float(probability) - expected[model.classes.index(top)]) < 0.02, (path.name, probability, expected)


def opened(page: Page, address: str) -> None:
    """The site's page at ``address``, once its model has loaded."""
    page.goto(f"{address}/index.html")
    # the page's CSP forbids eval: no waits by script
    expect(page.locator("#status")).to_have_text("Ready.", timeout=60_000)


def chosen(page: Page, files: Sequence[Path]) -> dict[str, tuple[str | None, str | None, str | None]]:
    """``files`` chosen on the page: by file name, the (top class, its probability, error) the page shows."""
    page.set_input_files("#files", [str(f) for f in files])
    results = page.locator("#results li")
    expect(results).to_have_count(len(files), timeout=60_000)
    rows = [
        [results.nth(i).get_attribute(f"data-{key}") for key in ("name", "top", "probability", "error")]
        for i in range(len(files))
    ]
    return {str(name): (top, probability, error) for name, top, probability, error in rows}


def test_a_missing_runtime_or_a_used_folder_is_refused_in_words(model: Artifact, tmp_path: Path) -> None:
    empty = tmp_path / "no-runtime"
    empty.mkdir()
    refused = tetsuban(
        "export",
        model.folder,
        "--format",
        "web",
        "-o",
        tmp_path / "a",
        check=False,
        env={"TETSUBAN_ORT_WEB": str(empty)},
    )
    assert refused.returncode != 0 and "scripts/fetch-onnxruntime-web.sh" in refused.stderr
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine", encoding="utf-8")
    refused = tetsuban("export", model.folder, "--format", "web", "-o", used, check=False)
    assert refused.returncode != 0 and "not an empty folder" in refused.stderr
    assert [p.name for p in used.iterdir()] == ["keep.txt"] and not (tmp_path / "a").exists()


def test_a_picture_from_the_camera_is_classified(served: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                *BROWSER_ARGS,
                "--use-fake-device-for-media-stream",  # chromium's test camera: a moving pattern
                "--use-fake-ui-for-media-stream",
            ],
        )
        page = browser.new_page()
        opened(page, served)
        page.click("#camera")
        expect(page.locator("#viewer")).to_be_visible(timeout=20_000)
        page.wait_for_timeout(500)  # the first frames
        page.click("#take")
        row = page.locator("#results li")
        expect(row).to_have_count(1, timeout=60_000)
        assert row.get_attribute("data-name") == "camera" and row.get_attribute("data-top")
        page.click("#stop")
        expect(page.locator("#viewer")).to_be_hidden()
        browser.close()
