"""Shared fixtures: the real datasets, a fresh project, and hostile files made on the spot."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from tests.postgres import PostgresServer, start_postgres, stop_postgres
from tetsuban import Project


def _default_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_as_from_a_terminal(command: list[str]) -> subprocess.Popen[str]:
    """Start ``command`` in its own process group, with Ctrl-C (SIGINT) meaning what it means at a terminal: a
    runner started in the background of a script (`cmd &`) ignores SIGINT, and its children would inherit that."""
    return subprocess.Popen(
        command,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_ctrl_c,
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files that hold a slow test run first: `make test` runs two workers, and a long file started last keeps one
    of them busy while the other has nothing left. A file's tests stay together (its module fixtures build once)."""
    heavy = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in heavy)


SHARED_SCOPES = ("tests/finetune/",)
"""Folders whose files go to one pytest-xdist worker together, because they share a session fixture that costs a
minute to build (the fine-tuned project): split over two workers, each would build it."""


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """With `--dist loadfile` (make test), a file is the unit of work, except that each folder of
    :data:`SHARED_SCOPES` is one unit."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FilesAndSharedFolders(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope: str = super()._split_scope(nodeid)
            return next((folder for folder in SHARED_SCOPES if scope.startswith(folder)), scope)

    return FilesAndSharedFolders(config, log)


# No per-example deadline: a loaded CI machine must not turn a slow first call into a failure.
settings.register_profile("tetsuban", deadline=None)
settings.load_profile("tetsuban")

REPO = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path:
    """The folder of real datasets: $TETSUBAN_DATASETS, else ../shared/datasets beside the checkout."""
    configured = os.environ.get("TETSUBAN_DATASETS")
    path = Path(configured) if configured else REPO.parent / "shared" / "datasets"
    if not (path / "emoji-google" / "64").is_dir():
        pytest.exit(
            f"The real test datasets are not at {path}. Run 'make test', which finds or fetches them, "
            "or set TETSUBAN_DATASETS.",
            returncode=4,
        )
    return path


def _shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache folder that every pytest-xdist worker of this run shares, in the parent of their temp folders."""
    return tmp_path_factory.getbasetemp().parent / "tetsuban-cache"


