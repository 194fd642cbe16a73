"""How fast does tetsuban embed images, against the model alone and against the loop a user would write?

Side by side in one run, on the same files, with the default backbone (EfficientNet-Lite0, 224 px):
- tetsuban: decode + preprocess + ONNX Runtime in worker processes (one thread each), as ``tetsuban embed`` does;
- ceiling: the same ONNX graph on ready tensors, nothing decoded: two processes of one thread, and one process of
  two threads (the better of the two is the ceiling);
- plain loop: PIL + torchvision.transforms (resize 256, crop 224, to tensor, normalize) + torch eager, batches of
  32 on all cores, as a notebook does it.
Rounds interleaved, median images/s. Writes bench/results/embed.md.

The plain loop runs on the first --plain images of each set only (it is slow); its rate is what it is.

Usage: python bench/embed_speed.py [--rounds 3] [--emoji 3786] [--photos 512] [--plain 512]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tetsuban.backbones.onnx_export import EMBEDDING_NAME, INPUT_NAME, ExportedBackbone, export_backbone
from tetsuban.infer import InferenceJob, infer
from tetsuban.parallel import ordered_map
from tetsuban.pipeline.inputs import model_pixels
from tetsuban.pipeline.spec import Pipeline, default_pipeline
from tetsuban.runtime import open_session

RESULTS = Path(__file__).resolve().parent / "results" / "embed.md"
BATCH = 32
CORES = os.cpu_count() or 1


def datasets_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    return Path(os.environ.get("TETSUBAN_DATASETS", default))


def image_sets(emoji: int, photos: int, work: Path) -> dict[str, list[Path]]:
    """Emoji (64 px PNG) as they are; photos (300-1000 px JPEG/PNG) copied under new names up to ``photos``."""
    data = datasets_dir()
    originals = sorted((data / "photos").iterdir())
    copies = []
    for i in range(photos):
        source = originals[i % len(originals)]
        target = work / f"{i:04d}-{source.name}"
        shutil.copy(source, target)
        copies.append(target)
    return {
        f"emoji-google, {emoji} PNG 64 px": sorted((data / "emoji-google" / "64").glob("*.png"))[:emoji],
        f"photos, {photos} JPEG/PNG 300-1000 px": copies,
    }


def tetsuban_rate(backbone: ExportedBackbone, files: list[Path]) -> float:
    job = InferenceJob(backbone.path, default_pipeline().to_dict(), (EMBEDDING_NAME,))
    start = time.perf_counter()
    done = sum(len(batch) for batch in infer(job, list(enumerate(files)), CORES))
    return done / (time.perf_counter() - start)


# -- the ceiling: the graph on ready tensors --------------------------------------------------------------------

_CEILING: dict[str, object] = {}


def _ceiling_setup(model: str, threads: int) -> None:
    _CEILING["session"] = open_session(Path(model), threads)
    _CEILING["batch"] = np.random.default_rng(0).normal(size=(BATCH, 3, 224, 224)).astype(np.float32)


def _ceiling_work(batches: int) -> tuple[int, float]:
    """Run ``batches`` ready batches (after one warm-up); return images and seconds."""
    session, batch = _CEILING["session"], _CEILING["batch"]
    session.run([EMBEDDING_NAME], {INPUT_NAME: batch})  # type: ignore[attr-defined]
    start = time.perf_counter()
    for _ in range(batches):
        session.run([EMBEDDING_NAME], {INPUT_NAME: batch})  # type: ignore[attr-defined]
    return batches * BATCH, time.perf_counter() - start


def ceiling_rate(backbone: ExportedBackbone, images: int, processes: int, threads: int) -> float:
    """Images/s of ``processes`` sessions of ``threads`` threads each, running at once on ready tensors."""
    per_process = max(1, images // BATCH // processes)
    setup_args = (str(backbone.path), threads)
    results = list(ordered_map(_ceiling_work, [per_process] * processes, processes, (), _ceiling_setup, setup_args))
    return sum(n for n, _ in results) / max(seconds for _, seconds in results)


# -- decoding and preprocessing alone: the other half of the CPU budget ----------------------------------------

_PREP: dict[str, Pipeline] = {}


def _prep_setup() -> None:
    _PREP["pipeline"] = default_pipeline()


def _prep_work(files: list[Path]) -> tuple[int, float]:
    pipeline = _PREP["pipeline"]
    pipeline.finish(model_pixels(files[0], pipeline))  # warm-up, not timed
    start = time.perf_counter()
    for f in files:
        pipeline.finish(model_pixels(f, pipeline))
    return len(files), time.perf_counter() - start


def prep_rate(files: list[Path]) -> float:
    """Images/s of decode + preprocess alone, one process per core (what the model must share the cores with)."""
    shares = [files[i::CORES] for i in range(CORES)]
    results = list(ordered_map(_prep_work, shares, CORES, (), _prep_setup))
    return sum(n for n, _ in results) / max(seconds for _, seconds in results)


# -- the plain loop -----------------------------------------------------------------------------------------------


def plain_loop() -> Callable[[list[Path]], float]:
    import torch
    from PIL import Image
    from torchvision import transforms

    from tetsuban.backbones import build_torch

    torch.set_num_threads(CORES)
    model = build_torch("efficientnet_lite0")
    preprocess = transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ]
    )

    def run(files: list[Path]) -> float:
        start = time.perf_counter()
        with torch.no_grad():
            for i in range(0, len(files), BATCH):
                tensors = [preprocess(Image.open(f).convert("RGB")) for f in files[i : i + BATCH]]
                model(torch.stack(tensors))
        return len(files) / (time.perf_counter() - start)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--emoji", type=int, default=3786)
    parser.add_argument("--photos", type=int, default=512)
    parser.add_argument("--plain", type=int, default=512)
    args = parser.parse_args()
    backbone = export_backbone("efficientnet_lite0")
    plain = plain_loop()
    work = Path(tempfile.mkdtemp(prefix="embed-bench-"))
    try:
        sets = image_sets(args.emoji, args.photos, work)
        rows = []
        for name, files in sets.items():
            rates: dict[str, list[float]] = {}
            for _ in range(args.rounds):
                rates.setdefault("tetsuban", []).append(tetsuban_rate(backbone, files))
                rates.setdefault(f"ceiling, {CORES} processes x 1 thread", []).append(
                    ceiling_rate(backbone, len(files), CORES, 1)
                )
                rates.setdefault(f"ceiling, 1 process x {CORES} threads", []).append(
                    ceiling_rate(backbone, len(files), 1, CORES)
                )
                rates.setdefault("plain PIL + torchvision + torch loop", []).append(plain(files[: args.plain]))
                rates.setdefault(f"decode + preprocess alone, {CORES} processes", []).append(prep_rate(files))
            medians = {k: statistics.median(v) for k, v in rates.items()}
            print(name, {k: round(v, 1) for k, v in medians.items()})
            rows.append((name, medians))
        write_table(rows, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_table(rows: list[tuple[str, dict[str, float]]], args: argparse.Namespace) -> None:
    import onnxruntime
    import torch

    lines = [
        "# Embedding speed",
        "",
        f"`python bench/embed_speed.py --rounds {args.rounds} --emoji {args.emoji} --photos {args.photos} "
        f"--plain {args.plain}` on "
        f"{datetime.now(UTC):%Y-%m-%d}: {CORES} cores, Python {platform.python_version()}, ONNX Runtime "
        f"{onnxruntime.__version__}, torch {torch.__version__}. EfficientNet-Lite0 at 224 px, batches of {BATCH}; "
        f"median images/s of {args.rounds} interleaved rounds. tetsuban's time includes starting its worker "
        "processes and sessions; the ceiling's does not.",
        "",
        "| images | way | images/s | of the ceiling | against the plain loop |",
        "|---|---|---:|---:|---:|",
    ]
    notes = []
    for name, medians in rows:
        ceiling = max(v for k, v in medians.items() if k.startswith("ceiling"))
        plain = medians["plain PIL + torchvision + torch loop"]
        for way, rate in medians.items():
            compared = "| | |" if way.startswith("decode") else f"| {rate / ceiling:.0%} | {rate / plain:.2f}x |"
            lines.append(f"| {name} | {way} | {rate:,.1f} {compared}")
        prep = next(v for k, v in medians.items() if k.startswith("decode + preprocess"))
        shared = 1.0 / (1.0 / ceiling + 1.0 / prep)
        notes.append(
            f"- {name}: decoding and preprocessing alone run at {prep:,.0f} images/s; the model and the decoding "
            f"taking turns on the same cores would give {shared:,.1f} images/s, and tetsuban reaches "
            f"{medians['tetsuban'] / shared:.0%} of that."
        )
    lines += [
        "",
        "What limits tetsuban is the CPU that decoding needs, on the same two cores as the model:",
        *notes,
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
