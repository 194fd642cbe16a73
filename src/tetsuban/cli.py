"""The command line: each command is a thin wrapper over one library function."""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from tetsuban.active.registry import DEFAULT_STRATEGY, STRATEGIES, strategy_named
from tetsuban.backbones.embedder import EmbedReport
from tetsuban.config import pipeline_toml
from tetsuban.errors import ConfigError, TetsubanError
from tetsuban.finetune.run import Step, StepFn
from tetsuban.ingest.engine import ImportReport
from tetsuban.learn.predict import predict as predict_images
from tetsuban.learn.train import TrainReport
from tetsuban.params import check_int
from tetsuban.progress import ProgressFn
from tetsuban.project import Project
from tetsuban.props import read_values_csv
from tetsuban.reports.simulation_report import reach_table
from tetsuban.status import ProjectStatus
from tetsuban.survey.compute import SurveyReport
from tetsuban.survey.table import Row

app = typer.Typer(
    help="tetsuban: from a folder of images to a trained, honestly evaluated image classifier.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
labels_app = typer.Typer(help="Labels: export them.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")
props_app = typer.Typer(help="The property sheet: fields that matter for your problem.", no_args_is_help=True)
app.add_typer(props_app, name="props")
users_app = typer.Typer(help="Who may log in to the labeling app, and with which role.", no_args_is_help=True)
app.add_typer(users_app, name="users")
pipeline_app = typer.Typer(help="The preprocessing and augmentation pipeline: show it.", no_args_is_help=True)
app.add_typer(pipeline_app, name="pipeline")

out = Console()
err = Console(stderr=True)

ProjectArg = Annotated[Path, typer.Argument(help="The project folder.")]


@app.command()
def init(
    project: ProjectArg,
    name: Annotated[str | None, typer.Option(help="Project name (default: the folder's name).")] = None,
) -> None:
    """Create a project: a folder with tetsuban.toml and the project database."""
    with Project.init(project, name) as created:
        out.print(f"Created project [bold]{created.config.name}[/] in {created.root}")


@app.command("import")
def import_(
    project: ProjectArg,
    source: Annotated[Path, typer.Argument(help="A folder, image, CSV, zip/tar archive or IDX images file.")],
    labels: Annotated[Path | None, typer.Option(help="IDX labels file that goes with an IDX images file.")] = None,
    copy: Annotated[
        bool, typer.Option("--copy", help="Copy files into the project instead of referencing them.")
    ] = False,
    folder_labels: Annotated[bool, typer.Option(help="Sub-folders name the classes (ImageFolder layout).")] = True,
    class_names: Annotated[str | None, typer.Option(help="Comma-separated class names for IDX label values.")] = None,
) -> None:
    """Import images from folders, CSV files (paths or URLs), archives or IDX files; bad files are skipped."""
    names = None if class_names is None else [n.strip() for n in class_names.split(",")]
    try:
        with Project.open(project) as opened, _progress(f"Importing {source}") as progress:
            report = opened.import_path(source, labels, copy, folder_labels, names, progress)
    except KeyboardInterrupt:
        err.print("interrupted: every batch committed so far is kept; run the same import again to complete it.")
        raise typer.Exit(130) from None
    _print_report(report)


@app.command()
def status(
    project: ProjectArg,
    skipped: Annotated[int, typer.Option(help="How many skipped files to list.")] = 20,
) -> None:
    """Show images, labels per class, recent imports, skipped files with reasons, and files that changed."""
    with Project.open(project) as opened:
        _print_status(opened.status(), skipped)


@pipeline_app.command("show")
def pipeline_show(project: ProjectArg) -> None:
    """Print the pipeline of tetsuban.toml, resolved with defaults and fitted on the project's images."""
    with Project.open(project) as opened:
        pipeline = opened.pipeline()
    out.print(pipeline_toml(pipeline), markup=False, highlight=False, soft_wrap=True)
    out.print(f"# preprocess hash: {pipeline.preprocess_hash()}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def preview(
    project: ProjectArg,
    n: Annotated[int, typer.Option("--n", help="How many images (rows).")] = 32,
    output: Annotated[Path, typer.Option("--output", "-o", help="The PNG to write.")] = Path("preview.png"),
    augmented: Annotated[int, typer.Option(help="Augmented versions per image.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed for choosing images and augmentations.")] = 0,
) -> None:
    """Write a contact sheet: originals beside augmented versions, to spot meaningless augmentations."""
    with Project.open(project) as opened:
        path = opened.preview(output, n, augmented, seed)
    out.print(f"Wrote {path}: each row one image, preprocessed, then {augmented} augmented versions.", soft_wrap=True)


@app.command()
def survey(
    project: ProjectArg,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write the whole table to this CSV.")] = None,
    parquet: Annotated[Path | None, typer.Option(help="Also write the whole table to this Parquet file.")] = None,
    html: Annotated[Path | None, typer.Option(help="Where the report goes (default: <project>/survey.html).")] = None,
) -> None:
    """Measure every image once (cached): size, brightness, contrast, colour, sharpness, tilt, faces, hash;
    write the survey.html report."""
    with Project.open(project) as opened:
        with _progress_bars("Surveying images", "Comparing colour pairs") as (surveying, comparing):
            report = opened.survey(surveying, comparing)
        rows = opened.survey_table()
        tables = [p for p in (csv_out, parquet) if p is not None]
        for table in tables:
            opened.export_survey(table)
        page = opened.survey_report(html)
    _print_survey(report, rows)
    for table in tables:
        out.print(f"Wrote {len(rows):,} rows to {table}", markup=False, highlight=False, soft_wrap=True)
    out.print(f"Report: {page}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def split(
    project: ProjectArg,
    test: Annotated[float, typer.Option(help="Share of images for the test split.")] = 0.2,
    val: Annotated[float, typer.Option(help="Share of images for the validation split.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed for the random order of groups.")] = 0,
    reset: Annotated[bool, typer.Option("--reset", help="Clear every split first, the test split too.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before a reset.")] = False,
    by: Annotated[str | None, typer.Option(help="Also balance the shares within each value of this property.")] = None,
) -> None:
    """Assign train / val / test, stratified by label; images with a split keep it (the test set is frozen)."""
    with Project.open(project) as opened:
        if reset:
            if not yes and not typer.confirm(
                "Reset clears every split, the test split too, so test images may end up in training. Go on?"
            ):
                raise typer.Exit(1)
            event = opened.reset_splits()
            out.print(f"Reset: {event.images:,} images lost their split (recorded as event {event.id}).")
        event = opened.split(test, val, seed, by=by)
        counts = Counter(opened.splits().values())
        unsurveyed = sum(row["phash"] is None for row in opened.survey_table())
    if unsurveyed:
        err.print(
            f"note: {unsurveyed:,} image(s) are not surveyed, so their near-duplicates could not be kept together. "
            "Run tetsuban survey before splitting (or split --reset afterwards).",
            soft_wrap=True,
        )
    out.print(
        f"{event.images:,} images newly assigned. Now: "
        + ", ".join(f"{name} {counts.get(name, 0):,}" for name in ("train", "val", "test")),
        soft_wrap=True,
    )


@app.command()
def doctor(
    project: ProjectArg,
    model: Annotated[
        Path | None, typer.Option(help="Also check this model (models/<id>) on trivial cases: overfit, shuffle, agree.")
    ] = None,
) -> None:
    """Check what would make an evaluation lie: changed files, leakage across splits, imbalance, thin test sets."""
    with Project.open(project) as opened:
        if model is not None and not model.is_absolute() and not model.exists():
            model = opened.root / model  # models/<id>, as the issue writes it, relative to the project
        findings = opened.doctor(model)
    colours = {"pass": "green", "warn": "yellow", "fail": "red"}
    for f in findings:
        out.print(f"[bold {colours[f.status]}]{f.status.upper():4}[/] {f.check}: ", end="")
        out.print(f.message, markup=False, highlight=False, soft_wrap=True)
        if f.advice:
            out.print(f"     -> {f.advice}", markup=False, highlight=False, soft_wrap=True)


BackboneOpt = Annotated[
    str | None, typer.Option(help="A backbone other than tetsuban.toml's [model]: a registered or timm name.")
]
WeightsOpt = Annotated[str | None, typer.Option(help="A state-dict file with the backbone's weights.")]


@app.command()
def embed(project: ProjectArg, backbone: BackboneOpt = None, weights: WeightsOpt = None) -> None:
    """Compute and cache the embedding of every image; images already cached cost nothing."""
    try:
        with Project.open(project) as opened, _progress("Embedding") as progress:
            report = opened.using_model(backbone, weights).embed(progress)
    except KeyboardInterrupt:
        err.print("interrupted: the embeddings computed so far are kept; run embed again to complete them.")
        raise typer.Exit(130) from None
    _print_embed(report)


@app.command()
def train(
    project: ProjectArg,
    c: Annotated[float | None, typer.Option("--c", help="Inverse regularization strength (default 0.1).")] = None,
    search_c: Annotated[
        bool, typer.Option("--search-c", help="Choose C from a small grid by cross-validation.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed for the validation folds.")] = 0,
    backbone: BackboneOpt = None,
    weights: WeightsOpt = None,
    head: Annotated[
        str,
        typer.Option(help="logistic (the probe), svm (a linear SVM; its support vectors go in the report) or knn."),
    ] = "logistic",
    finetune: Annotated[
        bool,
        typer.Option(
            "--finetune",
            help="Fine-tune the whole backbone (torch) instead of a probe on its embeddings: slower, often better. "
            "A killed run resumes when started again.",
        ),
    ] = False,
    epochs: Annotated[
        int | None,
        typer.Option(help="With --finetune: cap the whole-network stage at this many epochs (default: by data size)."),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="With --finetune: cuda or cpu (default: cuda when there is one).")
    ] = None,
) -> None:
    """Train a linear probe on the labelled images' embeddings, or fine-tune the backbone (--finetune); writes the
    model to <project>/models/<id>/."""
    if not finetune and (epochs is not None or device is not None):
        raise ConfigError("--epochs and --device are for --finetune.")
    if finetune and (c is not None or search_c or head != "logistic"):
        raise ConfigError("--finetune trains its own linear classifier; --c, --search-c and --head are for probes.")
    if finetune:
        try:
            with Project.open(project) as opened, _finetune_progress() as on_step:
                report = opened.using_model(backbone, weights).finetune(seed, epochs, device, on_step)
        except KeyboardInterrupt:
            err.print("Interrupted. Every finished epoch is in the checkpoint: run the same command to resume.")
            sys.exit(130)
    else:
        with Project.open(project) as opened, _progress("Embedding labelled images") as progress:
            report = opened.using_model(backbone, weights).train(c, search_c, seed, progress, head)
    _print_train(report)


