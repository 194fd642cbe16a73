"""The command line, run as a user runs it: a real process, its output and exit code."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copied
from tests.run_cli import command_tree, is_group, tetsuban


def _summaries(help_text: str) -> dict[str, str]:
    """The first line of each entry of a help page's Commands list: name -> summary."""
    box = help_text.split("Commands:", 1)[1]
    return {m.group(1): m.group(2) for m in re.finditer(r"^  ([a-z][a-z-]*) +(\S.*?)\s*$", box, flags=re.M)}


def test_help_lists_every_command_with_a_summary() -> None:
    """Every command of the app (derived from it, not listed here), and every sub-command of a group, is on its help
    page with a summary of more than a few words."""
    tree = command_tree()
    groups = [name for name, command in tree.items() if is_group(command)]
    pages = {(): [name for name in tree if " " not in name]}
    pages.update({(group,): [name.split(" ")[1] for name in tree if name.startswith(f"{group} ")] for group in groups})
    assert len(pages[()]) >= 22 and groups
    for words, names in pages.items():
        summaries = _summaries(tetsuban(*words, "--help").stdout)
        assert names and set(names) <= set(summaries), (words, sorted(set(names) - set(summaries)))
        for name in names:
            assert len(summaries[name].split()) >= 3, (words, name, summaries[name])


def test_no_help_page_shows_a_value_after_a_flag_that_takes_none() -> None:
    """Flags (--reset, --yes, --help) are shown bare on every help page: "--reset <bool>" would ask for a value."""
    from typer.testing import CliRunner

    from tetsuban.cli import app

    runner = CliRunner()
    for words in [(), *(tuple(name.split(" ")) for name in command_tree())]:
        page = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "120"}).output
        assert "Usage:" in page and "<bool>" not in page, (words, page)
        assert re.search(r"^  --help +Show this message and exit\.$", page, flags=re.M), words


def test_the_recipe_from_init_to_export(tmp_path: Path, emoji_sample: Path, photos_dir: Path) -> None:
    pets = tmp_path / "pets"
    assert "Created project" in tetsuban("init", pets).stdout
    (emoji_sample / "smileys" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    imported = tetsuban("import", pets, emoji_sample)
    assert "40 added" in imported.stdout and "1 skipped" in imported.stdout
    assert "broken.png" in imported.stdout
    status = tetsuban("status", pets).stdout
    assert "40 images, 40 labelled" in status
    assert "smileys" in status and "broken.png" in status
    out = tmp_path / "labels.csv"
    tetsuban("labels", "export", pets, out)
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["path", "sha256", "label", "source", "author", "time", "split"]
    assert len(rows) == 40 and {r["label"] for r in rows} == {"people", "smileys"}
    assert all(r["source"] == "import" and len(r["sha256"]) == 64 and r["time"].endswith("+00:00") for r in rows)


def test_embed_train_predict(tmp_path: Path, emoji_sample: Path, pets: Path) -> None:
    first = tetsuban("embed", pets)
    assert "40 images: 0 were cached, 40 computed" in first.stdout
    assert "Embedding" in first.stderr  # the progress bar
    assert "40 were cached, 0 computed" in tetsuban("embed", pets).stdout
    trained = tetsuban("train", pets).stdout
    assert "on 40 labelled images (people 20, smileys 20)" in trained
    assert "5-fold cross-validation" in trained
    model = Path(trained.split("Model: ")[1].strip())
    assert model.parent == pets / "models" and (model / "model.onnx").is_file()
    out = tmp_path / "predictions.csv"
    predicted = tetsuban("predict", model, emoji_sample / "people", "-o", out, "--k", "2").stdout
    assert "20 predicted, 0 could not be read" in predicted
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20 and sum(r["label"] == "people" for r in rows) >= 18  # its own training images


def test_commands_that_need_splits_make_them_once_on_a_project_never_split_and_say_so(
    tmp_path: Path, pets: Path, emoji_dir: Path
) -> None:
    untouched = tmp_path / "untouched"
    shutil.copytree(pets, untouched)
    first = tetsuban("queue", pets, "--count", "3").stderr  # every image is labelled: the queue is empty
    assert "No splits yet, so tetsuban made them (test 0.2, val 0.1, seed 0" in first
    again = tetsuban("queue", pets, "--count", "3")
    assert "split" not in again.stdout + again.stderr
    tetsuban("import", pets, copied(sorted(emoji_dir.glob("1f9*.png"))[:2], tmp_path / "more"))
    assert "2 new image(s) got a split, with the shares in force." in tetsuban("queue", pets).stderr
    simulated = tetsuban(
        "simulate", untouched, "--strategies", "random", "--budget", "10", "--step", "10", "--seeds", "1"
    )  # scores on the test split it made
    assert "No splits yet, so tetsuban made them" in simulated.stderr and "simulation.html" in simulated.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("status", "{tmp}/nowhere"), "does not exist"),
        (("status", "{tmp}"), "is not a tetsuban project"),
        (("import", "{project}", "{tmp}/missing-folder"), "does not exist"),
        (("import", "{project}", "{tmp}/bad.csv"), "no path column"),
        (("init", "{project}"), "already a tetsuban project"),
        (("train", "{project}"), "No image is labelled yet"),
        (("predict", "{project}", "{tmp}"), "is not a model artifact"),
        (("predict", "{tmp}/m", "{tmp}"), "is not a model artifact"),
    ],
    ids=[
        "missing-project",
        "not-a-project",
        "missing-source",
        "csv-without-path",
        "init-twice",
        "train-unlabelled",
        "predict-with-a-project",
        "predict-missing-model",
    ],
)
def test_user_mistakes_print_one_line_and_exit_nonzero(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    project = tmp_path / "proj"
    tetsuban("init", project)
    (tmp_path / "bad.csv").write_text("name\nx.png\n", encoding="utf-8")
    result = tetsuban(*(a.format(tmp=tmp_path, project=project) for a in args), check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_piped_output_is_never_wrapped_or_cut_at_80_columns(tmp_path: Path) -> None:
    """Into a pipe (no terminal, no COLUMNS), a table row with a 150-character path is one line, the path whole."""
    path = tmp_path / ("deep-folder-" * 12) / "image.png"
    script = (
        "import sys; from pathlib import Path; from tetsuban import console; "
        "from tetsuban.active.label_issues import LabelIssue, LabelIssues, WrongLabels; "
        "issue = (7, Path(sys.argv[1]), LabelIssue(0, 'cat', 'dog', 0.1, 0.9)); "
        "console.show_label_issues(LabelIssues([issue], WrongLabels(10, 2, 0)), 5, 10)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    printed = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, env=env, check=True
    ).stdout
    rows = [line for line in printed.splitlines() if "image.png" in line]
    assert len(str(path)) > 150 and len(rows) == 1 and str(path) in rows[0] and "cat" in rows[0]
