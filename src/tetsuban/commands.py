"""What each command does that spans more than one stage, as one library function: the command line calls these
(or one of ``Project``'s methods) and only renders what they return, so the rules (which options go together,
where a model folder points, what the split's groups are) are the same for the CLI, the app and scripts.

Above the stages, beside ``project.py``: a function here may use any stage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tetsuban.active import stage as loop
from tetsuban.active.heads import DEFAULT_HEAD
from tetsuban.active.label_issues import LabelIssue, LabelIssues
from tetsuban.active.simulate import Curve
from tetsuban.backbones.stage import embed, same_pictures
from tetsuban.config import CONFIG_NAME
from tetsuban.deploy.stage import ExportReport, check_export, export_model
from tetsuban.errors import ConfigError, ProjectError, TetsubanError
from tetsuban.evaluate.compare import Comparison
from tetsuban.evaluate.run import Evaluation
from tetsuban.evaluate.stage import compare_models, evaluate_model
from tetsuban.finetune.run import StepFn
from tetsuban.finetune.stage import finetune_model
from tetsuban.learn.artifact import CARD_NAME
from tetsuban.learn.stage import train
from tetsuban.learn.train import TrainReport
from tetsuban.progress import ProgressFn
from tetsuban.props import Property, read_values_csv
from tetsuban.reports.written import evaluation_report, simulation_report, survey_report
from tetsuban.splits.assign import SplitPlan
from tetsuban.splits.stage import history, plan_in_force, reset, split_images
from tetsuban.store.splits import SplitEvent
from tetsuban.survey import sheet
from tetsuban.survey.compute import SurveyReport
from tetsuban.survey.stage import duplicate_groups, near_duplicates_of, survey, survey_table, surveyed, write_table
from tetsuban.survey.table import Row
from tetsuban.workspace import Workspace, open_workspace


@dataclass(frozen=True)
class SurveyRun:
    """A survey, the table it made, the table files written and the report's path."""

    report: SurveyReport
    rows: list[Row]
    tables: list[Path]
    page: Path


def survey_project(
    ws: Workspace,
    tables: Sequence[Path] = (),
    html: Path | None = None,
    on_progress: ProgressFn | None = None,
    on_compare: ProgressFn | None = None,
) -> SurveyRun:
    """Survey the images not surveyed yet, write the table to each of ``tables`` (CSV, or Parquet by its suffix)
    and survey.html (into the project folder unless ``html`` says where)."""
    report = survey(ws, on_progress, on_compare)
    rows = survey_table(ws)  # read once for every table written
    for table in tables:
        write_table(rows, table)
    page = survey_report(ws, html)
    return SurveyRun(report, rows, list(tables), page)


def near_duplicates(ws: Workspace) -> list[tuple[int, int, int]]:
    """The survey's near-duplicates, with the pairs the stored embeddings say are the same picture."""
    return near_duplicates_of(ws, surveyed(ws), same_pictures(ws))


def split(
    ws: Workspace,
    plan: SplitPlan,
    seed: int = 0,
    groups: Mapping[int, Hashable] | None = None,
    author: str | None = None,
    by: str | None = None,
) -> SplitEvent:
    """The split stage, asked explicitly for what it keeps together: ``groups``, or by default the survey's
    near-duplicate groups with the embeddings' same-picture pairs (none before anything is embedded)."""
    chosen = duplicate_groups(ws, same_pictures(ws)) if groups is None else groups
    return split_images(ws, plan, chosen, seed, author, by)


@dataclass(frozen=True)
class SplitRun:
    """What a split did: the reset first (if asked), the assignment, the images per split now, and how many images
    were not surveyed (their near-duplicates could not be kept together)."""

    reset: SplitEvent | None
    event: SplitEvent
    counts: dict[str, int]
    unsurveyed: int


def split_project(
    ws: Workspace,
    plan: SplitPlan,
    seed: int = 0,
    by: str | None = None,
    reset_first: bool = False,
    on_embed: ProgressFn | None = None,
    on_survey: ProgressFn | None = None,
) -> SplitRun:
    """``tetsuban split``: embed and survey what is not yet, so that the split decides once, from the pixels and the
    model, what it keeps together (a later embedding adds nothing the split did not know); then split (after
    clearing every split, the test set's too, with ``reset_first``) and count what came of it."""
    _embed_and_survey(ws, on_embed, on_survey)
    cleared = reset(ws) if reset_first else None
    event = split(ws, plan, seed, by=by)
    return _split_run(ws, cleared, event)


