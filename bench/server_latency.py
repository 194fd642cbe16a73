"""How fast does the labeling app answer with 100,000 images in the project? p50 and p99 of next-image and label
requests, one annotator alone and two at once, one alone with the panel open, and of a cached thumbnail.

The project: fashion-mnist's 60,000 training and 10,000 test images and 35,000 mirrored training images, imported
through the real IDX import (about 105,000 images, stored in the project), with 10,000 of them labelled with their
class and the rest unlabelled, split 80/10/10. Embeddings: the first 2,000 images are embedded by the default
backbone; the other images get one of those vectors with 1% noise, written straight into the embedding cache
(embedding 100,000 images on this CPU would take about 20 minutes, and latency depends on the shapes, not on what
the rows show).

The server is a real `tetsuban serve` process (uvicorn, one worker) with users, so every request also checks a
session and (for labels) a CSRF token; the loop retrains in the background every 20 labels, as in use, so the
requests are measured while retrains run. Each annotator is a process with its own keep-alive HTTP client that
asks for the next image, labels it (the suggestion, or a class at random) and looks at the next for `--pause`
seconds (0.25: four images a second, a fast annotator; 0 hammers the server). With the panel open, the bench
also asks for the panel's figures every 5 s as the page does (GET /api/stats), so that the learning curve is redrawn
in the background after each retrain (server/curve_keeper.py: heads fitted on the training labels' prefixes, in a
thread of the server's process, resting twice each drawing's time); the ratio to the phase with it closed is what
the drawing costs the requests.

Writes bench/results/server.md. Usage: python bench/server_latency.py [--labels 300] [--project DIR]
"""

from __future__ import annotations

import argparse
import gzip
import platform
import re
import shutil
import struct
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from multiprocessing import Queue, get_context
from pathlib import Path

import httpx
import numpy as np
from probe_accuracy import FASHION, datasets_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.serving import start_serve
from tetsuban import Project
from tetsuban.ingest.idx import read_idx
from tetsuban.store.embeddings import EmbeddingRow, store_embeddings

RESULTS = Path(__file__).resolve().parent / "results" / "server.md"
MIRRORED = 35_000
LABELLED = 10_000
REAL_EMBEDDED = 2_000
PASSWORD = "bench password"
REQUESTS = (("next", "next image (GET /api/next)"), ("label", "label (POST /api/labels)"))


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (gzip) of a uint8 array: images (N, H, W) or labels (N,)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def build_project(work: Path) -> Path:
    """About 105,000 imported images, 10,000 labelled, split, embedded (2,000 for real); two annotators."""
    fashion = datasets_dir() / "fashion-mnist"
    train = read_idx(fashion / "train-images-idx3-ubyte.gz")
    train_labels = read_idx(fashion / "train-labels-idx1-ubyte.gz")
    write_idx(work / "mirrored-images.gz", train[:MIRRORED, :, ::-1])
    sources = {
        fashion / "train-images-idx3-ubyte.gz": train_labels,
        fashion / "t10k-images-idx3-ubyte.gz": read_idx(fashion / "t10k-labels-idx1-ubyte.gz"),
        work / "mirrored-images.gz": train_labels[:MIRRORED],
    }
    root = work / "project"
    rng = np.random.default_rng(0)
    with Project.init(root) as project:
        sources = {path.resolve(): labels for path, labels in sources.items()}
        for images in sources:
            started = time.perf_counter()
            report = project.import_idx(images)  # unlabelled; 10,000 get their class below
            print(f"imported {images.name}: {report.counts} in {time.perf_counter() - started:.0f} s", flush=True)
        records = project.images()
        ids = [r.id for r in records]
        classes = {}
        for record in records:  # the origin is "<IDX file>#<index>"
            source, index = record.origin.rsplit("#", 1)
            classes[record.id] = FASHION[int(sources[Path(source)][int(index)])]
        chosen = rng.choice(ids, LABELLED, replace=False).tolist()
        project.set_labels([(i, classes[i]) for i in chosen], "import", "bench")
        project.split(test=0.1, val=0.1)
        started = time.perf_counter()
        project.embed(image_ids=ids[:REAL_EMBEDDED])
        print(f"embedded {REAL_EMBEDDED} in {time.perf_counter() - started:.0f} s", flush=True)
        fill_embeddings(project, ids, rng)
        project.accounts.add("ann", PASSWORD)
        project.accounts.add("bob", PASSWORD)
        print(f"{len(ids):,} images, {len(project.labelled()):,} labelled", flush=True)
    return root


