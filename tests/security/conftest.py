"""What the attacks need: a project whose class names, file names and project name are markup, a real
`tetsuban serve`, and real chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, sync_playwright

from tests.server.conftest import csrf_of
from tests.serving import start_serve
from tetsuban import Project

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Names that become elements with script in them wherever they reach a page unescaped ('/' cannot be in a folder's
# name, so the closing tags are left out: a browser opens the element all the same); the third would be parsed as
# (broken) math by the reports' figures if it were not drawn as plain text.
CLASS_NAMES = ('<img src=x onerror=alert("class")>', "\"'><svg onload=alert('quoted')>", "plain $\\frac$ text")
FILE_NAME = "<svg onload=alert('file')>.png"
PROJECT_NAME = "</title><script>alert('project')</script>"
ADDED_CLASS = "<script>alert('added')</script>"
INJECTED = "img[src=x], img[onerror], svg[onload], script:not([src]):not([type='application/json'])"
"""Elements that the names above would make in a page that took them as markup."""


def hostile_project(fashion_dir: Path, root: Path, per_class: int = 12, unlabelled: int = 24) -> Path:
    """A split and embedded project at ``root/project`` named PROJECT_NAME: real fashion-mnist images in folders
    named CLASS_NAMES, one file in each named FILE_NAME, and ``unlabelled`` more."""
    from PIL import Image

    from tetsuban.ingest.idx import read_idx

    pixels = read_idx(fashion_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(fashion_dir / "t10k-labels-idx1-ubyte.gz")
    source = root / "images"
    taken = dict.fromkeys(range(len(CLASS_NAMES)), 0)
    for index in range(2000):
        kind = int(labels[index])
        if kind < len(CLASS_NAMES) and taken[kind] < per_class:
            folder = source / CLASS_NAMES[kind]
            folder.mkdir(parents=True, exist_ok=True)
            name = FILE_NAME if taken[kind] == 0 else f"{index:05d}.png"
            Image.fromarray(pixels[index]).save(folder / name, format="PNG")
            taken[kind] += 1
    loose = root / "loose"
    loose.mkdir()
    for index in range(2000, 2000 + unlabelled):
        Image.fromarray(pixels[index]).save(loose / f"{index:05d}.png")
    with Project.init(root / "project", name=PROJECT_NAME) as project:
        project.import_folder(source)
        project.import_folder(loose)
        project.split(test=0.3, val=0.2)
        project.embed()
    return root / "project"


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> Path:
    return hostile_project(fashion_dir, tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="session")
def served_project(hostile: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the hostile project for `served`: what the app writes there stays out of the tests that copy
    ``hostile`` (on a PostgreSQL project that would include the leases of the images it hands out)."""
    copy = tmp_path_factory.mktemp("served") / "project"
    shutil.copytree(hostile, copy)
    return copy


@pytest.fixture(scope="session")
def served(served_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`tetsuban serve` on a copy of the hostile project, with one more class added through the app by its reviewer."""
    process, url = start_serve(served_project, tmp_path_factory.mktemp("serve") / "serve.log")
    try:
        with httpx.Client(base_url=url) as client:
            token = csrf_of(client.get("/").text)
            added = client.post("/api/classes", json={"name": ADDED_CLASS}, headers={"X-CSRF-Token": token})
            assert added.status_code == 200, added.text
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture()
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        opened = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield opened
        opened.close()


@pytest.fixture()
def page(browser: Browser) -> Page:
    return browser.new_page(viewport={"width": 1200, "height": 820}, locale="en-GB")


def watch_dialogs(page: Page) -> list[str]:
    """The messages of every dialog the page opens from now on (each is dismissed)."""
    opened: list[str] = []

    def seen(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", seen)
    return opened
