"""The command line: each command calls one library function (a method of ``Project`` or a function of
``tetsuban.commands``) and hands what it returns to ``tetsuban.console``, the one module that renders.

Over 400 lines for a reason: it declares 27 commands with every option and its help text, as Typer reads them
from the signatures; there is no logic here to split off, and the commands are easiest to review side by side.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from tetsuban import console
from tetsuban.active.heads import DEFAULT_HEAD, HEADS, check_head
from tetsuban.active.loop import QUEUE_RETRAINS
from tetsuban.active.registry import DEFAULT_STRATEGY, STRATEGIES, check_strategies
from tetsuban.active.stage import learning_curve
from tetsuban.agreement import agreement as agreement_of
from tetsuban.cluster import on_cluster
from tetsuban.commands import (
    TrainOptions,
    compare_folders,
    doubtful_labels,
    evaluate_folder,
    export_folder,
    property_counts,
    set_property_from,
    simulate as simulate_project,
    split_project,
    split_where_missing,
    survey_project,
    to_label,
    train_model,
)
from tetsuban.config import pipeline_toml
from tetsuban.deploy.stage import FORMATS, QUANTIZATIONS
from tetsuban.errors import TetsubanError
from tetsuban.export import write_label_issues
from tetsuban.learn.predict import predict as predict_images
from tetsuban.project import Project
from tetsuban.splits.assign import SplitPlan

HEAD_HELP = f"The loop's head: {', '.join(HEADS)} (probe: no neighbour graph to build)."
app = typer.Typer(
    help="tetsuban: from a folder of images to a trained, honestly evaluated image classifier.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: Rich's panels show "<bool>" after flags that take no value
)


def group(summary: str) -> typer.Typer:
    """A group of sub-commands, with plain help like the app's."""
    return typer.Typer(help=summary, no_args_is_help=True, rich_markup_mode=None)


labels_app = group("Labels: export them; rename, merge or remove classes.")
app.add_typer(labels_app, name="labels")
props_app = group("The property sheet: fields that matter for your problem.")
app.add_typer(props_app, name="props")
users_app = group("Who may log in to the labeling app, and with which role.")
app.add_typer(users_app, name="users")
pipeline_app = group("The preprocessing and augmentation pipeline: show it.")
app.add_typer(pipeline_app, name="pipeline")

ProjectArg = Annotated[Path, typer.Argument(help="The project folder.")]
RayOpt = Annotated[
    str | None,
    typer.Option("--ray", help="Run on the Ray cluster at this address (local: start one here). Needs tetsuban[ray]."),
]


@app.command()
def init(
    project: ProjectArg,
    name: Annotated[str | None, typer.Option(help="Project name (default: the folder's name).")] = None,
    database: Annotated[
        str,
        typer.Option(
            envvar="TETSUBAN_DATABASE_URL",
            help="A PostgreSQL database for the project's tables (postgresql+psycopg://USER@HOST:PORT/DB), for a "
            "team; without it they live in a SQLite file in the folder.",
        ),
    ] = "",
) -> None:
    """Create a project: a folder with tetsuban.toml and the project database."""
    with Project.init(project, name, database) as created:
        console.say(f"Created project {created.config.name} in {created.root}")


