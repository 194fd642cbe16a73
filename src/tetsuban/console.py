"""How the command line shows things: the two consoles, progress bars, and one function per result that prints it.
The only module that renders; the commands in cli.py call a library function and hand its result here.

Every name, path and reason that comes from a file or a person is printed with ``markup=False``, so that Rich never
reads it as markup.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

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
from rich.text import Text

from tetsuban.active.curve import LearningCurve
from tetsuban.active.label_issues import LabelIssue, LabelIssues
from tetsuban.active.simulate import Curve
from tetsuban.agreement import Agreement
from tetsuban.backbones.embedder import EmbedReport
from tetsuban.commands import SplitRun
from tetsuban.deploy.stage import ExportReport
from tetsuban.evaluate.compare import Comparison
from tetsuban.evaluate.doctor import Finding
from tetsuban.evaluate.run import Evaluation
from tetsuban.finetune.run import Step, StepFn
from tetsuban.ingest.engine import ImportReport
from tetsuban.interrupts import interrupts_deferred
from tetsuban.learn.card import FinetunedHeadCard, HeadCard, KnnHeadCard
from tetsuban.learn.predict import PredictReport
from tetsuban.learn.train import TrainReport
from tetsuban.progress import ProgressFn
from tetsuban.props import Property
from tetsuban.reports.simulation_report import reach_table
from tetsuban.status import ProjectStatus
from tetsuban.store.splits import SplitEvent
from tetsuban.survey.compute import SurveyReport
from tetsuban.survey.table import Row

PIPED_WIDTH = 1_000  # a pipe or a file has no width: tables and lines are never wrapped or cut to fit one


def _console(stderr: bool) -> Console:
    """Rich's console on a terminal; into a pipe or a file, one wide enough that nothing is wrapped at 80."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=PIPED_WIDTH)


out = _console(stderr=False)
err = _console(stderr=True)


def plain(value: object) -> Text:
    """A table cell shown as it is: a class name or a path like ``[red]x`` is not Rich markup."""
    return Text(str(value))


def say(text: str) -> None:
    """One line (or paragraph) of plain text on stdout, wrapped softly; nothing in it is read as markup."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def warn(text: str) -> None:
    """A note on stderr: something the user should know that did not stop the command."""
    err.print(text, markup=False, highlight=False, soft_wrap=True)


def error(text: str) -> None:
    """The one line a failed command prints."""
    err.print("[bold red]error:[/] ", end="")
    err.print(text, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def progress(description: str) -> Iterator[ProgressFn]:
    """A progress bar on stderr that appears with the first progress report, so that an early error stands alone."""
    with progress_bars(description) as (update,):
        yield update


@contextmanager
def progress_bars(*descriptions: str) -> Iterator[list[ProgressFn]]:
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
            _start(bar)
            if index not in tasks:
                tasks[index] = bar.add_task(descriptions[index], total=total)
            bar.update(tasks[index], completed=done, total=total)

        return update

    try:
        yield [updater(index) for index in range(len(descriptions))]
    finally:
        _stop(bar)


def _start(bar: Progress) -> None:
    """Show the display if it is not shown yet, with Ctrl-C held until it is: Rich's display interrupted half-way
    through starting cannot be stopped (its stop takes down a hook the start had not put up yet), and the error that
    stopping it raises would hide the Ctrl-C, so that the command ends with a traceback instead of saying how to
    resume."""
    if not bar.live.is_started:
        with interrupts_deferred():
            bar.start()


def _stop(bar: Progress) -> None:
    """Take the display down if it is shown, with Ctrl-C held until it is, so that the terminal gets its cursor back."""
    if bar.live.is_started:
        with interrupts_deferred():
            bar.stop()


@contextmanager
def finetune_progress() -> Iterator[StepFn]:
    """A bar per stage and epoch on stderr, with the running training loss and the last validation accuracy."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bar = Progress(*columns, TextColumn("{task.fields[figures]}"), console=err, transient=False)
    tasks: dict[tuple[str, int], TaskID] = {}

    def update(step: Step) -> None:
        if not bar.live.is_started:
            _start(bar)
            if step.resumed:
                bar.console.print(f"Resuming from the checkpoint: epoch {step.epoch}.")
        name = (step.stage, step.epoch)
        if name not in tasks:
            what = "lower blocks, pass" if step.stage == "cache" else "fine-tuning epoch"
            tasks[name] = bar.add_task(f"{what} {step.epoch}/{step.epochs}", total=step.steps, figures="")
        val = "" if step.val_accuracy is None else f", val accuracy {step.val_accuracy:.3f}"
        figures = "" if step.stage == "cache" else f"loss {step.loss:.3f}{val}"
        bar.update(tasks[name], completed=step.step, figures=figures)

    try:
        yield update
    finally:
        _stop(bar)


