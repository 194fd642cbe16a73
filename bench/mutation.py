"""Mutation testing: does each promise of the core modules fail a test when its code is broken?

mutmut (configured under [tool.mutmut] in pyproject.toml: the modules to change and the fast tests to run) makes
one small change at a time to learn/, active/, pipeline/, splits/ and server/state.py (a comparison flipped, a
constant moved, an argument dropped) and runs the tests that reach the changed function. A change that no test
notices "survives", and so does one that no test reaches ("no tests": listed with the survivors, since nothing
would notice it either). Each survivor is either killed by a new test or explained, by name or glob, in
bench/mutation_triage.toml (an equivalent change, a default no caller relies on, a message's wording).

A whole run over every module takes hours on two cores, so a run may be limited to mutants matching globs. Each
run's results replace, in bench/results/mutation-runs.json (kept in git, so that the next machine starts from
them), those of earlier runs for the mutants it covered; the report is written from all of them and lists the runs
it comes from. A module whose earlier results survive only as counts (the "carried" part of that file: the runs
before the file was kept, read off the report of the time, their survivors by name) is replaced by a run over the
whole module (glob MODULE.*) or, survivor by survivor, by runs of those named; never by other parts of it.

Writes bench/results/mutation.md: the counts per module and every survivor with its change and its explanation.
Exits 1 while a survivor has no explanation, so that `make mutation` keeps the habit.

Usage: python bench/mutation.py [--take | --report-only] [--remark TEXT] [MUTANT_GLOB ...]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "mutation.md"
TRIAGE = REPO / "bench" / "mutation_triage.toml"
RUNS = REPO / "bench" / "results" / "mutation-runs.json"
MUTMUT = Path(sys.executable).parent / "mutmut"
# Changes no test noticed: those a test ran against and passed, and those no test reached at all; each is listed
# with its change and needs an explanation or a test.
UNNOTICED = ("survived", "no tests")
_RESULT_LINE = re.compile(r"^\s+(\S+): (.+)$")


@dataclass(frozen=True)
class Mutant:
    """One change mutmut made: its name (module, function, number), what the tests made of it and, for a survivor,
    the changed line before and after."""

    name: str
    status: str
    change: str = ""

    @property
    def module(self) -> str:
        return module_of(self.name)


def run_mutmut(patterns: list[str]) -> float:
    """Run mutmut afresh (every mutant, or those matching ``patterns``); the seconds it took. The last run's
    mutants/ folder is removed first: mutmut's reuse of it after edits dropped and renumbered mutants."""
    shutil.rmtree(REPO / "mutants", ignore_errors=True)
    started = time.perf_counter()
    # One exported backbone for every change's test session (tests/conftest.py keeps it there).
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "TETSUBAN_TEST_CACHE": str(REPO / ".mutation-cache")}
    subprocess.run([str(MUTMUT), "run", *patterns], cwd=REPO, env=env, check=False)
    return time.perf_counter() - started


def read_results(patterns: list[str]) -> list[Mutant]:
    """The mutants of mutmut's last run that match ``patterns`` (all without), with the change of each survivor and
    of each change no test reached."""
    printed = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    found = [(m.group(1), m.group(2)) for m in map(_RESULT_LINE.match, printed.splitlines()) if m]
    return [
        Mutant(name, status, change_of(name) if status in UNNOTICED else "")
        for name, status in found
        if matches(name, patterns)
    ]


def matches(name: str, patterns: list[str]) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


