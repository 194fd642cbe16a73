"""Past one machine, measured on one: embedding on Ray against the local process pool, one Ray actor against two,
and the labeling app's latency with four annotators on PostgreSQL with two workers against SQLite with one.

Embedding: fashion-mnist's first ``--images`` training images (10,000 by default), imported once through the IDX
import, then embedded from scratch in a fresh copy of the project by (a) the local pool (one process per core, as
`tetsuban embed`), (b) a local Ray cluster of two CPUs (two actors), (c) one of one CPU (one actor), each run
``--repeats`` times, in turn, so that the machine's drift falls on all alike. Reported: images per second (median),
Ray's time over the local pool's (its overhead) and one actor's over two (its scaling).

The app: a project of the same images, 2,000 of them labelled, every image embedded (the first 2,000 for real, the
rest a real vector with 1% noise: latency depends on the shapes, not on what the rows show), with four annotators;
once with its tables in SQLite served by one process, once in a PostgreSQL 15 server (tests/postgres.py) served by
`tetsuban serve --workers 2`. Four annotators label at once, each its own process and keep-alive client, looking at
each image for 0.25 s; the loop retrains every 20 labels. Reported: p50 and p99 of next-image and label requests.

Writes bench/results/scale.md. Usage: python bench/scale.py [--images 10000] [--repeats 3] [--labels 150]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from footprint import PeakSampler, postgres_table_mib, ray_actors, sqlite_mib
from probe_accuracy import FASHION, datasets_dir
from server_latency import PASSWORD, fill_embeddings, percentile, run_phase, write_idx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.postgres import start_postgres, stop_postgres
from tests.processes import descendants
from tests.serving import start_serve
from tetsuban import Project
from tetsuban.active.loop import LabelLoop
from tetsuban.active.registry import DEFAULT_STRATEGY, strategy_named
from tetsuban.cluster import LOCAL, on_cluster
from tetsuban.ingest.idx import read_idx

RESULTS = Path(__file__).resolve().parent / "results" / "scale.md"
ANNOTATORS = ("ann", "bob", "cy", "dee")
REAL_EMBEDDED = 2_000
LABELLED = 2_000


def base_project(work: Path, images: int) -> Path:
    """``images`` fashion-mnist training images, imported, unembedded."""
    fashion = datasets_dir() / "fashion-mnist"
    write_idx(work / "images.gz", read_idx(fashion / "train-images-idx3-ubyte.gz")[:images])
    root = work / "base"
    with Project.init(root) as project:
        project.import_idx(work / "images.gz")
    return root


def embed_seconds(base: Path, work: Path, name: str, ray_cpus: int | None, actor_mib: list[float]) -> float:
    """Seconds to embed every image of a fresh copy of ``base``: locally, or on a local Ray cluster of
    ``ray_cpus`` CPUs (started before the clock starts, stopped after). Each Ray actor's peak resident size in MiB
    is added to ``actor_mib``."""
    root = work / name
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(base, root)
    if ray_cpus is None:
        with Project.open(root) as project:
            started = time.perf_counter()
            report = project.embed()
            seconds = time.perf_counter() - started
    else:
        import ray

        ray.init(num_cpus=ray_cpus, include_dashboard=False, log_to_driver=False)
        try:
            with Project.open(root) as project, on_cluster(LOCAL), PeakSampler(ray_actors) as actors:
                started = time.perf_counter()
                report = project.embed()
                seconds = time.perf_counter() - started
        finally:
            ray.shutdown()
        actor_mib.extend(actors.peaks.values())
    assert not report.failed and report.computed + report.reused == report.total, report
    shutil.rmtree(root)
    return seconds


def embedding_rows(base: Path, work: Path, images: int, repeats: int) -> list[str]:
    runs: dict[str, list[float]] = {"local": [], "ray2": [], "ray1": []}
    actor_mib: list[float] = []
    for repeat in range(repeats):
        for name, cpus in (("local", None), ("ray2", 2), ("ray1", 1)):
            seconds = embed_seconds(base, work, name, cpus, actor_mib)
            runs[name].append(seconds)
            print(f"embed {name} #{repeat + 1}: {seconds:.1f} s ({images / seconds:.0f} images/s)", flush=True)
    median = {name: statistics.median(values) for name, values in runs.items()}
    spread = {name: f"{min(values):.1f}-{max(values):.1f}" for name, values in runs.items()}
    labels = {
        "local": "local pool, 2 processes",
        "ray2": "Ray, local cluster, 2 actors",
        "ray1": "Ray, local cluster, 1 actor",
    }
    rows = [
        f"| {labels[name]} | {median[name]:.1f} ({spread[name]}) | {images / median[name]:.0f} |"
        for name in ("local", "ray2", "ray1")
    ]
    return [
        "| embedding | seconds, median (range) | images/s |",
        "|---|---:|---:|",
        *rows,
        "",
        f"Ray's overhead (2 actors over the local pool's 2 processes): **{median['ray2'] / median['local']:.2f}x** "
        f"the time. Scaling (1 actor over 2): **{median['ray1'] / median['ray2']:.2f}x** the time.",
        "",
        f"Each Ray actor's peak resident memory (one ONNX Runtime session and its batches of 32): median "
        f"**{statistics.median(actor_mib):.0f} MiB** (range {min(actor_mib):.0f}-{max(actor_mib):.0f}, "
        f"{len(actor_mib)} actors).",
    ]


def app_project(base: Path, root: Path, database: str) -> Path:
    """A copy of ``base`` with its tables where ``database`` says (SQLite when empty): 2,000 labelled, split, every
    image embedded (2,000 for real), four annotators."""
    rng = np.random.default_rng(0)
    fashion = datasets_dir() / "fashion-mnist"
    classes = read_idx(fashion / "train-labels-idx1-ubyte.gz")
    with Project.init(root, database=database) as project:
        images = base.parent / "images.gz"
        project.import_idx(images.resolve())
        ids = [r.id for r in project.images()]
        index = {r.id: int(r.origin.rsplit("#", 1)[1]) for r in project.images()}
        chosen = rng.choice(ids, LABELLED, replace=False).tolist()
        project.set_labels([(i, FASHION[int(classes[index[i]])]) for i in chosen], "import", "bench")
        project.split(test=0.1, val=0.1)
        project.embed(image_ids=ids[:REAL_EMBEDDED])
        fill_embeddings(project, ids, rng)
        for name in ANNOTATORS:
            project.accounts.add(name, PASSWORD)
    return root


def app_latency(root: Path, work: Path, workers: int, labels: int) -> tuple[dict[str, list[float]], list[float]]:
    """The latencies of four annotators labelling at once, and the peak resident MiB of each app process (the
    workers, without the supervisor that only watches them, when there are several)."""
    process, url = start_serve(root, work / f"serve-{workers}.log", retrain_every=20, workers=workers)
    try:
        with PeakSampler(lambda: [process.pid, *descendants(process.pid)], interval=2.0) as sampler:
            latencies = run_phase(url, list(ANNOTATORS), labels, 0.25)
    finally:
        process.terminate()
        process.wait(timeout=60)
    peaks = {pid: mib for pid, mib in sampler.peaks.items() if "resource_tracker" not in sampler.names[pid]}
    if workers > 1:
        peaks.pop(process.pid, None)
    return latencies, sorted(peaks.values())


def loop_cost(sizes: tuple[int, int] = (20_000, 100_000), classes: int = 10) -> tuple[float, list[float]]:
    """What the labelling loop of one app process holds per image, and its retrain's seconds at each of ``sizes``,
    measured on loops over ``sizes`` images of 1,280-float embeddings (500 labelled, ``classes`` classes), each
    retrained once with the default strategy. Memory: Python's allocation tracer (numpy reports its arrays to it)
    after the retrain, the difference between the two sizes over their difference in images."""
    held, seconds = [], []
    rng = np.random.default_rng(0)
    warm = rng.standard_normal((1_000, 1280), dtype=np.float32)  # untraced: imports what a retrain needs
    LabelLoop(warm, np.ones(1_000, bool), strategy_named(DEFAULT_STRATEGY), labels=["a", "b"] * 500).retrain()
    for size in sizes:
        tracemalloc.start()
        embeddings = rng.standard_normal((size, 1280), dtype=np.float32)
        labels: list[str | None] = [f"class{i % classes}" if i < 500 else None for i in range(size)]
        loop = LabelLoop(embeddings, np.ones(size, bool), strategy_named(DEFAULT_STRATEGY), labels=labels)
        started = time.perf_counter()
        loop.retrain()
        seconds.append(time.perf_counter() - started)
        held.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
        del loop, embeddings, labels
    return (held[1] - held[0]) / (sizes[1] - sizes[0]), seconds


def app_rows(base: Path, work: Path, labels: int, images: int) -> list[str]:
    server = start_postgres()
    try:
        sqlite, sqlite_app = app_latency(app_project(base, work / "sqlite", ""), work, 1, labels)
        database = server.new_database()
        postgres, postgres_app = app_latency(app_project(base, work / "postgresql", database), work, 2, labels)
        tables = postgres_table_mib(database)
    finally:
        stop_postgres(server)
    rows = ["| store, app processes | request | p50 ms | p99 ms | requests |", "|---|---|---:|---:|---:|"]
    for name, found in (("SQLite, 1", sqlite), ("PostgreSQL, 2 workers", postgres)):
        for kind, title in (("next", "next image"), ("label", "label")):
            values = found[kind]
            rows.append(
                f"| {name} | {title} | {percentile(values, 50):.1f} | {percentile(values, 99):.1f} | {len(values)} |"
            )
    ratio = {k: percentile(postgres[k], 99) / percentile(sqlite[k], 99) for k in ("next", "label")}
    rows += [
        "",
        f"p99 on PostgreSQL with 2 workers over SQLite with 1: next image **{ratio['next']:.2f}x**, "
        f"label **{ratio['label']:.2f}x**.",
        "",
        *footprint_rows(images, sqlite_mib(work / "sqlite"), tables, sqlite_app, postgres_app, *loop_cost()),
    ]
    return rows


def footprint_rows(
    images: int,
    sqlite_file: float,
    tables: dict[str, float],
    sqlite_app: list[float],
    postgres_app: list[float],
    per_image: float,
    retrain_seconds: list[float],
) -> list[str]:
    """The stored size per image, the app processes' memory and the loop's bytes per image and retrain time."""
    largest = sorted((mib, name) for name, mib in tables.items() if name != "(database)")[::-1][:4]
    database = tables["(database)"]
    project = sum(mib for name, mib in tables.items() if name != "(database)")
    table_text = ", ".join(f"{name} {mib:.1f} MiB" for mib, name in largest)
    return [
        f"What it leaves, after the phase ({images:,} images, every one embedded): the SQLite file "
        f"{sqlite_file:.1f} MiB ({sqlite_file * 1024 / images:.1f} KiB per image); the project's PostgreSQL tables "
        f"{project:.1f} MiB with their indexes ({project * 1024 / images:.1f} KiB per image; the largest: "
        f"{table_text}), in a database of {database:.1f} MiB (PostgreSQL's own catalog included).",
        "",
        f"Peak resident memory of each app process: SQLite, 1: {', '.join(f'{m:.0f}' for m in sqlite_app)} MiB; "
        f"PostgreSQL, 2 workers: {', '.join(f'{m:.0f}' for m in postgres_app)} MiB. The labelling loop holds "
        f"**{per_image:,.0f} bytes per image** (Python's allocation tracer, a loop of 20,000 against one of 100,000 "
        f"images of 1,280-float embeddings after a retrain); one retrain took {retrain_seconds[0]:.1f} s at 20,000 "
        f"images and {retrain_seconds[1]:.1f} s at 100,000 (tracer on; 500 labels, 10 classes).",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--labels", type=int, default=150, help="labels per annotator")
    parser.add_argument("--skip-embedding", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = base_project(work, args.images)
        embedding = [] if args.skip_embedding else embedding_rows(base, work, args.images, args.repeats)
        app = app_rows(base, work, args.labels, args.images)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Past one machine: Ray and PostgreSQL, measured on one",
        "",
        f"`python bench/scale.py --images {args.images} --repeats {args.repeats} --labels {args.labels}`, {when}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores. Embedding: fashion-mnist's first "
        f"{args.images:,} training images, EfficientNet-Lite0, from scratch each run, runs in turn.",
        "",
        *embedding,
        "",
        f"The app: {args.images:,} images, {LABELLED:,} labelled, four annotators labelling at once ({args.labels} "
        "labels each, 0.25 s per image), a retrain every 20 labels.",
        "",
        *app,
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
