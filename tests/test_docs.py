"""The guide stays true: its links lead somewhere, and every command it shows is one tetsuban has."""

from __future__ import annotations

import re

import typer.main

from tests.conftest import REPO
from tetsuban.cli import app

PAGES = ("survey", "collect", "annotate", "preprocess", "train", "evaluate")


def _commands() -> set[str]:
    group = typer.main.get_command(app)
    names = set()
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        names.add(name)
        names.update(f"{name} {sub}" for sub in getattr(command, "commands", {}))
    return names


def test_the_readme_links_every_recipe_page_and_its_images_exist() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert {f"docs/{page}.md" for page in PAGES} <= set(links)
    for link in links:
        assert (REPO / link).exists(), link
    for page in PAGES:
        text = (REPO / "docs" / f"{page}.md").read_text(encoding="utf-8")
        for link in re.findall(r"\]\(([^)#:]+)\)", text):
            assert (REPO / "docs" / link).exists(), f"{page}.md links {link}"


def test_every_command_in_the_guide_exists() -> None:
    known = _commands()
    shown = set()
    for path in [REPO / "README.md", *(REPO / "docs" / f"{page}.md" for page in PAGES)]:
        for block in re.findall(r"```(?:\w*)\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S):
            for line in block.splitlines():
                found = re.match(r"^\$?\s*tetsuban ([a-z-]+)(?: ([a-z-]+))?", line.strip())
                if found:
                    name = found.group(1) if found.group(1) in known else None
                    pair = f"{found.group(1)} {found.group(2)}"
                    assert name is not None or pair in known, f"{path.name}: {line.strip()}"
                    shown.add(found.group(1))
    assert {"survey", "import", "queue", "serve", "train", "evaluate"} <= shown