@app.command()
def queue(
    project: ProjectArg,
    count: Annotated[int, typer.Option(help="How many images to list.")] = 20,
    strategy: Annotated[str, typer.Option(help=f"Query strategy: {', '.join(STRATEGIES)}.")] = DEFAULT_STRATEGY,
    seed: Annotated[int, typer.Option(help="Seed for the strategy's random choices.")] = 0,
    holdout: Annotated[
        bool,
        typer.Option(
            "--holdout", help="List unlabelled val and test images instead, at random: they are never queued."
        ),
    ] = False,
) -> None:
    """List the unlabelled train images to label next (val and test images are never queued; --holdout lists
    those, at random, so that validation and the test set stay samples of the data)."""
    strategy_named(strategy)
    with Project.open(project) as opened:
        if holdout:
            ids = opened.holdout_to_label(count, seed)
        else:
            with _progress("Embedding") as progress:
                opened.embed(progress)
            ids = opened.next_to_label(count, strategy, seed)
        paths = {r.id: opened.image_path(r) for r in opened.images()}
    for image_id in ids:  # plain tab-separated lines, for scripts
        typer.echo(f"{image_id}\t{paths[image_id]}")


@app.command("label-issues")
def label_issues(
    project: ProjectArg,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
    folds: Annotated[int, typer.Option(help="Folds for the out-of-fold probabilities.")] = 5,
) -> None:
    """List the labels that look wrong, most doubtful first, each with the label the model suggests."""
    with Project.open(project) as opened:
        with _progress("Embedding") as progress:
            opened.embed(progress)
        issues = opened.label_issues(folds)
        paths = {r.id: opened.image_path(r) for r in opened.images()}
        labelled = len(opened.labelled())
    table = Table("image", "path", "label", "p(label)", "suggested", "p(suggested)")
    for image_id, issue in issues[:limit]:
        table.add_row(
            str(image_id),
            str(paths[image_id]),
            issue.given,
            f"{issue.given_probability:.3f}",
            issue.suggested,
            f"{issue.suggested_probability:.3f}",
        )
    out.print(table)
    out.print(f"{len(issues):,} of {labelled:,} labels look wrong (confident learning, {folds}-fold).")


