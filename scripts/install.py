"""Install the project (editable, with extras) into a virtual environment: with uv where it can be had, else pip.

uv unpacks and compiles to bytecode in parallel: on a 2-core machine it installs this project, torch's 5.5 GB
included, in 80 s where pip takes 265 s (2026-12-02). uv reads none of pip's configuration, so the settings that
say where packages come from (index, extra indexes, find-links, constraint files, certificate) are read from
`pip config list` and handed over; a setting we do not know how to hand over, or a failed uv, means pip does the
install as before. Either way everything is compiled to bytecode: these machines set PYTHONDONTWRITEBYTECODE=1, so a
module left uncompiled is compiled again by every process that imports it.

Usage: python scripts/install.py VENV EXTRAS   (EXTRAS as in pyproject.toml, comma-separated: "dev" or "dev,bench")
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"

# pip's settings that say where packages come from, and uv's option for each (multi-valued ones split on spaces).
_AS_OPTION = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
}
# pip's settings that change nothing about which files are installed.
_HARMLESS = {"cert", "default-timeout", "timeout", "disable-pip-version-check", "quiet", "progress-bar", "no-color"}


def pip_settings(python: Path) -> dict[str, list[str]] | None:
    """pip's configured settings (its files and PIP_* variables); None when pip cannot say."""
    listed = subprocess.run([str(python), "-m", "pip", "config", "list"], capture_output=True, text=True)
    return parse_pip_settings(listed.stdout) if listed.returncode == 0 else None


def parse_pip_settings(listing: str) -> dict[str, list[str]] | None:
    """The settings of a `pip config list` listing (``global.find-links='/opt/wheels'`` and the like) by name, each
    value split into its words; None when a line is not what pip prints."""
    settings: dict[str, list[str]] = {}
    for line in listing.splitlines():
        key, _, quoted = line.partition("=")
        try:
            value = ast.literal_eval(quoted)
        except (ValueError, SyntaxError):
            return None
        settings.setdefault(key.split(".", 1)[-1], []).extend(str(value).split())
    return settings


def uv_arguments(settings: dict[str, list[str]]) -> list[str] | None:
    """uv's options for pip's ``settings``; None when one of them has no counterpart here."""
    arguments: list[str] = []
    for name, values in settings.items():
        if name in _AS_OPTION:
            arguments += [part for value in values for part in (_AS_OPTION[name], value)]
        elif name not in _HARMLESS:
            return None
    return arguments


def uv_environment(settings: dict[str, list[str]]) -> dict[str, str]:
    """This environment, with pip's certificate file given to uv (which reads SSL_CERT_FILE)."""
    environment = dict(os.environ)
    if settings.get("cert"):
        environment["SSL_CERT_FILE"] = settings["cert"][0]
    return environment


def install_with_uv(python: Path, requirement: str) -> bool:
    """Install ``requirement`` with uv (itself installed into the environment by pip first); whether it did."""
    settings = pip_settings(python)
    arguments = None if settings is None else uv_arguments(settings)
    if settings is None or arguments is None:
        print("install: pip's settings have no uv counterpart here; installing with pip", file=sys.stderr)
        return False
    quiet = ["--quiet", "--disable-pip-version-check"]
    if subprocess.run([str(python), "-m", "pip", "install", *quiet, "-c", str(CONSTRAINTS), "uv"]).returncode != 0:
        return False
    command = [str(python.parent / "uv"), "pip", "install", "--quiet", "--python", str(python), "--compile-bytecode"]
    # pip takes the best release across all its indexes; uv, by default, only the first index that has the package
    command += ["--index-strategy", "unsafe-best-match", *arguments, "-c", str(CONSTRAINTS), "-e", requirement]
    if subprocess.run(command, cwd=ROOT, env=uv_environment(settings)).returncode == 0:
        return True
    print("install: uv failed (above); installing with pip", file=sys.stderr)
    return False


def install_with_pip(python: Path, requirement: str) -> None:
    command = [str(python), "-m", "pip", "install", "--quiet", "-c", str(CONSTRAINTS), "-e", requirement]
    subprocess.run(command, cwd=ROOT, check=True)


def main(venv: Path, extras: str) -> None:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirement = f".[{extras}]"
    if not install_with_uv(python, requirement):
        install_with_pip(python, requirement)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]).absolute(), sys.argv[2])