def show_import(report: ImportReport, shown: int = 20) -> None:
    counts = report.counts
    say(
        f"Import {report.run_id} {report.status}: {counts['added']:,} added, {counts['duplicate']:,} duplicate, "
        f"{counts['unchanged']:,} unchanged, {counts['relinked']:,} relinked, {counts['skipped']:,} skipped."
    )
    for outcome in report.skipped[:shown]:
        say(f"  skipped {outcome.item}: {outcome.reason}")
    if len(report.skipped) > shown:
        say(f"  ... and {len(report.skipped) - shown:,} more; see: tetsuban status")


def show_failed(failed: Sequence[tuple[str, str]], shown: int = 20) -> None:
    for path, reason in failed[:shown]:
        say(f"  failed {path}: {reason}")
    if len(failed) > shown:
        say(f"  ... and {len(failed) - shown:,} more")


def show_status(st: ProjectStatus, skipped_shown: int) -> None:
    out.print(Text.assemble((st.name, "bold"), f" ({st.root})"), highlight=False, soft_wrap=True)
    say(f"{st.images:,} images, {st.labelled:,} labelled, {st.images - st.labelled:,} unlabelled")
    if st.per_class:
        table = Table("class", "images", title="Labelled per class", title_justify="left")
        for name, n in st.per_class.items():
            table.add_row(plain(name), f"{n:,}")
        out.print(table)
    if st.runs:
        out.print("[bold]Recent imports[/]:")
        for r in st.runs:
            when = datetime.fromtimestamp(r.started_at).strftime("%Y-%m-%d %H:%M")
            state = r.status if r.status == "finished" else f"{r.status} (did not finish; run it again to complete)"
            c = r.counts
            say(f"  #{r.id} {when} {r.kind} {r.source}: {state}")
            say(
                f"      {c['added']:,} added, {c['duplicate']:,} duplicate, {c['unchanged']:,} unchanged, "
                f"{c['relinked']:,} relinked, {c['skipped']:,} skipped"
            )
    if st.skipped:
        out.print(f"[bold]Skipped files[/] (recent imports, {len(st.skipped):,} shown at most {skipped_shown}):")
        for o in st.skipped[:skipped_shown]:
            say(f"  {o.item}: {o.reason}")
    if st.problems:
        out.print(
            f"[bold yellow]{len(st.problems):,} image file(s) need attention[/] "
            "(import the new location again to relink a moved file):"
        )
        for p in st.problems[:50]:
            say(f"  {p.problem}: {p.path} (image {p.image_id})")
    else:
        say("Every image file is present and unchanged.")


def show_survey(report: SurveyReport, rows: Sequence[Row], tables: Sequence[Path], page: Path) -> None:
    say(
        f"{report.total:,} images: {report.cached:,} surveyed before, {report.computed:,} now, "
        f"{len(report.failed):,} failed; {report.pairs_checked:,} pairs compared for recolouring "
        f"({report.seconds:.1f} s)."
    )
    show_failed(report.failed)
    measured = [r for r in rows if r["brightness"] is not None]
    counts = {
        "greyscale": sum(bool(r["greyscale"]) for r in measured),
        "with faces": sum(int(str(r["faces"])) > 0 for r in measured),
        "with straight lines (tilt known)": sum(r["tilt"] is not None for r in measured),
    }
    say(", ".join(f"{n:,} {what}" for what, n in counts.items()) + f" of {len(measured):,} surveyed.")
    for table in tables:
        say(f"Wrote {len(rows):,} rows to {table}")
    say(f"Report: {page}")