@app.command()
def curve(
    project: ProjectArg,
    target: Annotated[float | None, typer.Option(help="An accuracy to estimate the labels needed for.")] = None,
) -> None:
    """Validation accuracy against training labels, a fitted power law, and what more labels would buy."""
    with Project.open(project) as opened:
        with _progress("Embedding") as progress:
            opened.embed(progress)
        found = opened.learning_curve()
    table = Table("train labels", "val accuracy", "fitted")
    for n, accuracy in zip(found.labels, found.accuracy, strict=True):
        table.add_row(f"{n:,}", f"{accuracy:.3f}", f"{float(found.fit.accuracy(n)):.3f}")
    out.print(table)
    low, mid, high = found.expected(2 * found.current)
    out.print(
        f"At {2 * found.current:,} labels (twice today's): {mid:.3f} expected, {low:.3f} to {high:.3f} "
        f"(10th to 90th percentile over {len(found.band_fits)} bootstrap fits; {found.validation_images} "
        f"validation images). Fitted ceiling {found.fit.ceiling:.3f}.",
        soft_wrap=True,
    )
    if target is not None:
        optimistic, fitted, pessimistic = found.labels_for(target)
        if fitted is None:
            out.print(f"The fitted curve levels off below {target:.3f}: more labels alone may not get there.")
        else:
            spread = f", {optimistic:,.0f} to {pessimistic:,.0f}" if optimistic and pessimistic else ""
            out.print(f"{target:.3f} needs about {fitted:,.0f} training labels{spread}.", soft_wrap=True)


