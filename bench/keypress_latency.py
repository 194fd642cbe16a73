"""From a key press to the next image, ready to paint, in the labeling page (target: under 50 ms).

A real `tetsuban serve` on 60 labelled and 400 unlabelled fashion-mnist images (retrain every 20 labels, so
retrains run during the run), driven by Debian's chromium through Playwright. The page measures, for each key
press, the time from the keydown event to the moment the next image is decoded and can be painted
(`HTMLImageElement.decode()` after its src changed). Side by side: the page as it is (the next images fetched
ahead and preloaded, the label sent without waiting for it), and the same page with the browser's cache
disabled (every image fetched when shown).

Writes bench/results/keypress.md. Usage: python bench/keypress_latency.py [--presses 100]
"""

from __future__ import annotations

import argparse
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from playwright.sync_api import Page, sync_playwright
from probe_accuracy import datasets_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import embedded_project

RESULTS = Path(__file__).resolve().parent / "results" / "keypress.md"
CHROMIUM = "/usr/bin/chromium"
MEASURE = """() => {
  const image = document.getElementById("image");
  window.latencies = [];
  document.addEventListener("keydown", () => {
    const started = performance.now();
    const before = image.dataset.id;
    const observer = new MutationObserver(() => {
      if (image.dataset.id === before) return;
      observer.disconnect();
      image.decode().then(() => window.latencies.push(performance.now() - started));
    });
    observer.observe(image, { attributes: true, attributeFilter: ["src", "data-id"] });
  }, true);
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(project: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "tetsuban", "serve", str(project), "--port", str(port), "--retrain-every", "20"]
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if httpx.get(url + "/login", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(log.read_text(errors="replace")[-2000:])


def presses(page: Page, url: str, count: int) -> list[float]:
    page.goto(url)
    page.wait_for_function("document.getElementById('image').dataset.id && document.getElementById('image').complete")
    time.sleep(1.0)  # let the first prefetch finish, as a person's first look at the image would
    page.evaluate(MEASURE)
    for n in range(count):
        page.keyboard.press(str(1 + n % 9))
        page.wait_for_function(f"window.latencies.length >= {n + 1}", timeout=30_000)
        time.sleep(0.3)  # a fast annotator: about three images a second
    return list(page.evaluate("window.latencies"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=100)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fashion = datasets_dir() / "fashion-mnist"
        for mode in ("preloaded", "cache disabled"):
            project = embedded_project(fashion, work / mode.replace(" ", "-"), 60, 400, test=0.1, val=0.1)
            process, url = serve(project, work / "serve.log")
            try:
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=CHROMIUM,
                        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                    )
                    page = browser.new_page(viewport={"width": 1200, "height": 820})
                    if mode == "cache disabled":
                        page.context.new_cdp_session(page).send("Network.setCacheDisabled", {"cacheDisabled": True})
                    results[mode] = presses(page, url, args.presses)
                    browser.close()
            finally:
                process.terminate()
                process.wait(timeout=30)
            print(mode, f"p50 {np.percentile(results[mode], 50):.1f} ms", flush=True)
    write_table(results, args.presses)


def write_table(results: dict[str, list[float]], count: int) -> None:
    base = float(np.percentile(results["preloaded"], 50))
    lines = [
        "# Key press to next image",
        "",
        f"`python bench/keypress_latency.py --presses {count}` on {datetime.now(UTC):%Y-%m-%d}: Debian's chromium "
        f"(headless) through Playwright, a real `tetsuban serve`, Python {platform.python_version()}, 2 cores. "
        "Milliseconds from keydown to the next image decoded and ready to paint. Target: under 50 ms.",
        "",
        "| page | presses | p50 ms | p90 ms | p99 ms | max ms | p50 / preloaded p50 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, values in results.items():
        p50, p90, p99 = (float(np.percentile(values, q)) for q in (50, 90, 99))
        lines.append(
            f"| {mode} | {len(values)} | {p50:.1f} | {p90:.1f} | {p99:.1f} | {max(values):.1f} | {p50 / base:.2f}x |"
        )
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
