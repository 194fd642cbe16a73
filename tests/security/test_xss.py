"""Attack 1, stored XSS: class names, file names and the project's name that are markup reach the labeling page,
the grid, survey.html and report.html as text, never as elements or script; and the app's pages forbid inline
script, so a hole elsewhere would still run nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.security.conftest import ADDED_CLASS, CLASS_NAMES, FILE_NAME, INJECTED, PROJECT_NAME, watch_dialogs
from tests.server.conftest import LOCAL
from tests.serving import wait_until
from tetsuban import Project
from tetsuban.server.app import create_app
from tetsuban.server.guard import CONTENT_SECURITY_POLICY


def test_the_pages_carry_the_names_escaped(hostile: Path) -> None:
    with TestClient(create_app(hostile), base_url=LOCAL) as client:
        for path in ("/", "/grid"):
            html = client.get(path).text
            for name in (*CLASS_NAMES[:2], PROJECT_NAME):
                assert name not in html, f"{name!r} reached {path} unescaped"
            assert "&lt;img src=x onerror=alert(&#34;class&#34;)&gt;" in html
            assert "&lt;/title&gt;&lt;script&gt;" in html


@pytest.mark.slow
def test_hostile_names_run_no_script_in_the_labeling_page_or_the_grid(served: str, page: Page) -> None:
    dialogs = watch_dialogs(page)
    answer = page.goto(served)
    assert answer is not None and answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    wait_until(page, "() => document.getElementById('image')?.dataset.id")
    buttons = page.locator("#classes button")
    expect(buttons.filter(has_text=ADDED_CLASS)).to_have_count(1)  # shown as the text it is
    expect(buttons.filter(has_text=CLASS_NAMES[0])).to_have_count(1)
    assert page.title().startswith(PROJECT_NAME)
    page.goto(served + "/grid")
    page.wait_for_selector("#grid figure")
    expect(page.locator("#classes button").filter(has_text=ADDED_CLASS)).to_have_count(1)
    page.mouse.move(400, 300)
    assert page.locator(INJECTED).count() == 0
    assert dialogs == []


@pytest.mark.slow
def test_the_content_security_policy_blocks_inline_script(served: str, page: Page) -> None:
    """Were a name ever to reach the page as a script element, the browser would refuse to run it."""
    page.goto(served)
    page.evaluate(
        """() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';
                   document.body.append(s); }"""
    )
    assert page.evaluate("window.ran") is None


def _open_report(page: Page, report: Path) -> list[str]:
    dialogs = watch_dialogs(page)
    page.goto(report.as_uri())
    page.mouse.move(300, 300)
    page.wait_for_timeout(300)
    assert page.locator(INJECTED).count() == 0
    assert re.search(
        r"default-src 'none'", page.locator("meta[http-equiv='Content-Security-Policy']").get_attribute("content") or ""
    )
    return dialogs


@pytest.mark.slow
def test_hostile_names_run_no_script_in_survey_html(hostile: Path, page: Page, tmp_path: Path) -> None:
    with Project.open(hostile) as project:
        project.survey()
        report = project.survey_report(tmp_path / "survey.html")
    html = report.read_text(encoding="utf-8")
    assert FILE_NAME not in html and CLASS_NAMES[0] not in html and PROJECT_NAME not in html
    assert _open_report(page, report) == []
    assert page.locator("h1").inner_text() == f"Survey of {PROJECT_NAME}"  # the name shown as the text it is


@pytest.mark.slow
def test_hostile_names_run_no_script_in_report_html(hostile: Path, page: Page, tmp_path: Path) -> None:
    with Project.open(hostile) as project:
        trained = project.train()
        _, report = project.evaluate(trained.artifact.folder, out=tmp_path / "report.html")
    html = report.read_text(encoding="utf-8")
    assert CLASS_NAMES[0] not in html and PROJECT_NAME not in html
    assert _open_report(page, report) == []
    assert page.get_by_text(CLASS_NAMES[1]).count() >= 1