@app.command()
def simulate(
    project: ProjectArg,
    strategies: Annotated[str, typer.Option(help="Comma-separated strategy names.")] = "hybrid,margin,random",
    budget: Annotated[int, typer.Option(help="Labels per run.")] = 2000,
    step: Annotated[int, typer.Option(help="Labels between retrains.")] = 50,
    seeds: Annotated[int, typer.Option(help="Runs per strategy.")] = 3,
    html: Annotated[
        Path | None, typer.Option(help="Where the report goes (default: <project>/simulation.html).")
    ] = None,
) -> None:
    """On a fully labelled project: hide the labels, run the labelling loop with each strategy, and report test
    accuracy against labels."""
    names = [name.strip() for name in strategies.split(",") if name.strip()]
    for name in names:
        strategy_named(name)  # a wrong name fails before any work
    with Project.open(project) as opened:
        with _progress("Embedding") as progress:
            opened.embed(progress)
        with _progress("Simulating runs") as progress:
            curves, page = opened.simulate(names, budget, step, seeds, html, progress)
    targets, table = reach_table(curves)
    summary = Table("strategy", *(f"labels to ≥ {t:.3f}" for t in targets))
    for name, row in table.items():
        summary.add_row(name, *(f"{n:,}" if n is not None else "never" for n in row))
    out.print(summary)
    out.print(f"Report: {page}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def serve(
    project: ProjectArg,
    host: Annotated[
        str, typer.Option(help="Address to bind: this machine only (127.0.0.1) unless users exist.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    strategy: Annotated[str, typer.Option(help=f"Query strategy: {', '.join(STRATEGIES)}.")] = DEFAULT_STRATEGY,
    retrain_every: Annotated[int, typer.Option(help="Labels between retrains of the model.")] = 20,
) -> None:
    """Start the labeling app in the browser, with the model in the loop."""
    from tetsuban.server.app import create_app, serve_app
    from tetsuban.server.binding import Binding, check_binding

    strategy_named(strategy)
    check_int("retrain_every", retrain_every, 1, 100_000)
    check_int("port", port, 1, 65_535)
    with _progress("Embedding") as progress, Project.open(project) as opened:
        server = opened.config.server
        binding = Binding(host, port, server.hosts, server.trusted_proxies)
        check_binding(binding, opened.accounts.exist())
        opened.embed(progress)  # before the app starts, so that its first page is not a long wait
        logins = opened.accounts.exist()
    shown = f"[{host}]" if ":" in host else host
    access = "log in as a user" if logins else "no login: this machine only"
    out.print(
        f"Labeling {project} at http://{shown}:{port}/ ({access}; Ctrl+C stops; labels are saved as you go)",
        markup=False,
        soft_wrap=True,
    )
    serve_app(create_app(project, strategy, retrain_every, binding), binding)


@users_app.command("add")
def users_add(
    project: ProjectArg,
    name: Annotated[str, typer.Argument(help="The user's name: letters, digits, '.', '_' or '-'.")],
    role: Annotated[str, typer.Option(help="annotator, reviewer or admin.")] = "annotator",
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin instead of asking.")] = False,
) -> None:
    """Add a user of the labeling app (the password is stored as an argon2 hash)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with Project.open(project) as opened:
        user = opened.accounts.add(name, password, role)
    out.print(f"Added {user.name} ({user.role}).", markup=False)


@users_app.command("list")
def users_list(project: ProjectArg) -> None:
    """The users of the labeling app and their roles."""
    with Project.open(project) as opened:
        found = opened.accounts.users()
    for user in found:
        out.print(f"{user.name}  {user.role}", markup=False)
    if not found:
        out.print("No users: the app runs without logins, on this machine only.")


@users_app.command("remove")
def users_remove(project: ProjectArg, name: Annotated[str, typer.Argument(help="The user to remove.")]) -> None:
    """Remove a user and end their sessions; their labels keep their name."""
    with Project.open(project) as opened:
        opened.accounts.remove(name)
    out.print(f"Removed {name}.", markup=False)


@app.command()
def agreement(project: ProjectArg) -> None:
    """How far annotators agree, on the images two or more of them labelled (Cohen's kappa per pair)."""
    from tetsuban.agreement import agreement as agreement_of

    with Project.open(project) as opened:
        found = agreement_of(opened.label_history())
    out.print(f"{found.images} images labelled by two or more people; all agree on {found.unanimous}.")
    for pair in found.pairs:
        kappa = "undefined" if pair.kappa is None else f"{pair.kappa:.2f}"
        out.print(
            f"{pair.first} and {pair.second}: {pair.agreed}/{pair.images} alike ({pair.share:.0%}), kappa {kappa}",
            markup=False,
        )


ModelArg = Annotated[Path, typer.Argument(help="A model folder: <project>/models/<id>.")]


def _project_of(model: Path) -> Path:
    """The project a model folder lies in (<project>/models/<id>)."""
    return model.expanduser().resolve().parent.parent


@app.command()
def evaluate(
    model: ModelArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where report.html goes.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes; 0 means one per core.")] = 0,
) -> None:
    """Score a model on the project's test split and write report.html (with the model before it, if any)."""
    with Project.open(_project_of(model)) as opened, _progress("Predicting the test images") as progress:
        evaluation, path = opened.evaluate(model, output, workers, progress)
    metrics = evaluation.metrics
    out.print(
        f"{evaluation.model_id} on {metrics.images} test images: accuracy {metrics.accuracy:.3f}, balanced "
        f"{metrics.balanced_accuracy:.3f}, macro F1 {metrics.macro_f1:.3f}, calibration error {metrics.ece:.3f}"
        + (f"; {len(evaluation.failed)} test files could not be read" if evaluation.failed else ""),
        markup=False,
        soft_wrap=True,
    )
    out.print(f"Report: {path}", markup=False, soft_wrap=True)


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="The first model folder (the baseline).")],
    b: Annotated[Path, typer.Argument(help="The second model folder, compared against the first.")],
    workers: Annotated[int, typer.Option(help="Worker processes; 0 means one per core.")] = 0,
) -> None:
    """The difference in test accuracy between two models of one project, with a paired bootstrap interval."""
    if _project_of(a) != _project_of(b):
        raise TetsubanError(f"{a} and {b} are models of different projects; compare models on one test split.")
    with Project.open(_project_of(a)) as opened:
        found = opened.compare(a, b, workers)
    verdict = "a clear difference" if found.clear else "no clear difference"
    out.print(
        f"On {found.images} test images: {a.name} {found.accuracy_a:.3f}, {b.name} {found.accuracy_b:.3f}; "
        f"difference {found.difference:+.3f} (95% paired bootstrap interval {found.low:+.3f} to {found.high:+.3f}: "
        f"{verdict}). Only {a.name} right on {found.only_a}, only {b.name} on {found.only_b}.",
        markup=False,
        soft_wrap=True,
    )