def _export_default_backbone_once(cache: Path) -> None:
    """Export the default backbone into ``cache`` unless a worker has (30 s of CPU each on this machine): the first
    worker exports it while the others wait on the lock, then find the graph there."""
    import fcntl

    from tetsuban.backbones.onnx_export import export_backbone
    from tetsuban.config import ModelConfig

    with (cache / "export.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        export_backbone(ModelConfig().backbone, cache=cache)


@pytest.fixture(scope="session", autouse=True)
def tetsuban_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache of this test session (exported backbones), so that tests never read or fill the user's own.
    ``TETSUBAN_TEST_CACHE`` names a folder to keep it in across sessions instead: `make mutation` runs a test
    session per change, and exporting the backbone again for each (its graph is cached by the weights' hash, so
    a kept one is the same file) took most of their time."""
    kept = os.environ.get("TETSUBAN_TEST_CACHE")
    in_worker = bool(os.environ.get("PYTEST_XDIST_WORKER"))
    if kept:
        path = Path(kept)
    else:
        path = _shared_cache(tmp_path_factory) if in_worker else tmp_path_factory.mktemp("tetsuban-cache")
    path.mkdir(parents=True, exist_ok=True)
    if in_worker:
        _export_default_backbone_once(path)
    before = os.environ.get("TETSUBAN_CACHE")
    os.environ["TETSUBAN_CACHE"] = str(path)
    yield path
    if before is None:
        os.environ.pop("TETSUBAN_CACHE", None)
    else:
        os.environ["TETSUBAN_CACHE"] = before


@pytest.fixture(scope="session")
def datasets() -> Path:
    return datasets_dir()


@pytest.fixture(scope="session")
def emoji_dir(datasets: Path) -> Path:
    return datasets / "emoji-google" / "64"


@pytest.fixture(scope="session")
def photos_dir(datasets: Path) -> Path:
    return datasets / "photos"


@pytest.fixture(scope="session")
def fashion_dir(datasets: Path) -> Path:
    return datasets / "fashion-mnist"


@pytest.fixture()
def project(tmp_path: Path) -> Iterator[Project]:
    with Project.init(tmp_path / "project") as opened:
        yield opened


FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@pytest.fixture(scope="session")
def fashion_pixels(fashion_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The first 3,000 fashion-mnist test images as (3000, 784) float32 in [0, 1], and their class names: real data
    as features, no model needed."""
    from tetsuban.ingest.idx import read_idx

    x = read_idx(fashion_dir / "t10k-images-idx3-ubyte.gz")[:3000].reshape(3000, -1).astype(np.float32) / 255.0
    y = np.array([FASHION_CLASSES[int(c)] for c in read_idx(fashion_dir / "t10k-labels-idx1-ubyte.gz")[:3000]])
    return x, y


def pooled_7x7(pixels: np.ndarray) -> np.ndarray:
    """28 x 28 images (N, 784) or (N, 28, 28) mean-pooled to (N, 49): features small enough for fast fits."""
    return pixels.reshape(len(pixels), 7, 4, 7, 4).mean(axis=(2, 4)).reshape(len(pixels), 49)


def fashion_class_folder(label: int) -> str:
    """The folder (and so the class name on import) of fashion-mnist label ``label``: "T-shirt/top" has no slash."""
    return FASHION_CLASSES[label].replace("/", "-")


def write_fashion_images(fashion_dir: Path, out: Path, count: int, start: int = 0) -> Path:
    """Real fashion-mnist test images ``start .. start+count`` as PNG files in class folders (ImageFolder)."""
    from PIL import Image

    from tetsuban.ingest.idx import read_idx

    pixels = read_idx(fashion_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(fashion_dir / "t10k-labels-idx1-ubyte.gz")
    for index in range(start, start + count):
        folder = out / fashion_class_folder(int(labels[index]))
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[index]).save(folder / f"{index:05d}.png")
    return out


def write_unlabelled_fashion_images(fashion_dir: Path, out: Path, count: int, start: int = 0) -> Path:
    """Real fashion-mnist test images ``start .. start+count`` as PNG files in one folder: no class, no label."""
    from PIL import Image

    from tetsuban.ingest.idx import read_idx

    pixels = read_idx(fashion_dir / "t10k-images-idx3-ubyte.gz")
    out.mkdir(parents=True, exist_ok=True)
    for index in range(start, start + count):
        Image.fromarray(pixels[index]).save(out / f"u{index:05d}.png")
    return out


def embedded_project(
    fashion_dir: Path, root: Path, labelled: int, unlabelled: int, test: float, val: float, database: str = ""
) -> Path:
    """A project at ``root/project`` of ``labelled`` labelled then ``unlabelled`` unlabelled fashion-mnist images,
    split and embedded: what the loop and the app work on (its tables in the PostgreSQL ``database`` if named)."""
    write_fashion_images(fashion_dir, root / "labelled", labelled)
    write_unlabelled_fashion_images(fashion_dir, root / "unlabelled", unlabelled, start=labelled)
    with Project.init(root / "project", database=database) as project:
        project.import_folder(root / "labelled")
        project.import_folder(root / "unlabelled")
        project.split(test=test, val=val)
        project.embed()
    return root / "project"


def copied(files: list[Path], folder: Path) -> Path:
    """``folder`` (made) holding a copy of each of ``files`` under its own name."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in files:
        shutil.copy2(source, folder / source.name)
    return folder


@pytest.fixture()
def emoji_sample(tmp_path: Path, emoji_dir: Path) -> Path:
    """A writable copy of 40 real emoji in an ImageFolder layout: 20 in smileys/, 20 in people/."""
    root = tmp_path / "emoji-sample"
    files = sorted(emoji_dir.glob("1f6*.png"))[:20] + sorted(emoji_dir.glob("1f46*.png"))[:20]
    for index, source in enumerate(files):
        folder = root / ("smileys" if index < 20 else "people")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, folder / source.name)
    return root


@pytest.fixture()
def pets(tmp_path: Path, emoji_sample: Path) -> Path:
    """A project made through the command line (init, import) holding the 40-emoji sample; its folder."""
    from tests.run_cli import tetsuban

    folder = tmp_path / "pets"
    tetsuban("init", folder)
    tetsuban("import", folder, emoji_sample)
    return folder


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server per test process (tests/postgres.py), started when a test first needs it."""
    server = start_postgres()
    yield server
    stop_postgres(server)