@app.command("import")
def import_(
    project: ProjectArg,
    source: Annotated[
        str,
        typer.Argument(
            help="A folder, image, CSV, zip/tar archive or IDX images file, or a prefix in object storage "
            "(s3://bucket/photos/, gs://..., with its fsspec package installed)."
        ),
    ],
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
        with Project.open(project) as opened, console.progress(f"Importing {source}") as progress:
            report = opened.import_path(source, labels, copy, folder_labels, names, progress)
    except KeyboardInterrupt:
        console.warn("interrupted: every batch committed so far is kept; run the same import again to complete it.")
        raise typer.Exit(130) from None
    console.show_import(report)


@app.command()
def status(
    project: ProjectArg,
    skipped: Annotated[int, typer.Option(help="How many skipped files to list.")] = 20,
) -> None:
    """Show images, labels per class, recent imports, skipped files with reasons, and files that changed."""
    with Project.open(project) as opened:
        console.show_status(opened.status(), skipped)


@pipeline_app.command("show")
def pipeline_show(project: ProjectArg) -> None:
    """Print the pipeline of tetsuban.toml, resolved with defaults and fitted on the project's images."""
    with Project.open(project) as opened:
        pipeline = opened.pipeline()
    console.say(pipeline_toml(pipeline))
    console.say(f"# preprocess hash: {pipeline.preprocess_hash()}")


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
    console.say(f"Wrote {path}: each row one image, preprocessed, then {augmented} augmented versions.")


@app.command()
def survey(
    project: ProjectArg,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write the whole table to this CSV.")] = None,
    parquet: Annotated[Path | None, typer.Option(help="Also write the whole table to this Parquet file.")] = None,
    html: Annotated[Path | None, typer.Option(help="Where the report goes (default: <project>/survey.html).")] = None,
    ray: RayOpt = None,
) -> None:
    """Measure every image once (cached): size, brightness, contrast, colour, sharpness, tilt, faces, hash;
    write the survey.html report."""
    tables = [p for p in (csv_out, parquet) if p is not None]
    bars = console.progress_bars("Surveying images", "Comparing colour pairs")
    with Project.open(project) as opened, on_cluster(ray), bars as (surveying, comparing):
        run = survey_project(opened.workspace, tables, html, surveying, comparing)
    console.show_survey(run.report, run.rows, run.tables, run.page)


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
    """Assign train / val / test, stratified by label, keeping copies and look-alikes together (embedding and
    surveying first); images with a split keep it (the test set is frozen)."""
    plan = SplitPlan(test, val)
    with Project.open(project) as opened:
        if (
            reset
            and not yes
            and not typer.confirm(
                "Reset clears every split, the test split too, so test images may end up in training. Go on?"
            )
        ):
            raise typer.Exit(1)
        with console.progress_bars("Embedding", "Surveying") as (embedding, surveying):
            run = split_project(opened.workspace, plan, seed, by, reset, embedding, surveying)
    console.show_split(run.reset, run.event, run.counts, run.unsurveyed)


@app.command()
def doctor(
    project: ProjectArg,
    model: Annotated[
        Path | None, typer.Option(help="Also check this model (models/<id>) on trivial cases: overfit, shuffle, agree.")
    ] = None,
) -> None:
    """Check what would make an evaluation lie: changed files, leakage across splits, imbalance, thin test sets."""
    with Project.open(project) as opened, console.progress("Checking the model") as checking:
        findings = opened.doctor(model, checking if model is not None else None)
    console.show_findings(findings)


BackboneOpt = Annotated[
    str | None, typer.Option(help="A backbone other than tetsuban.toml's [model]: a registered or timm name.")
]
WeightsOpt = Annotated[str | None, typer.Option(help="A state-dict file with the backbone's weights.")]


@app.command()
def embed(project: ProjectArg, backbone: BackboneOpt = None, weights: WeightsOpt = None, ray: RayOpt = None) -> None:
    """Compute and cache the embedding of every image; images already cached cost nothing."""
    try:
        with Project.open(project) as opened, on_cluster(ray), console.progress("Embedding") as progress:
            report = opened.using_model(backbone, weights).embed(progress)
    except KeyboardInterrupt:
        console.warn("interrupted: the embeddings computed so far are kept; run embed again to complete them.")
        raise typer.Exit(130) from None
    console.show_embed(report)


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
            help="Fine-tune the backbone's upper blocks (torch), starting from the probe, instead of a probe alone: "
            "slower, usually better; the probe is kept where it validates clearly better. A killed run resumes.",
        ),
    ] = False,
    epochs: Annotated[
        int | None,
        typer.Option(help="With --finetune: this many epochs (default: 3 to 10, by data size)."),
    ] = None,
    minutes: Annotated[
        float | None,
        typer.Option(help="With --finetune: a time budget; no epoch starts that would end past it. The best is kept."),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="With --finetune: cuda or cpu (default: cuda when there is one).")
    ] = None,
) -> None:
    """Train a linear probe on the labelled images' embeddings, or fine-tune the backbone (--finetune); writes the
    model to <project>/models/<id>/."""
    options = TrainOptions(c, search_c, seed, head, finetune, epochs, device, minutes)
    try:
        with (
            Project.open(project) as opened,
            console.progress("Embedding labelled images") as progress,
            console.finetune_progress() as on_step,
        ):
            report = train_model(opened.workspace.with_model(backbone, weights), options, progress, on_step)
    except KeyboardInterrupt:
        if not finetune:
            raise
        console.warn("Interrupted. Every finished epoch is in the checkpoint: run the same command to resume.")
        sys.exit(130)
    console.show_train(report)