@app.command()
def predict(
    model: ModelArg,
    source: Annotated[Path, typer.Argument(help="A folder of images, a CSV with a path column, or one image.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The CSV to write.")] = Path("predictions.csv"),
    k: Annotated[int, typer.Option("--k", help="How many classes to list per image.")] = 3,
    workers: Annotated[int, typer.Option(help="Worker processes; 0 means one per core.")] = 0,
) -> None:
    """Predict the class of every image: CSV with path, label, probability, the next k-1 classes, and errors."""
    with _progress("Predicting") as progress:
        report = predict_images(model, source, output, k, workers, progress)
    out.print(
        f"Wrote {report.output}: {report.predicted:,} predicted, {report.failed:,} could not be read "
        f"(see the error column); {report.seconds:.1f} s.",
        soft_wrap=True,
    )


@props_app.command("add")
def props_add(
    project: ProjectArg,
    name: Annotated[str, typer.Argument(help="The property's name: lower case, digits and _.")],
    kind: Annotated[str, typer.Option(help="bool, choice, number or text.")] = "bool",
    values: Annotated[str | None, typer.Option(help="Comma-separated values of a choice.")] = None,
    rule: Annotated[str | None, typer.Option(help="A bool computed from the survey, like 'brightness < 40'.")] = None,
) -> None:
    """Add a property to the sheet."""
    with Project.open(project) as opened:
        prop = opened.add_property(name, kind, [] if values is None else values.split(","), rule)
    detail = prop.rule or ", ".join(prop.choices)
    out.print(f"Added {prop.name} ({prop.kind}{': ' + detail if detail else ''})", markup=False, soft_wrap=True)