def fill_embeddings(project: Project, ids: list[int], rng: np.random.Generator) -> None:
    """Every image past the first 2,000 gets a real vector plus 1% noise, straight into the embedding cache."""
    records = {r.id: r for r in project.images()}
    base = project.embeddings(ids[:REAL_EMBEDDED])
    vectors = np.stack([base[i] for i in ids[:REAL_EMBEDDED]])
    key, preprocess = project.backbone().key, project.pipeline().preprocess_hash()
    engine = project.workspace.engine  # SQLite or PostgreSQL (bench/scale.py)
    rest = ids[REAL_EMBEDDED:]
    for start in range(0, len(rest), 5_000):
        chunk = rest[start : start + 5_000]
        picked = vectors[np.arange(start, start + len(chunk)) % REAL_EMBEDDED]
        noisy = picked + 0.01 * picked.std() * rng.standard_normal(picked.shape).astype(np.float32)
        rows = [
            EmbeddingRow(records[i].sha256, f"bench-{records[i].sha256[:24]}", v)
            for i, v in zip(chunk, noisy, strict=True)
        ]
        with engine.begin() as conn:
            store_embeddings(conn, key, preprocess, rows)


def logged_in(url: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    form = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token.group(1)})
    page = client.get("/").text
    csrf = re.search(r'<meta name="csrf" content="([^"]+)">', page)
    assert csrf is not None, "login failed"
    client.headers["X-CSRF-Token"] = csrf.group(1)
    return client


def annotate(url: str, name: str, labels: int, pause: float, seed: int, results: Queue) -> None:
    """One annotator (its own process and keep-alive client): ask for the next image, label it, look at the next
    for ``pause`` seconds; ``labels`` times. Puts (name, {"next": ms..., "label": ms...}) on ``results``."""
    client = logged_in(url, name)
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {"next": [], "label": []}
    for _ in range(labels):
        started = time.perf_counter()
        answer = client.get("/api/next", params={"count": 1})
        out["next"].append((time.perf_counter() - started) * 1000)
        images = answer.json()["images"]
        if not images:
            break
        item = images[0]
        label = item["suggestion"] or FASHION[int(rng.integers(len(FASHION)))]
        started = time.perf_counter()
        response = client.post("/api/labels", json={"image_id": item["id"], "label": label, "seconds": 1.0})
        out["label"].append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
        time.sleep(pause)
    client.close()
    results.put((name, out))


class Panel:
    """The page's panel, open: GET /api/stats every ``every`` seconds in a thread, until stopped; each answer's
    milliseconds, and how many curves were drawn (a drawing seen pending, then done)."""

    def __init__(self, url: str, every: float = 5.0) -> None:
        self.client = logged_in(url, "bob")
        self.every = every
        self.ms: list[float] = []
        self.drawn = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Panel:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.client.close()

    def _poll(self) -> None:
        shown = None
        while not self._stop.wait(self.every):
            started = time.perf_counter()
            stats = self.client.get("/api/stats", params={"target": 0.95}).json()
            self.ms.append((time.perf_counter() - started) * 1000)
            curve = stats["curve"]
            self.drawn += int(curve is not None and shown is not None and curve != shown)  # a new curve published
            shown = curve if curve is not None else shown


def run_phase(url: str, names: list[str], labels: int, pause: float) -> dict[str, list[float]]:
    """Annotators ``names`` labelling at once, each in its own process (so that the clients do not share a GIL);
    the latencies of all of them together."""
    context = get_context("spawn")
    results: Queue = context.Queue()
    workers = [
        context.Process(target=annotate, args=(url, name, labels, pause, seed, results))
        for seed, name in enumerate(names)
    ]
    for worker in workers:
        worker.start()
    found = [results.get(timeout=1800) for _ in workers]
    for worker in workers:
        worker.join()
    return {kind: [ms for _, out in found for ms in out[kind]] for kind in ("next", "label")}