def show_split(reset: SplitEvent | None, event: SplitEvent, counts: Mapping[str, int], unsurveyed: int) -> None:
    if reset is not None:
        say(f"Reset: {reset.images:,} images lost their split (recorded as event {reset.id}).")
    if unsurveyed:
        warn(
            f"note: {unsurveyed:,} image(s) are not surveyed, so their near-duplicates could not be kept together. "
            "Run tetsuban survey before splitting (or split --reset afterwards)."
        )
    shares = ", ".join(f"{name} {counts.get(name, 0):,}" for name in ("train", "val", "test"))
    say(f"{event.images:,} images newly assigned. Now: {shares}")


def show_made_splits(run: SplitRun | None) -> None:
    """What a command that needs splits did when it found images without one (None: nothing to say); on stderr,
    as a note, so that what the command prints for scripts stays as it was."""
    if run is None:
        return
    event, counts = run.event, run.counts
    shares = ", ".join(f"{name} {counts.get(name, 0):,}" for name in ("train", "val", "test"))
    if event.images == sum(counts.values()):
        warn(
            f"No splits yet, so tetsuban made them (test {event.test}, val {event.val}, seed {event.seed}; "
            f"near-duplicates kept together): {shares}. The test split is frozen from now on: its images are never "
            "queued or trained on. Other shares: tetsuban split --reset --test SHARE --val SHARE"
        )
    else:
        warn(f"{event.images:,} new image(s) got a split, with the shares in force. Now: {shares}")


def show_findings(findings: Sequence[Finding]) -> None:
    colours = {"pass": "green", "warn": "yellow", "fail": "red"}
    for f in findings:
        out.print(f"[bold {colours[f.status]}]{f.status.upper():4}[/] ", end="")
        say(f"{f.check}: {f.message}")
        if f.advice:
            say(f"     -> {f.advice}")


def show_embed(report: EmbedReport) -> None:
    rate = report.computed / report.seconds if report.seconds > 0 else 0.0
    say(
        f"{report.total:,} images: {report.cached:,} were cached, {report.computed:,} computed ({rate:.0f}/s), "
        f"{report.reused:,} reused (same model input), {len(report.failed):,} failed. Backbone {report.backbone}."
    )
    show_failed(report.failed)


def show_train(report: TrainReport) -> None:
    card = report.artifact.card
    counts = ", ".join(f"{name} {n:,}" for name, n in card.label_counts.items())
    say(f"Trained {card.id} on {card.data.images:,} labelled images ({counts}).")
    v = report.validation
    if v.accuracy is None:
        say(f"Validation: {v.note}.")
    else:
        how = f"{v.images:,} images of the val split" if v.folds == 0 else f"{v.folds}-fold cross-validation"
        say(
            f"Validation ({how}): accuracy {v.accuracy:.3f}, balanced accuracy {v.balanced_accuracy:.3f}; "
            f"{card.head.kind}, {head_summary(card.head)}; {report.seconds:.1f} s."
        )
    say(f"Model: {report.artifact.folder}")


def head_summary(head: HeadCard) -> str:
    """The setting that describes a trained head: C, k, or a fine-tuning run's epochs."""
    if isinstance(head, KnnHeadCard):
        return f"k = {head.k}"
    if not isinstance(head, FinetunedHeadCard):
        return f"C = {head.C:g}"
    stopped = "" if head.ended_by == "recipe" else f" (stopped by the {head.ended_by})"
    kept = f"kept {head.kept}" if head.kept else f"kept {head.best_stage} epoch {head.best_epoch}"
    return f"{head.epochs} of {head.planned_epochs} fine-tuning epochs{stopped} on {head.device}; {kept}"


def show_queue(picks: Sequence[tuple[int, Path]]) -> None:
    """Plain tab-separated lines (image id, path), for scripts."""
    for image_id, path in picks:
        print(f"{image_id}\t{path}")


def show_label_issues(found: LabelIssues[tuple[int, Path, LabelIssue]], folds: int, limit: int) -> None:
    issues = found.issues
    table = Table("image", "path", "label", "suggested", "p(suggested)", "p(wrong)")
    table.columns[1].overflow = "fold"  # a narrow terminal folds a long path onto more lines, never cuts it
    for image_id, path, issue in issues[:limit]:
        table.add_row(
            str(image_id),
            plain(path),
            plain(issue.given),
            plain(issue.suggested),
            f"{issue.suggested_calibrated:.3f}",
            f"{issue.wrong_probability:.3f}",
        )
    out.print(table)
    say(f"{len(issues):,} of {found.wrong.labels:,} labels look wrong (confident learning, {folds}-fold).")
    say(found.wrong.sentence)