@props_app.command("set")
def props_set(
    project: ProjectArg,
    name: Annotated[str, typer.Argument(help="The property.")],
    value: Annotated[str | None, typer.Argument(help="The value for the files that follow.")] = None,
    files: Annotated[list[Path] | None, typer.Argument(help="Image files of the project.")] = None,
    csv_in: Annotated[Path | None, typer.Option("--csv", help="A CSV with path and value columns.")] = None,
) -> None:
    """Set a property for some images: a value and files, or a CSV of path and value."""
    rows: list[tuple[str | Path, str | bool | float | None]]
    if csv_in is not None:
        rows = list(read_values_csv(csv_in))
    elif value is not None and files:
        rows = [(f, value) for f in files]
    else:
        raise TetsubanError("Give a value and one or more image files, or --csv FILE with path and value columns.")
    with Project.open(project) as opened:
        count = opened.set_property_by_path(name, rows)
    out.print(f"Set {name} for {count:,} images.")


@props_app.command("list")
def props_list(project: ProjectArg) -> None:
    """List the sheet's properties with how many images have a value."""
    with Project.open(project) as opened:
        props = opened.properties()
        table = Table("property", "kind", "values or rule", "images with a value")
        for prop in props.values():
            values = opened.property_values(prop.name)
            table.add_row(prop.name, prop.kind, prop.rule or ", ".join(prop.choices), f"{len(values):,}")
    out.print(table)


