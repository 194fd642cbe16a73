"""scripts/install.py hands pip's settings to uv, and leaves the install to pip where it cannot."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from tests.conftest import REPO


def _install_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("install_script", REPO / "scripts" / "install.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pip_listing(tmp_path: Path, text: str) -> str:
    """What `pip config list` prints with a configuration file holding ``text`` (beside the machine's own files,
    which pip reads as well)."""
    path = tmp_path / "pip.conf"
    path.write_text(text, encoding="utf-8")
    command = [sys.executable, "-m", "pip", "config", "list"]
    listed = subprocess.run(command, env={"PIP_CONFIG_FILE": str(path)}, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    return listed.stdout


def test_where_packages_come_from_is_handed_to_uv(tmp_path: Path) -> None:
    script = _install_script()
    config = "[global]\nextra-index-url = file:///a/simple file:///b/simple\nfind-links = /wheels\ntimeout = 60\n"
    settings = script.parse_pip_settings(_pip_listing(tmp_path, config))
    assert settings["extra-index-url"][-2:] == ["file:///a/simple", "file:///b/simple"]
    assert settings["find-links"][-1:] == ["/wheels"] and settings["timeout"] == ["60"]
    chosen = {"extra-index-url": settings["extra-index-url"][-2:], "find-links": ["/wheels"], "timeout": ["60"]}
    assert script.uv_arguments(chosen) == [
        "--extra-index-url",
        "file:///a/simple",
        "--extra-index-url",
        "file:///b/simple",
        "--find-links",
        "/wheels",
    ]


def test_a_setting_uv_would_not_honour_leaves_the_install_to_pip() -> None:
    script = _install_script()
    assert script.uv_arguments({"no-index": ["true"], "find-links": ["/wheels"]}) is None
    assert script.uv_arguments({"trusted-host": ["mirror.local"]}) is None
    assert script.parse_pip_settings("global.index-url=not python\n") is None