@dataclass
class Saved:
    """What the runs so far found: each mutant's latest result by name, the runs, and the counts by module and
    status of modules known only from the report written before RUNS was kept (their survivors are in
    ``mutants``)."""

    mutants: dict[str, dict[str, str]]
    runs: list[str]
    carried: dict[str, dict[str, int]]

    def results(self) -> list[Mutant]:
        return [Mutant(name, m["status"], m["change"]) for name, m in sorted(self.mutants.items())]

    def write(self) -> None:
        saved = {"runs": self.runs, "carried": self.carried, "mutants": self.mutants}
        RUNS.write_text(json.dumps(saved, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def load_saved() -> Saved:
    """The saved results (nothing before the first run)."""
    if not RUNS.exists():
        return Saved({}, [], {})
    saved = json.loads(RUNS.read_text(encoding="utf-8"))
    return Saved(dict(saved["mutants"]), list(saved["runs"]), dict(saved.get("carried", {})))


def module_of(name: str) -> str:
    return name.rsplit(".", 1)[0]


def covers_module(pattern: str, module: str) -> bool:
    """Whether the glob takes in every mutant of the module (MODULE.* or a package's glob above it)."""
    return pattern.endswith(".*") and f"{module}.".startswith(pattern[:-1])


def partly_carried(patterns: list[str], saved: Saved) -> list[str]:
    """The globs that would replace part of a module known only by its counts (its counts could not be split),
    unless they name one mutant saved by name (a survivor of such a module)."""
    return [
        pattern
        for pattern in patterns
        for module in saved.carried
        if pattern.startswith(f"{module}.") and not covers_module(pattern, module) and pattern not in saved.mutants
    ]


def merge_run(patterns: list[str], mutants: list[Mutant], seconds: float | None) -> Saved:
    """The saved results after replacing those of earlier runs for the mutants this run covered, and the counts
    carried for the modules it covered whole (saved in RUNS)."""
    saved = load_saved()
    if patterns:
        kept = {name: m for name, m in saved.mutants.items() if not matches(name, patterns)}
        carried = {
            module: counts
            for module, counts in saved.carried.items()
            if not any(covers_module(pattern, module) for pattern in patterns)
        }
    else:
        kept, carried, saved.runs = {}, {}, []
    kept.update({m.name: {"status": m.status, "change": m.change} for m in mutants})
    took = f", {seconds / 60:.0f} min" if seconds is not None else ", results taken from mutmut's folder"
    chosen = " ".join(patterns) if len(patterns) <= 8 else f"{len(patterns)} mutants or globs by name"
    runs = [*saved.runs, f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {chosen or 'every mutant'}{took}"]
    merged = Saved(kept, runs, carried)
    merged.write()
    return merged


def change_of(name: str) -> str:
    """The changed line of a mutant, before and after, from ``mutmut show``."""
    diff = subprocess.run([str(MUTMUT), "show", name], cwd=REPO, capture_output=True, text=True, check=False).stdout
    removed = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return f"`{' '.join(removed)[:110]}` → `{' '.join(added)[:110]}`"


def load_triage() -> dict[str, str]:
    """Explanations by mutant name or glob."""
    if not TRIAGE.exists():
        return {}
    return dict(tomllib.loads(TRIAGE.read_text(encoding="utf-8")).get("explained", {}))


def explanation(name: str, triage: dict[str, str]) -> str | None:
    if name in triage:
        return triage[name]
    return next((why for pattern, why in triage.items() if fnmatch.fnmatchcase(name, pattern)), None)


def report(saved: Saved, triage: dict[str, str], remark: str = "") -> tuple[list[str], int]:
    """The markdown report and the number of survivors without an explanation."""
    mutants, runs = saved.results(), saved.runs
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for module, counts in saved.carried.items():
        by_module[module].update(counts)
    for mutant in mutants:
        by_module[mutant.module][mutant.status] += 1
    survivors = [m for m in mutants if m.status in UNNOTICED]
    untriaged = [m for m in survivors if explanation(m.name, triage) is None]
    statuses = ["killed", "survived", "timeout", "segfault", "no tests", "suspicious", "not checked"]
    lines = [
        "# Mutation testing: which broken promises the tests notice",
        "",
        f"`make mutation` (mutmut, bench/mutation.py): Python {platform.python_version()}, {os.cpu_count()} cores. "
        "The modules and the tests run against each change are listed under [tool.mutmut] in pyproject.toml; only "
        "lines those tests reach are changed. A timeout counts as noticed (the change made a test hang), and so does "
        "mutmut's segfault (the tests' process killed by a signal: the CPU limit's SIGKILL, or memory exhausted).",
        *(["", remark] if remark else []),
        "",
        "Runs (the latest result of each mutant counts):",
        "",
        *(f"- {run}" for run in runs),
        "",
        "| module | " + " | ".join(statuses) + " |",
        "|---|" + "---:|" * len(statuses),
    ]
    for module in sorted(by_module):
        lines.append(f"| {module} | " + " | ".join(str(by_module[module][s]) for s in statuses) + " |")
    total: Counter[str] = sum(by_module.values(), Counter())
    lines.append("| **all** | " + " | ".join(f"**{total[s]}**" for s in statuses) + " |")
    noticed = total["killed"] + total["timeout"] + total["segfault"]
    checked = noticed + sum(total[s] for s in UNNOTICED)
    if checked:
        lines += ["", f"The tests notice {noticed} of {checked} changes ({noticed / checked:.1%})."]
    lines += ["", f"## Survivors ({len(survivors)}; {len(untriaged)} without an explanation)", ""]
    if survivors:
        lines += ["| mutant | change | why it survives |", "|---|---|---|"]
        for mutant in survivors:
            why = explanation(mutant.name, triage) or "**not yet explained: kill it with a test or explain it**"
            lines.append(f"| `{mutant.name}` | {mutant.change} | {why} |")
    return lines, len(untriaged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--take",
        action="store_true",
        help="Run nothing: take the results of mutmut's last run (one made by hand, say `mutmut run NAME`) for the "
        "mutants matching the globs into the saved results, and report.",
    )
    mode.add_argument("--report-only", action="store_true", help="Run and take nothing: report the saved results.")
    parser.add_argument("--remark", default="", help="A paragraph for the report: what the runs left out, and why.")
    parser.add_argument("patterns", nargs="*", help="Only the mutants whose names match these globs.")
    args = parser.parse_args()
    partial = partly_carried(args.patterns, load_saved())
    if partial:
        sys.exit(
            f"{', '.join(partial)}: only counts are saved for that module, which part of a run cannot replace. "
            "Run the whole module (MODULE.*), or its saved survivors by name."
        )
    if args.report_only:
        saved = load_saved()
    else:
        seconds = None if args.take else run_mutmut(args.patterns)
        saved = merge_run(args.patterns, read_results(args.patterns), seconds)
    lines, untriaged = report(saved, load_triage(), args.remark)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"Wrote {RESULTS}: {untriaged} survivor(s) without an explanation.")
    sys.exit(1 if untriaged else 0)


if __name__ == "__main__":
    main()
