"""Does the standalone graph predict what `tetsuban predict` predicts, and what does int8 cost? On every dataset
of ../shared/datasets, through real projects:
- emoji-google: the 9 Unicode categories, 20% of the near-duplicate groups as the test set (as bench/active_sim.py);
- fashion-mnist: 12,000 training images drawn at random, 2,000 of them the test set;
- faces-lfw-subset: its 200 25x25 crops, face or not, 30% as the test set;
- photos: the 13 photographs (no labels), through the emoji model.
Each project's probe is exported twice (float and `--quantize int8`); on the test images both run as a client
without tetsuban would (full decode, one image at a time), against the model run by `tetsuban predict`:
top-1 agreement, the largest probability difference, test accuracy, file size and time per image (float and
int8 alternated image by image on one thread, medians). int8's weights side by side: the product's 7 bits against
8, each graph run with ONNX Runtime's fused int8 kernels (what a client gets) and node by node (the graph's own
arithmetic, which CPUs with VNNI and the browser's runtime compute). Writes bench/results/export.md.

Usage: python bench/export.py
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from active_sim import emoji_project, fashion_project
from PIL import Image
from probe_accuracy import datasets_dir

from tetsuban import Project
from tetsuban.commands import export_folder, training_files
from tetsuban.deploy.agreement import GraphAgreement, graph_agreement
from tetsuban.deploy.preprocess_graph import IMAGE_INPUT
from tetsuban.deploy.quantize import quantized_graph
from tetsuban.deploy.standalone import LABELS_NAME, write_standalone
from tetsuban.imaging.decode import decode
from tetsuban.learn.artifact import Artifact
from tetsuban.learn.predict import predict_files
from tetsuban.runtime import open_session

RESULTS = Path(__file__).resolve().parent / "results" / "export.md"
TIMED_IMAGES = 100


@dataclass(frozen=True)
class Row:
    dataset: str
    images: int
    float_agreement: GraphAgreement
    int8_agreement: GraphAgreement
    accuracy: tuple[float, float, float] | None  # predict, float graph, int8 graph
    megabytes: tuple[float, float]
    milliseconds: tuple[float, float]
    weights: dict[tuple[int, bool], Kernels]  # (weight bits, fused kernels) -> what that int8 graph gave


@dataclass(frozen=True)
class Kernels:
    """An int8 graph run one way: its agreement with predict and its test accuracy (None without labels)."""

    agreement: GraphAgreement
    accuracy: float | None


def faces_project(work: Path) -> Project:
    crops = np.load(datasets_dir() / "faces-lfw-subset" / "lfw_subset.npy")
    for index, crop in enumerate(crops):
        folder = work / "faces-png" / ("face" if index < 100 else "not-face")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(np.rint(crop * 255), 0, 255).astype(np.uint8)).save(folder / f"{index:03d}.png")
    project = Project.init(work / "faces")
    project.import_folder(work / "faces-png")
    project.split(test=0.3, val=0.0)
    return project


def test_files(project: Project) -> tuple[list[Path], list[str]]:
    labels, splits = project.labelled(), project.splits()
    records = [r for r in project.images() if splits.get(r.id) == "test" and r.id in labels]
    return [project.image_path(r) for r in records], [labels[r.id] for r in records]


def graph_labels(graph: Path, files: list[Path], fused: bool = True) -> list[str]:
    session = open_session(graph, fused=fused)
    return [str(session.run([LABELS_NAME], {IMAGE_INPUT: decode(f)[None]})[0][0]) for f in files]


def accuracies(model: Artifact, graphs: tuple[Path, Path], files: list[Path], truth: list[str]) -> tuple[float, ...]:
    predicted = [p.top[0][0] for p in predict_files(model, files, k=1, workers=1)]
    runs = [predicted, *(graph_labels(g, files) for g in graphs)]
    return tuple(float(np.mean([a == b for a, b in zip(run, truth, strict=True)])) for run in runs)


def milliseconds(graphs: tuple[Path, Path], files: list[Path]) -> tuple[float, float]:
    """Median time of one image through each graph, the two alternated image by image (decoded beforehand)."""
    sessions = [open_session(g) for g in graphs]
    pixels = [decode(f)[None] for f in files[:TIMED_IMAGES]]
    times: list[list[float]] = [[], []]
    for image in [pixels[0], *pixels]:  # the first image once more, to warm both up
        for which, session in enumerate(sessions):
            started = time.perf_counter()
            session.run([LABELS_NAME], {IMAGE_INPUT: image})
            times[which].append((time.perf_counter() - started) * 1000)
    return float(np.median(times[0][1:])), float(np.median(times[1][1:]))


def kernels(model: Artifact, graph: Path, files: list[Path], truth: list[str] | None, fused: bool) -> Kernels:
    agreement = graph_agreement(model, graph, files, fused=fused)
    if truth is None:
        return Kernels(agreement, None)
    labels = graph_labels(graph, files, fused)
    return Kernels(agreement, float(np.mean([a == b for a, b in zip(labels, truth, strict=True)])))


def measure(name: str, project: Project, model: Artifact, files: list[Path], truth: list[str] | None) -> Row:
    out = Path(tempfile.mkdtemp(prefix=f"export-{name}-"))
    graphs = (out / "float.onnx", out / "int8.onnx")
    export_folder(model.folder, "onnx-standalone", graphs[0])
    export_folder(model.folder, "onnx-standalone", graphs[1], "int8")
    full = write_standalone(model, out / "int8-8bit.onnx", quantized_graph(model, training_files(project.workspace), 8))
    weights = {
        (bits, fused): kernels(model, graph, files, truth, fused)
        for bits, graph in ((7, graphs[1]), (8, full))
        for fused in (True, False)
    }
    row = Row(
        name,
        len(files),
        graph_agreement(model, graphs[0], files),
        weights[(7, True)].agreement,  # the shipped int8 graph, as a client runs it: measured once
        accuracies(model, graphs, files, truth) if truth is not None else None,
        (graphs[0].stat().st_size / 1e6, graphs[1].stat().st_size / 1e6),
        milliseconds(graphs, files),
        weights,
    )
    print(row, flush=True)
    return row


def main() -> None:
    rows = []
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        work = Path(tmp)
        emoji = emoji_project(work)
        emoji_model = emoji.train().artifact
        rows.append(measure("emoji-google", emoji, emoji_model, *test_files(emoji)))
        photos = sorted((datasets_dir() / "photos").iterdir())
        rows.append(measure("photos (emoji model)", emoji, emoji_model, photos, None))
        emoji.close()
        for name, make in (("fashion-mnist", lambda w: fashion_project(w, rng)), ("faces-lfw-subset", faces_project)):
            project = make(work)
            rows.append(measure(name, project, project.train().artifact, *test_files(project)))
            project.close()
    write_table(rows)


def write_table(rows: list[Row]) -> None:
    lines = [
        "# Export: the standalone graph against `tetsuban predict`, float and int8",
        "",
        f"`python bench/export.py` on {datetime.now(UTC):%Y-%m-%d}: Python {platform.python_version()}, "
        f"{sys.platform}, 2 CPU cores, no GPU. Each dataset's probe (the default recipe) exported with "
        "`tetsuban export --format onnx-standalone` and with `--quantize int8` too; both graphs run on the test "
        "images as a client without tetsuban runs them (each file fully decoded, one at a time, on one thread). "
        "Agreement: the share of images whose most probable class is the one `tetsuban predict` gives; near "
        "ties: images where it is predict's runner-up and predict's two most probable are within 0.03. Largest "
        "difference: of any class's probability, against predict. Time: median per image over "
        f"{TIMED_IMAGES} test images, float and int8 alternated.",
        "",
        "| dataset | images | float: agreement | near ties | largest difference | int8: agreement | largest "
        "difference | test accuracy: predict / float / int8 | MB: float / int8 | ms per image: float / int8 |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for row in rows:
        f, q = row.float_agreement, row.int8_agreement
        accuracy = "-" if row.accuracy is None else " / ".join(f"{a:.3f}" for a in row.accuracy)
        lines.append(
            f"| {row.dataset} | {row.images} | {f.share:.1%} | {f.near_ties} | {f.largest_difference:.4f} | "
            f"{q.share:.1%} | {q.largest_difference:.4f} | {accuracy} | {row.megabytes[0]:.1f} / "
            f"{row.megabytes[1]:.1f} | {row.milliseconds[0]:.1f} / {row.milliseconds[1]:.1f} |"
        )
    lines += [
        "",
        "int8's weights, 7 bits (the product's) against 8: agreement with predict (largest difference) and test "
        "accuracy, each graph run with ONNX Runtime's fused int8 kernels on this CPU and node by node.",
        "",
        "| dataset | weights | fused kernels: agreement | largest difference | test accuracy | node by node: "
        "agreement | largest difference | test accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        for bits in (7, 8):
            cells = []
            for fused in (True, False):
                k = row.weights[(bits, fused)]
                accuracy = "-" if k.accuracy is None else f"{k.accuracy:.3f}"
                cells.append(f"{k.agreement.share:.1%} | {k.agreement.largest_difference:.4f} | {accuracy}")
            lines.append(f"| {row.dataset} | {bits} bits | {cells[0]} | {cells[1]} |")
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