@app.command()
def queue(
    project: ProjectArg,
    count: Annotated[int, typer.Option(help="How many images to list.")] = 20,
    strategy: Annotated[str, typer.Option(help=f"Query strategy: {', '.join(STRATEGIES)}.")] = DEFAULT_STRATEGY,
    seed: Annotated[int, typer.Option(help="Seed for the strategy's random choices.")] = 0,
    head: Annotated[str, typer.Option(help=HEAD_HELP)] = DEFAULT_HEAD,
    holdout: Annotated[
        bool,
        typer.Option(
            "--holdout", help="List unlabelled val and test images instead, at random: they are never queued."
        ),
    ] = False,
) -> None:
    """List the unlabelled train images to label next (val and test images are never queued; --holdout lists
    those, at random, so that validation and the test set stay samples of the data)."""
    check_strategies([strategy])  # before the embedding and the splits
    check_head(head)
    with Project.open(project) as opened, console.progress_bars("Embedding", "Surveying") as (embedding, surveying):
        console.show_made_splits(split_where_missing(opened.workspace, embedding, surveying))
        picks = to_label(opened.workspace, count, strategy, seed, holdout, embedding, head)
    console.show_queue(picks)


@app.command("label-issues")
def label_issues(
    project: ProjectArg,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
    folds: Annotated[int, typer.Option(help="Folds for the out-of-fold probabilities.")] = 5,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write every one of them to this CSV.")] = None,
) -> None:
    """List the labels that look wrong, the likeliest wrong first, each with the label the model suggests."""
    with Project.open(project) as opened, console.progress("Embedding") as progress:
        found = doubtful_labels(opened.workspace, folds, progress)
    console.show_label_issues(found, folds, limit)
    if csv_out is not None:
        console.say(f"Wrote {write_label_issues(csv_out.expanduser(), found.issues):,} rows to {csv_out}")


@app.command()
def curve(
    project: ProjectArg,
    target: Annotated[float | None, typer.Option(help="An accuracy to estimate the labels needed for.")] = None,
) -> None:
    """Validation accuracy against training labels, a fitted power law, and what more labels would buy."""
    bars = console.progress_bars("Embedding", "Surveying", "Drawing the curve")
    with Project.open(project) as opened, bars as (embedding, surveying, drawing):
        console.show_made_splits(split_where_missing(opened.workspace, embedding, surveying))
        found = learning_curve(opened.workspace, on_embed=embedding, on_progress=drawing)
    console.show_curve(found, target)


@app.command()
def simulate(
    project: ProjectArg,
    strategies: Annotated[str, typer.Option(help="Comma-separated strategy names.")] = "hybrid,margin,random",
    budget: Annotated[int, typer.Option(help="Labels per run.")] = 2000,
    step: Annotated[int, typer.Option(help="Labels between retrains.")] = 50,
    queue: Annotated[
        int | None,
        typer.Option(
            help="Images each retrain queues, the first --step of them labelled (default: --step). The app queues "
            f"{QUEUE_RETRAINS} times its --retrain-every."
        ),
    ] = None,
    seeds: Annotated[int, typer.Option(help="Runs per strategy.")] = 3,
    heads: Annotated[str, typer.Option(help=f"Comma-separated heads of the loop: {', '.join(HEADS)}.")] = DEFAULT_HEAD,
    html: Annotated[
        Path | None, typer.Option(help="Where the report goes (default: <project>/simulation.html).")
    ] = None,
) -> None:
    """On a fully labelled project: hide the labels, run the labelling loop with each strategy and head, and report
    test accuracy against labels."""
    names = [name.strip() for name in strategies.split(",") if name.strip()]
    check_strategies(names)  # before the embedding and the splits
    head_names = [check_head(name.strip()) for name in heads.split(",") if name.strip()]
    bars = console.progress_bars("Embedding", "Surveying", "Simulating runs")
    with Project.open(project) as opened, bars as (embedding, surveying, simulating):
        console.show_made_splits(split_where_missing(opened.workspace, embedding, surveying))
        curves, page = simulate_project(
            opened.workspace, names, budget, step, seeds, html, simulating, embedding, head_names, queue
        )
    console.show_simulation(curves, page)


