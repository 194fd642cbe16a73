"""From a key press to the next image, ready to paint, in the labeling page (target: under 50 ms).

A real `tetsuban serve` on 60 labelled and 400 unlabelled fashion-mnist images (retrain every 20 labels, so
retrains run during the run), driven by Debian's chromium through Playwright. The page measures, for each key
press, the time from the keydown event to the moment the next image is decoded and can be painted
(`HTMLImageElement.decode()` after its src changed). Side by side: the page as it is (the next images fetched
ahead and preloaded, the label sent without waiting for it) on 127.0.0.1 and behind a 40 ms network (Chrome's
network emulation, as from a laptop to a team server); beside them, what a page that fetched each image only when
showing it would wait: a never-seen image's fetch and decode behind the same network. (Turning the browser's cache
off does not show that: an image already loaded in the document is reused whatever the cache says.)

Writes bench/results/keypress.md. Usage: python bench/keypress_latency.py [--presses 100]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from playwright.sync_api import Page, sync_playwright
from probe_accuracy import datasets_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import embedded_project
from tests.serving import start_serve, wait_until

RESULTS = Path(__file__).resolve().parent / "results" / "keypress.md"
# (name, added round-trip latency in ms, browser cache disabled)
MODES = (
    ("the page (prefetching), 127.0.0.1", 0, False),
    ("the page (prefetching), 40 ms network", 40, False),
    ("an image fetched when shown, 40 ms network", 40, True),
)
FETCH_WHEN_SHOWN = """async (count) => {
  const answer = await (await fetch(`/api/next?count=${count}&queue=random`)).json();
  const times = [];
  for (const [n, item] of answer.images.entries()) {
    const started = performance.now();
    const image = new Image();
    image.src = `/images/${item.id}?fresh=${n}-${Math.random()}`;  // never seen: fetched now
    await image.decode();
    times.push(performance.now() - started);
    await new Promise((done) => setTimeout(done, 300));
  }
  return times;
}"""
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


def emulate_network(page: Page, latency: float) -> None:
    """Chrome's network emulation: ``latency`` ms added to each request."""
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    conditions = {"offline": False, "latency": latency, "downloadThroughput": -1, "uploadThroughput": -1}
    network.send("Network.emulateNetworkConditions", conditions)


def presses(page: Page, url: str, count: int) -> list[float]:
    page.goto(url)
    wait_until(page, "() => document.getElementById('image').dataset.id && document.getElementById('image').complete")
    time.sleep(1.0)  # let the first prefetch finish, as a person's first look at the image would
    page.evaluate(MEASURE)
    for n in range(count):
        page.keyboard.press(str(1 + n % 9))
        wait_until(page, f"() => window.latencies.length >= {n + 1}")
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
        for n, (mode, latency, no_cache) in enumerate(MODES):
            project = embedded_project(fashion, work / f"mode-{n}", 60, 400, test=0.1, val=0.1)
            process, url = start_serve(project, work / "serve.log", retrain_every=20)
            try:
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=CHROMIUM,
                        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                    )
                    page = browser.new_page(viewport={"width": 1200, "height": 820})
                    emulate_network(page, latency)
                    if no_cache:
                        page.goto(url)
                        results[mode] = list(page.evaluate(FETCH_WHEN_SHOWN, args.presses))
                    else:
                        results[mode] = presses(page, url, args.presses)
                    browser.close()
            finally:
                process.terminate()
                process.wait(timeout=30)
            print(mode, f"p50 {np.percentile(results[mode], 50):.1f} ms", flush=True)
    write_table(results, args.presses)


def write_table(results: dict[str, list[float]], count: int) -> None:
    base = float(np.percentile(results[MODES[1][0]], 50))
    lines = [
        "# Key press to next image",
        "",
        f"`python bench/keypress_latency.py --presses {count}` on {datetime.now(UTC):%Y-%m-%d}: Debian's chromium "
        f"(headless) through Playwright, a real `tetsuban serve`, Python {platform.python_version()}, 2 cores. "
        "Milliseconds from keydown to the next image decoded and ready to paint. Target: under 50 ms.",
        "",
        "| page | presses | p50 ms | p90 ms | p99 ms | max ms | p50 / the page's p50 at 40 ms |",
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
