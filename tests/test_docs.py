"""The guide stays true: its links lead somewhere, and every command it shows is one tetsuban has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import REPO
from tests.run_cli import command_tree, is_group

PAGES = ("survey", "collect", "annotate", "preprocess", "train", "evaluate")
_SHOWN = re.compile(r"^\$?\s*tetsuban ([a-z-]+)(?: ([a-z-]+))?(.*)$")


def _guides() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _options(command: Any) -> set[str]:
    """Every option spelling ``command`` takes (--k, -o, --help ...)."""
    names = {"--help"}
    for param in command.params:
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


def test_the_readme_links_every_recipe_page_and_its_images_exist() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert {f"docs/{page}.md" for page in PAGES} <= set(links)
    for link in links:
        assert (REPO / link).exists(), link
    for page in sorted((REPO / "docs").glob("*.md")):
        for link in re.findall(r"\]\(([^)#:]+)\)", page.read_text(encoding="utf-8")):
            assert (REPO / "docs" / link).exists(), f"{page.name} links {link}"


def test_every_command_in_the_guide_exists_with_the_options_it_shows() -> None:
    """Each ``tetsuban ...`` line in a code block of the README or docs/ names a command the app has (a group's
    sub-command where the first word is a group) and only options that command takes."""
    tree = command_tree()
    shown = set()
    for path in _guides():
        for block in re.findall(r"```(?:\w*)\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S):
            for line in (part for row in block.splitlines() for part in re.split(r";|&&", row)):
                found = _SHOWN.match(line.strip())
                if not found:
                    continue
                first, second, rest = found.groups()
                assert first in tree, f"{path.name}: {line.strip()}"
                words = f"{first} {second}" if is_group(tree[first]) else first
                assert words in tree, f"{path.name}: {line.strip()} ({first} has no sub-command {second})"
                if not is_group(tree[first]) and second is not None:
                    rest = f" {second}{rest}"
                command_part = rest.split("#", 1)[0].split("|", 1)[0]
                options = {m for m in re.findall(r"(?:^|\s)(--?[a-z][a-z0-9-]*)", command_part)}
                unknown = options - _options(tree[words])
                assert not unknown, f"{path.name}: {line.strip()} (tetsuban {words} has no {sorted(unknown)})"
                shown.add(words)
    assert {"survey", "import", "queue", "serve", "train", "evaluate", "labels export"} <= shown