@app.command()
def serve(
    project: ProjectArg,
    host: Annotated[
        str, typer.Option(help="Address to bind: this machine only (127.0.0.1) unless users exist.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    strategy: Annotated[str, typer.Option(help=f"Query strategy: {', '.join(STRATEGIES)}.")] = DEFAULT_STRATEGY,
    retrain_every: Annotated[int, typer.Option(help="Labels between retrains of the model.")] = 20,
    head: Annotated[str, typer.Option(help=HEAD_HELP)] = DEFAULT_HEAD,
    workers: Annotated[
        int, typer.Option(help="App processes (a PostgreSQL project only): for many annotators at once.")
    ] = 1,
) -> None:
    """Start the labeling app in the browser, with the model in the loop."""
    from tetsuban.server.app import ServeHooks, serve_project

    with console.progress_bars("Embedding", "Surveying") as (embedding, surveying):
        hooks = ServeHooks(
            embedding,
            surveying,
            console.show_made_splits,
            lambda logins: console.show_serving(project, host, port, logins),
        )
        serve_project(project, host, port, strategy, retrain_every, hooks, workers, head)


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
    console.say(f"Added {user.name} ({user.role}).")


@users_app.command("list")
def users_list(project: ProjectArg) -> None:
    """The users of the labeling app and their roles."""
    with Project.open(project) as opened:
        found = opened.accounts.users()
    for user in found:
        console.say(f"{user.name}  {user.role}")
    if not found:
        console.say("No users: the app runs without logins, on this machine only.")


@users_app.command("remove")
def users_remove(project: ProjectArg, name: Annotated[str, typer.Argument(help="The user to remove.")]) -> None:
    """Remove a user and end their sessions; their labels keep their name."""
    with Project.open(project) as opened:
        opened.accounts.remove(name)
    console.say(f"Removed {name}.")


@app.command()
def agreement(project: ProjectArg) -> None:
    """How far annotators agree, on the images two or more of them labelled (Cohen's kappa per pair)."""
    with Project.open(project) as opened:
        found = agreement_of(opened.label_history())
    console.show_agreement(found)


ModelArg = Annotated[Path, typer.Argument(help="A model folder: <project>/models/<id>.")]


@app.command()
def evaluate(
    model: ModelArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where report.html goes.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes; 0 means one per core.")] = 0,
) -> None:
    """Score a model on the project's test split and write report.html (with the model before it, if any)."""
    with console.progress_bars("Predicting the test images", "Writing the report") as (predicting, writing):
        evaluation, path = evaluate_folder(model, output, workers, predicting, writing)
    console.show_evaluation(evaluation, path)


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="The first model folder (the baseline).")],
    b: Annotated[Path, typer.Argument(help="The second model folder, compared against the first.")],
    workers: Annotated[int, typer.Option(help="Worker processes; 0 means one per core.")] = 0,
) -> None:
    """The difference in test accuracy between two models of one project, with a paired bootstrap interval."""
    console.show_comparison(compare_folders(a, b, workers), a.name, b.name)


@app.command()
def predict(
    model: ModelArg,
    source: Annotated[Path, typer.Argument(help="A folder of images, a CSV with a path column, or one image.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The CSV to write.")] = Path("predictions.csv"),
    k: Annotated[int, typer.Option("--k", help="How many classes to list per image.")] = 3,
    workers: Annotated[int, typer.Option(help="Worker processes; 0 means one per core.")] = 0,
    ray: RayOpt = None,
) -> None:
    """Predict the class of every image: CSV with path, label, probability, the next k-1 classes, and errors."""
    with on_cluster(ray), console.progress("Predicting") as progress:
        report = predict_images(model, source, output, k, workers, progress)
    console.show_prediction(report)