def show_curve(found: LearningCurve, target: float | None) -> None:
    table = Table("train labels", "val accuracy", "fitted")
    for n, accuracy in zip(found.labels, found.accuracy, strict=True):
        table.add_row(f"{n:,}", f"{accuracy:.3f}", f"{float(found.fit.accuracy(n)):.3f}")
    out.print(table)
    low, mid, high = found.expected(2 * found.current)
    say(
        f"At {2 * found.current:,} labels (twice today's): {mid:.3f} expected, {low:.3f} to {high:.3f} "
        f"(10th to 90th percentile over {len(found.band_fits)} bootstrap fits; {found.validation_images} "
        f"validation images). Fitted ceiling {found.fit.ceiling:.3f}."
    )
    if target is not None:
        say(found.reach(target).sentence)


def show_simulation(curves: Sequence[Curve], page: Path) -> None:
    targets, table = reach_table(curves)
    summary = Table("strategy + head", *(f"labels to ≥ {t:.3f}" for t in targets))
    for name, row in table.items():
        summary.add_row(plain(name), *(f"{n:,}" if n is not None else "never" for n in row))
    out.print(summary)
    say(f"Report: {page}")


def show_serving(project: Path, host: str, port: int, logins: bool) -> None:
    shown = f"[{host}]" if ":" in host else host
    access = "log in as a user" if logins else "no login: this machine only"
    say(f"Labeling {project} at http://{shown}:{port}/ ({access}; Ctrl+C stops; labels are saved as you go)")


def show_agreement(found: Agreement) -> None:
    say(f"{found.images} images labelled by two or more people; all agree on {found.unanimous}.")
    for pair in found.pairs:
        kappa = "undefined" if pair.kappa is None else f"{pair.kappa:.2f}"
        say(f"{pair.first} and {pair.second}: {pair.agreed}/{pair.images} alike ({pair.share:.0%}), kappa {kappa}")


def show_evaluation(evaluation: Evaluation, page: Path) -> None:
    metrics = evaluation.metrics
    unread = f"; {len(evaluation.failed)} test files could not be read" if evaluation.failed else ""
    say(
        f"{evaluation.model_id} on {metrics.images} test images: accuracy {metrics.accuracy:.3f}, balanced "
        f"{metrics.balanced_accuracy:.3f}, macro F1 {metrics.macro_f1:.3f}, calibration error {metrics.ece:.3f}"
        + unread
    )
    say(f"Report: {page}")


def show_comparison(found: Comparison, a: str, b: str) -> None:
    verdict = "a clear difference" if found.clear else "no clear difference"
    say(
        f"On {found.images} test images: {a} {found.accuracy_a:.3f}, {b} {found.accuracy_b:.3f}; "
        f"difference {found.difference:+.3f} (95% paired bootstrap interval {found.low:+.3f} to {found.high:+.3f}: "
        f"{verdict}). Only {a} right on {found.only_a}, only {b} on {found.only_b}."
    )


def show_prediction(report: PredictReport) -> None:
    say(
        f"Wrote {report.output}: {report.predicted:,} predicted, {report.failed:,} could not be read "
        f"(see the error column); {report.seconds:.1f} s."
    )


def show_export(report: ExportReport) -> None:
    kind = report.format if report.quantize == "none" else f"{report.format}, {report.quantize}"
    say(f"Wrote {report.output} ({kind}, {report.bytes / 1e6:.1f} MB).")


def show_properties(found: Sequence[tuple[Property, int]]) -> None:
    table = Table("property", "kind", "values or rule", "images with a value")
    for prop, count in found:
        table.add_row(plain(prop.name), prop.kind, plain(prop.rule or ", ".join(prop.choices)), f"{count:,}")
    out.print(table)


def show_property(prop: Property) -> None:
    detail = prop.rule or ", ".join(prop.choices)
    say(f"Added {prop.name} ({prop.kind}{': ' + detail if detail else ''})")