@labels_app.command("export")
def labels_export(
    project: ProjectArg,
    output: Annotated[Path, typer.Argument(help="The CSV file to write.")],
    history: Annotated[bool, typer.Option("--history", help="Every label change instead of current labels.")] = False,
) -> None:
    """Write labels to CSV: path, sha256, label, source, author, time."""
    with Project.open(project) as opened:
        rows = opened.export_labels(output, history)
    out.print(f"Wrote {rows:,} rows to {output}")


@contextmanager
def _progress(description: str) -> Iterator[ProgressFn]:
    """A progress bar on stderr that appears with the first progress report, so that an early error stands alone."""
    with _progress_bars(description) as (update,):
        yield update


@contextmanager
def _progress_bars(*descriptions: str) -> Iterator[list[ProgressFn]]:
    """One progress display on stderr with a bar per description, each shown from its first report."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    bar = Progress(*columns, console=err, transient=False)
    tasks: dict[int, TaskID] = {}

    def updater(index: int) -> ProgressFn:
        def update(done: int, total: int | None) -> None:
            if not bar.live.is_started:
                bar.start()
            if index not in tasks:
                tasks[index] = bar.add_task(descriptions[index], total=total)
            bar.update(tasks[index], completed=done, total=total)

        return update

    try:
        yield [updater(index) for index in range(len(descriptions))]
    finally:
        if bar.live.is_started:
            bar.stop()


def _print_report(report: ImportReport) -> None:
    counts = report.counts
    out.print(
        f"Import {report.run_id} {report.status}: {counts['added']:,} added, {counts['duplicate']:,} duplicate, "
        f"{counts['unchanged']:,} unchanged, {counts['relinked']:,} relinked, {counts['skipped']:,} skipped.",
        soft_wrap=True,
    )
    for outcome in report.skipped[:20]:
        out.print(f"  skipped {outcome.item}: {outcome.reason}", markup=False, highlight=False, soft_wrap=True)
    if len(report.skipped) > 20:
        out.print(f"  ... and {len(report.skipped) - 20:,} more; see: tetsuban status")


def _print_failed(failed: list[tuple[str, str]], shown: int = 20) -> None:
    for path, reason in failed[:shown]:
        out.print(f"  failed {path}: {reason}", markup=False, highlight=False, soft_wrap=True)
    if len(failed) > shown:
        out.print(f"  ... and {len(failed) - shown:,} more")


def _print_survey(report: SurveyReport, rows: list[Row]) -> None:
    out.print(
        f"{report.total:,} images: {report.cached:,} surveyed before, {report.computed:,} now, "
        f"{len(report.failed):,} failed; {report.pairs_checked:,} pairs compared for recolouring "
        f"({report.seconds:.1f} s).",
        soft_wrap=True,
    )
    _print_failed(report.failed)
    measured = [r for r in rows if r["brightness"] is not None]
    counts = {
        "greyscale": sum(bool(r["greyscale"]) for r in measured),
        "with faces": sum(int(r["faces"]) > 0 for r in measured),  # type: ignore[call-overload]
        "with straight lines (tilt known)": sum(r["tilt"] is not None for r in measured),
    }
    out.print(", ".join(f"{n:,} {what}" for what, n in counts.items()) + f" of {len(measured):,} surveyed.")


def _print_embed(report: EmbedReport) -> None:
    rate = report.computed / report.seconds if report.seconds > 0 else 0.0
    out.print(
        f"{report.total:,} images: {report.cached:,} were cached, {report.computed:,} computed ({rate:.0f}/s), "
        f"{report.reused:,} reused (same model input), {len(report.failed):,} failed. Backbone {report.backbone}.",
        soft_wrap=True,
    )
    _print_failed(report.failed)


@contextmanager
def _finetune_progress() -> Iterator[StepFn]:
    """A bar per stage and epoch on stderr, with the running training loss and the last validation accuracy."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bar = Progress(*columns, TextColumn("{task.fields[figures]}"), console=err, transient=False)
    tasks: dict[tuple[str, int], TaskID] = {}

    def update(step: Step) -> None:
        if not bar.live.is_started:
            bar.start()
            if step.resumed:
                bar.console.print(f"Resuming from the checkpoint: {step.stage} stage, epoch {step.epoch}.")
        name = (step.stage, step.epoch)
        if name not in tasks:
            what = "head (body frozen)" if step.stage == "head" else "whole network"
            tasks[name] = bar.add_task(f"{what} epoch {step.epoch}/{step.epochs}", total=step.steps, figures="")
        val = "" if step.val_accuracy is None else f", val accuracy {step.val_accuracy:.3f}"
        bar.update(tasks[name], completed=step.step, figures=f"loss {step.loss:.3f}{val}")

    try:
        yield update
    finally:
        if bar.live.is_started:
            bar.stop()