@app.command("export")
def export(
    model: ModelArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write (web: the folder).")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help=f"One of {', '.join(FORMATS)}. onnx-standalone: one ONNX graph from uint8 RGB images of any size "
            "(batch, height, width, 3) to probabilities and labels, with the model's preprocessing inside. web: a "
            "folder any static host serves, where a browser classifies images offline with that graph.",
        ),
    ] = "onnx-standalone",
    quantize: Annotated[
        str,
        typer.Option(
            help=f"One of {', '.join(QUANTIZATIONS)}. int8: the backbone's convolutions in int8, calibrated on the "
            "project's training images (about a quarter of the size; see docs/deploy.md for what it costs)."
        ),
    ] = "none",
) -> None:
    """Write the model as a file that runs without tetsuban (see docs/deploy.md)."""
    with console.progress("Exporting") as progress:
        progress(0, 1)
        report = export_folder(model, format, output, quantize)
        progress(1, 1)
    console.show_export(report)


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
    console.show_property(prop)


@props_app.command("set")
def props_set(
    project: ProjectArg,
    name: Annotated[str, typer.Argument(help="The property.")],
    value: Annotated[str | None, typer.Argument(help="The value for the files that follow.")] = None,
    files: Annotated[list[Path] | None, typer.Argument(help="Image files of the project.")] = None,
    csv_in: Annotated[Path | None, typer.Option("--csv", help="A CSV with path and value columns.")] = None,
) -> None:
    """Set a property for some images: a value and files, or a CSV of path and value."""
    with Project.open(project) as opened:
        count = set_property_from(opened.workspace, name, value, files or [], csv_in)
    console.say(f"Set {name} for {count:,} images.")


@props_app.command("list")
def props_list(project: ProjectArg) -> None:
    """List the sheet's properties with how many images have a value."""
    with Project.open(project) as opened:
        found = property_counts(opened.workspace)
    console.show_properties(found)


@labels_app.command("export")
def labels_export(
    project: ProjectArg,
    output: Annotated[Path, typer.Argument(help="The CSV file to write.")],
    history: Annotated[bool, typer.Option("--history", help="Every label change instead of current labels.")] = False,
) -> None:
    """Write labels to CSV: path, sha256, label, source, author, time."""
    with Project.open(project) as opened:
        rows = opened.export_labels(output, history)
    console.say(f"Wrote {rows:,} rows to {output}")


ClassArg = Annotated[str, typer.Argument(help="A class name, as it is spelled.")]


@labels_app.command("rename")
def labels_rename(
    project: ProjectArg, old: ClassArg, new: Annotated[str, typer.Argument(help="The class's new name.")]
) -> None:
    """Rename a class, keeping its key; its images get a label event with the new name (the history keeps both)."""
    with Project.open(project) as opened:
        moved = opened.rename_class(old, new)
    console.say(f'Renamed "{old}" to "{new}": {moved:,} image(s) relabelled; the history keeps the old name.')


@labels_app.command("merge")
def labels_merge(
    project: ProjectArg,
    classes: Annotated[list[str], typer.Argument(help="The classes to merge into another.")],
    into: Annotated[str, typer.Option("--into", help="The class that takes their images.")],
) -> None:
    """Put the images of some classes into another class; those classes are retired (the history keeps them)."""
    with Project.open(project) as opened:
        moved = opened.merge_classes(classes, into)
    names = ", ".join(f'"{name}"' for name in classes)
    console.say(f'Merged {names} into "{into}": {moved:,} image(s) relabelled.')


@labels_app.command("remove")
def labels_remove(
    project: ProjectArg,
    name: ClassArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before clearing labels.")] = False,
) -> None:
    """Remove a class: its images lose their label (the history keeps it) and go back to the queues."""
    with Project.open(project) as opened:
        count = opened.images_labelled(name)
        if count and not yes and not typer.confirm(f'{count:,} image(s) are labelled "{name}"; clear their labels?'):
            raise typer.Exit(1)
        cleared = opened.remove_class(name)
    console.say(f'Removed "{name}": {cleared:,} image(s) lost their label; the history keeps it.')


def main() -> None:
    """Entry point: a user mistake prints one line and exits 1, never a traceback."""
    # Idle OpenMP threads (torch, while exporting a backbone) sleep instead of spinning on a small machine.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        app()
    except TetsubanError as exc:
        console.error(str(exc))
        sys.exit(1)