def thumbnails(url: str, rounds: int) -> tuple[list[float], list[float]]:
    """(first request that makes the thumbnail, cached requests) in ms, for 20 images."""
    client = logged_in(url, "ann")
    ids = [item["id"] for item in client.get("/api/next", params={"count": 20, "queue": "random"}).json()["images"]]
    cold, warm = [], []
    for image_id in ids:
        started = time.perf_counter()
        assert client.get(f"/thumbs/{image_id}").status_code == 200
        cold.append((time.perf_counter() - started) * 1000)
    for _ in range(rounds):
        for image_id in ids:
            started = time.perf_counter()
            client.get(f"/thumbs/{image_id}")
            warm.append((time.perf_counter() - started) * 1000)
    client.close()
    return cold, warm


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=300, help="labels per annotator in each phase")
    parser.add_argument("--pause", type=float, default=0.25, help="seconds an annotator looks at each image")
    parser.add_argument("--project", type=Path, help="reuse (or build once into) this folder's project")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.project is not None and (args.project / "project").is_dir():
            root = work / "project"  # a copy: the run adds labels
            shutil.copytree(args.project / "project", root)
        else:
            root = build_project(work)
            if args.project is not None:
                shutil.copytree(root, args.project / "project")
        with Project.open(root) as project:
            images = len(project.images())
        process, url = start_serve(root, work / "serve.log", retrain_every=20, timeout=600)
        try:
            alone = run_phase(url, ["ann"], args.labels, args.pause)
            with Panel(url) as panel:
                watched = run_phase(url, ["ann"], args.labels, args.pause)
            together = run_phase(url, ["ann", "bob"], args.labels, args.pause)
            cold, busy = thumbnails(url, 10)  # right after the labels: the last retrains still run
            time.sleep(15)
            _, idle = thumbnails(url, 10)
        finally:
            process.terminate()
            process.wait(timeout=60)
    write_table(images, args.labels, args.pause, alone, together, cold, busy, idle)
    write_panel_rows(alone, watched, panel)


def write_table(
    images: int,
    labels: int,
    pause: float,
    alone: dict[str, list[float]],
    together: dict[str, list[float]],
    cold: list[float],
    busy: list[float],
    idle: list[float],
) -> None:
    lines = [
        "# Labeling app latency",
        "",
        f"`python bench/server_latency.py --labels {labels} --pause {pause}` on {datetime.now(UTC):%Y-%m-%d}: "
        f"{images:,} images, {LABELLED:,} labelled at the start, retrain every 20 labels, each annotator "
        f"labelling as fast as {1 / (pause + 0.01):.0f} images a second; Python {platform.python_version()}, "
        "2 cores. Milliseconds measured by the client over keep-alive HTTP on 127.0.0.1 (server: one uvicorn "
        "process with users, sessions and CSRF checks). Targets: p99 under 20 ms; a cached thumbnail under 5 ms.",
        "",
        "| request | annotators | requests | p50 ms | p99 ms | max ms | p99 two / one |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, name in REQUESTS:
        one, two = alone[kind], together[kind]
        lines.append(table_row(name, "1", one, ""))
        lines.append(table_row(name, "2", two, f"{percentile(two, 99) / percentile(one, 99):.2f}x"))
    lines += [
        table_row("thumbnail, first request (made and cached)", "1", cold, ""),
        table_row("thumbnail, cached, while retrains run", "1", busy, ""),
        table_row("thumbnail, cached, server idle", "1", idle, ""),
        "",
    ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


def table_row(name: str, column: str, values: list[float], tail: str) -> str:
    """One row: the request, a column (annotators, or the panel), the count, p50, p99 and max ms, then ``tail``."""
    worst = max(values, default=float("nan"))
    return (
        f"| {name} | {column} | {len(values)} | {percentile(values, 50):.1f} | {percentile(values, 99):.1f} | "
        f"{worst:.1f} | {tail} |"
    )


def write_panel_rows(alone: dict[str, list[float]], watched: dict[str, list[float]], panel: Panel) -> None:
    """Append the phase with the panel open, beside the one without, to the table."""
    lines = [
        "",
        f"With the panel open (its figures asked for every {panel.every:.0f} s, {panel.drawn} new learning curves "
        "shown meanwhile, each drawn in the background), one annotator:",
        "",
        "| request | panel | requests | p50 ms | p99 ms | max ms | p50 open / closed | p99 open / closed |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, name in REQUESTS:
        closed, opened = alone[kind], watched[kind]
        ratios = [percentile(opened, q) / percentile(closed, q) for q in (50, 99)]
        lines.append(table_row(name, "closed", closed, " | "))
        lines.append(table_row(name, "open", opened, f"{ratios[0]:.2f}x | {ratios[1]:.2f}x"))
    lines.append(table_row("panel figures (GET /api/stats)", "open", panel.ms, " | "))
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