def _print_train(report: TrainReport) -> None:
    card = report.artifact.card
    counts = ", ".join(f"{name} {n:,}" for name, n in card["label_counts"].items())
    out.print(f"Trained {card['id']} on {card['data']['images']:,} labelled images ({counts}).", soft_wrap=True)
    v = report.validation
    if v.accuracy is None:
        out.print(f"Validation: {v.note}.")
    else:
        how = f"{v.images:,} images of the val split" if v.folds == 0 else f"{v.folds}-fold cross-validation"
        head = card["head"]
        knob = _head_summary(head, report.c)
        out.print(
            f"Validation ({how}): accuracy {v.accuracy:.3f}, balanced accuracy {v.balanced_accuracy:.3f}; "
            f"{head.get('kind', 'head')}, {knob}; {report.seconds:.1f} s.",
            soft_wrap=True,
        )
    out.print(f"Model: {report.artifact.folder}", markup=False, highlight=False, soft_wrap=True)


def _head_summary(head: dict[str, Any], c: float) -> str:
    """The setting that describes a trained head: C, k, or a fine-tuning run's epochs."""
    if head.get("kind") == "knn":
        return f"k = {head['k']}"
    if head.get("kind") != "finetuned":
        return f"C = {c:g}"
    epochs, early = head["epochs"], ", stopped early" if head.get("stopped_early") else ""
    best = head["best"]
    kept = f"kept {'head' if best['stage'] == 'head' else 'whole-network'} epoch {best['epoch']}"
    return f"{epochs['head']} head + {epochs['body']} whole-network epochs{early}, {kept}, on {head['device']}"


def _print_status(st: ProjectStatus, skipped_shown: int) -> None:
    out.print(f"[bold]{st.name}[/] ({st.root})")
    out.print(f"{st.images:,} images, {st.labelled:,} labelled, {st.images - st.labelled:,} unlabelled")
    if st.per_class:
        table = Table("class", "images", title="Labelled per class", title_justify="left")
        for name, n in st.per_class.items():
            table.add_row(name, f"{n:,}")
        out.print(table)
    if st.runs:
        out.print("[bold]Recent imports[/]:")
        for r in st.runs:
            when = datetime.fromtimestamp(r.started_at).strftime("%Y-%m-%d %H:%M")
            state = r.status if r.status == "finished" else f"{r.status} (did not finish; run it again to complete)"
            c = r.counts
            out.print(
                f"  #{r.id} {when} {r.kind} {r.source}: {state}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            out.print(
                f"      {c['added']:,} added, {c['duplicate']:,} duplicate, {c['unchanged']:,} unchanged, "
                f"{c['relinked']:,} relinked, {c['skipped']:,} skipped",
                highlight=False,
            )
    if st.skipped:
        out.print(f"[bold]Skipped files[/] (recent imports, {len(st.skipped):,} shown at most {skipped_shown}):")
        for o in st.skipped[:skipped_shown]:
            out.print(f"  {o.item}: {o.reason}", markup=False, highlight=False, soft_wrap=True)
    if st.problems:
        out.print(
            f"[bold yellow]{len(st.problems):,} image file(s) need attention[/] "
            "(import the new location again to relink a moved file):"
        )
        for p in st.problems[:50]:
            out.print(f"  {p.problem}: {p.path} (image {p.image_id})", markup=False, highlight=False, soft_wrap=True)
    else:
        out.print("Every image file is present and unchanged.")


def main() -> None:
    """Entry point: a user mistake prints one line and exits 1, never a traceback."""
    # Idle OpenMP threads (torch, while exporting a backbone) sleep instead of spinning on a small machine.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        app()
    except TetsubanError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
