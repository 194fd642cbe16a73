"""``tetsuban export --format web``: a folder any static host can serve, where a browser classifies images dropped
on the page, chosen, or taken with the camera, offline: the standalone graph run by onnxruntime-web (WebAssembly,
one thread), which the export copies in beside the page. Nothing is fetched from elsewhere; the page's content
security policy allows its own files only.

The runtime's three files come from the npm package onnxruntime-web (``ORT_WEB_VERSION``), fetched once by
scripts/fetch-onnxruntime-web.sh (``make install`` does it into the virtual environment); ``TETSUBAN_ORT_WEB``
names another folder that holds them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from tetsuban.deploy.standalone import standalone_model
from tetsuban.errors import ProjectError
from tetsuban.learn.artifact import Artifact

ORT_WEB_VERSION = "1.31.1"
RUNTIME_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
PAGE_FILES = ("index.html", "app.js", "style.css")
MODEL_FILE = "model.onnx"
ABOUT_FILE = "model.json"


def runtime_folder() -> Path:
    """Where onnxruntime-web's files are: $TETSUBAN_ORT_WEB, else the virtual environment's share folder."""
    configured = os.environ.get("TETSUBAN_ORT_WEB")
    if configured:
        return Path(configured).expanduser()
    return Path(sys.prefix) / "share" / "tetsuban" / f"onnxruntime-web-{ORT_WEB_VERSION}"


def check_runtime(folder: Path) -> None:
    """A ProjectError saying how to fetch the runtime when a file of it is missing from ``folder``."""
    missing = [name for name in RUNTIME_FILES if not (folder / name).is_file()]
    if missing:
        raise ProjectError(
            f"The web export copies onnxruntime-web {ORT_WEB_VERSION} into the site, and {folder} lacks "
            f"{', '.join(missing)}. Fetch it with: scripts/fetch-onnxruntime-web.sh {folder} (needs npm), or set "
            "TETSUBAN_ORT_WEB to a folder that holds those files."
        )


def write_site(artifact: Artifact, folder: Path, inner: Any | None = None) -> Path:
    """Write the site into ``folder`` (which must not exist, or be empty), all at once: the page, the runtime,
    the standalone graph (``inner``: its int8 form) and ``model.json`` (the model's id and classes)."""
    runtime = runtime_folder()
    check_runtime(runtime)
    out = Path(folder).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ProjectError(f"{out} exists and is not an empty folder; the web export writes a new folder.")
    graph = standalone_model(artifact, inner).SerializeToString()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name in PAGE_FILES:
            (staging / name).write_bytes(resources.files("tetsuban.deploy").joinpath("site", name).read_bytes())
        for name in RUNTIME_FILES:
            shutil.copyfile(runtime / name, staging / name)
        (staging / MODEL_FILE).write_bytes(graph)
        about = {
            "id": artifact.card.id,
            "classes": list(artifact.classes),
            "runtime": f"onnxruntime-web {ORT_WEB_VERSION}",
        }
        (staging / ABOUT_FILE).write_text(json.dumps(about, indent=1), encoding="utf-8")
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