def _embed_and_survey(ws: Workspace, on_embed: ProgressFn | None, on_survey: ProgressFn | None) -> None:
    """Embed every image not yet embedded, then survey those not yet surveyed: what a split decides from."""
    embed(ws, on_embed)
    if len(surveyed(ws)) < len(ws.images()):
        survey(ws, on_survey)


def _split_run(ws: Workspace, cleared: SplitEvent | None, event: SplitEvent) -> SplitRun:
    unsurveyed = len(ws.images()) - len(surveyed(ws))  # without building the whole survey table
    return SplitRun(cleared, event, dict(Counter(ws.splits().values())), unsurveyed)


def split_where_missing(
    ws: Workspace,
    on_embed: ProgressFn | None = None,
    on_survey: ProgressFn | None = None,
    author: str | None = None,
) -> SplitRun | None:
    """What the commands that work on splits (serve, queue, curve, simulate) do first, so that a newcomer's first
    run works: give a split to each image that has none (every image, before the first split; those imported
    since, after it). Every image is embedded and the images not surveyed are surveyed first, so that the split
    keeps near-duplicates and look-alikes together as ``tetsuban split`` after ``tetsuban survey`` would. The shares
    and seed are those of the splits in force, or the defaults (``SplitPlan()``, seed 0) for a project never split.
    None when every image had a split already (then nothing is embedded here: the command does what it needs)."""
    records = ws.images()
    assigned = ws.splits()
    if all(r.id in assigned for r in records):
        return None
    _embed_and_survey(ws, on_embed, on_survey)
    plan, seed = plan_in_force(history(ws)) or (SplitPlan(), 0)
    return _split_run(ws, None, split(ws, plan, seed, author=author))


@dataclass(frozen=True)
class TrainOptions:
    """How to train: a probe (``c``, ``search_c``, ``head``) or fine-tuning (``finetune``, ``epochs``, ``device``,
    ``minutes``); the options of one do not go with the other."""

    c: float | None = None
    search_c: bool = False
    seed: int = 0
    head: str = "logistic"
    finetune: bool = False
    epochs: int | None = None
    device: str | None = None
    minutes: float | None = None

    def __post_init__(self) -> None:
        if not self.finetune and (self.epochs is not None or self.device is not None or self.minutes is not None):
            raise ConfigError("--epochs, --minutes and --device are for --finetune.")
        if self.finetune and (self.c is not None or self.search_c or self.head != "logistic"):
            raise ConfigError("--finetune trains its own linear classifier; --c, --search-c and --head are for probes.")


def train_model(
    ws: Workspace, options: TrainOptions, on_progress: ProgressFn | None = None, on_step: StepFn | None = None
) -> TrainReport:
    """Train a probe on the labelled train images' embeddings, or fine-tune the backbone, as ``options`` say."""
    if options.finetune:
        return finetune_model(ws, options.seed, options.epochs, options.device, on_step, options.minutes)
    return train(ws, options.c, options.search_c, options.seed, on_progress, options.head)


def to_label(
    ws: Workspace,
    count: int,
    strategy: str,
    seed: int,
    holdout: bool,
    on_embed: ProgressFn | None = None,
    head: str = DEFAULT_HEAD,
) -> list[tuple[int, Path]]:
    """(image id, file) of the images to label next: by ``strategy`` with the loop's ``head`` among the unlabelled
    train images, or with ``holdout`` the unlabelled val and test images at random (the loop never queues those)."""
    if holdout:
        ids = loop.holdout_to_label(ws, count, seed)
    else:
        ids = loop.next_to_label(ws, count, strategy, seed, on_embed, head)
    paths = {r.id: ws.image_path(r) for r in ws.images()}
    return [(i, paths[i]) for i in ids]


def doubtful_labels(
    ws: Workspace, folds: int, on_embed: ProgressFn | None = None
) -> LabelIssues[tuple[int, Path, LabelIssue]]:
    """The labels that look wrong, each with its image's file, and how many to expect wrong."""
    found = loop.doubtful_labels(ws, folds, on_embed=on_embed)
    paths = {r.id: ws.image_path(r) for r in ws.images()}
    return LabelIssues([(i, paths[i], issue) for i, issue in found.issues], found.wrong)


def simulate(
    ws: Workspace,
    strategies: Sequence[str],
    budget: int,
    step: int,
    seeds: int,
    html: str | Path | None = None,
    on_progress: ProgressFn | None = None,
    on_embed: ProgressFn | None = None,
    heads: Sequence[str] = (DEFAULT_HEAD,),
    queue: int | None = None,
) -> tuple[list[Curve], Path]:
    """Simulate the loop with each strategy and head on the labels given, ``step`` labels per retrain out of a
    queue of ``queue`` (None: ``step``), and write simulation.html (into the project folder unless ``html`` says
    where)."""
    simulation = loop.simulate(ws, strategies, budget, step, seeds, on_progress, on_embed, heads, queue)
    return simulation.curves, simulation_report(ws, simulation, html)


def evaluate(
    ws: Workspace,
    model: str | Path,
    out: str | Path | None = None,
    workers: int = 0,
    on_progress: ProgressFn | None = None,
    on_report: ProgressFn | None = None,
) -> tuple[Evaluation, Path]:
    """Score ``model`` on the labelled test images and write its report.html (into the model's folder unless
    ``out`` says where), compared with the model made before it when there is one; ``on_progress`` hears of the
    predictions, ``on_report`` of the report's steps."""
    scored = evaluate_model(ws, model, workers, on_progress)
    return scored.evaluation, evaluation_report(ws, scored, out, on_report)


def project_of(model: Path) -> Path:
    """The project a model folder lies in (<project>/models/<id>); a project or another folder given instead is
    refused with what to give."""
    folder = model.expanduser().resolve()
    if (folder / CONFIG_NAME).exists():
        models = sorted((folder / "models").glob(f"*/{CARD_NAME}"), key=lambda card: card.stat().st_mtime)
        newest = f" The newest: {models[-1].parent}" if models else f" It has none yet: tetsuban train {model}"
        raise ProjectError(
            f"{model} is a project; this command takes a model folder, one of {model / 'models'}/<id>.{newest}"
        )
    if not (folder / CARD_NAME).is_file():
        raise ProjectError(
            f"{model} is not a model folder (no {CARD_NAME} in it). Models lie in PROJECT/models/<id>; tetsuban "
            "train prints the folder of the model it made."
        )
    return folder.parent.parent


def evaluate_folder(
    model: Path,
    out: Path | None = None,
    workers: int = 0,
    on_progress: ProgressFn | None = None,
    on_report: ProgressFn | None = None,
) -> tuple[Evaluation, Path]:
    """Score the model in ``model`` (a folder <project>/models/<id>) on its project's test images and write its
    report.html."""
    ws = open_workspace(project_of(model))
    try:
        return evaluate(ws, model, out, workers, on_progress, on_report)
    finally:
        ws.close()


def export_folder(model: Path, format: str, output: Path, quantize: str = "none") -> ExportReport:
    """Export the model in folder ``model``; int8 calibrates on the training images of the project it lies in."""
    check_export(format, quantize)
    if quantize == "none":
        return export_model(model, format, output)
    root = project_of(model)
    if not (root / CONFIG_NAME).is_file():
        raise ProjectError(
            f"--quantize {quantize} calibrates on the training images of the project the model lies in, and "
            f"{model} lies in none (a model folder is <project>/models/<id>). Export it from its project."
        )
    ws = open_workspace(root)
    try:
        return export_model(model, format, output, quantize, training_files(ws))
    finally:
        ws.close()


def training_files(ws: Workspace) -> list[Path]:
    """The files of the project's labelled training images (every image when none is labelled for training)."""
    labels, splits = ws.labelled(), ws.splits()
    records = ws.images()
    chosen = [r for r in records if r.id in labels and splits.get(r.id, "train") == "train"] or records
    return [ws.image_path(r) for r in chosen]


def compare_folders(a: Path, b: Path, workers: int = 0) -> Comparison:
    """Model ``b`` against model ``a``, two folders of one project, on its test images."""
    if project_of(a) != project_of(b):
        raise TetsubanError(f"{a} and {b} are models of different projects; compare models on one test split.")
    ws = open_workspace(project_of(a))
    try:
        return compare_models(ws, a, b, workers)
    finally:
        ws.close()


def property_counts(ws: Workspace) -> list[tuple[Property, int]]:
    """Each property of the sheet with how many images have a value."""
    return [(prop, len(sheet.property_values(ws, prop.name))) for prop in sheet.properties(ws).values()]


def set_property_from(ws: Workspace, name: str, value: str | None, files: Sequence[Path], csv_in: Path | None) -> int:
    """Set ``name`` from a CSV of path and value (``csv_in``), or to ``value`` for ``files``; the images set."""
    rows: list[tuple[str | Path, sheet.RawValue]]
    if csv_in is not None:
        rows = list(read_values_csv(csv_in))
    elif value is not None and files:
        rows = [(f, value) for f in files]
    else:
        raise TetsubanError("Give a value and one or more image files, or --csv FILE with path and value columns.")
    return sheet.set_property_by_path(ws, name, rows)
