"""A tetsuban project folder: its configuration, its store, and the operations a user runs on it.

``Project`` is a thin front: each method hands its work to the module that owns it.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tetsuban.accounts import Accounts
from tetsuban.active.curve import LearningCurve
from tetsuban.active.data import (
    ActiveData,
    curve_of,
    label_issues,
    loop_for,
    next_images,
    simulation_inputs,
)
from tetsuban.active.label_issues import DEFAULT_FOLDS, LabelIssue
from tetsuban.active.loop import LabelLoop
from tetsuban.active.record import SNAPSHOT_SECONDS, LoopRecorder
from tetsuban.active.registry import DEFAULT_STRATEGY, strategy_named
from tetsuban.active.simulate import Curve, simulate_all
from tetsuban.backbones.embedder import EmbedReport, embed_records
from tetsuban.backbones.onnx_export import ExportedBackbone, export_backbone
from tetsuban.config import weights_file
from tetsuban.doctor import Finding, diagnose
from tetsuban.errors import ProjectError, SourceError, TetsubanError
from tetsuban.evaluate.analysis import nearest_training, slices, suspect_labels
from tetsuban.evaluate.compare import Comparison, compare_evaluations
from tetsuban.evaluate.gradcam import miss_maps
from tetsuban.evaluate.models import model_before, test_images
from tetsuban.evaluate.run import Evaluation, ScoredImage, evaluate_artifact
from tetsuban.evaluate.sanity import agreement_check, overfit_check, shuffle_check
from tetsuban.export import export_labels
from tetsuban.finetune.network import load_network, network_embeddings, network_weights
from tetsuban.finetune.run import FinetuneSetup, LabelledFiles, StepFn, finetune
from tetsuban.imaging.decode import decode
from tetsuban.ingest.archive import archive_work
from tetsuban.ingest.engine import (
    EarlyFn,
    ImportReport,
    ImportTarget,
    batched,
    file_batch_size,
    pooled,
    run_import,
)
from tetsuban.ingest.folder import folder_tasks
from tetsuban.ingest.idx import idx_work, is_idx
from tetsuban.ingest.kinds import kind_by_name
from tetsuban.ingest.prepare import FileTask, Prepared, Task
from tetsuban.ingest.table import UrlItem, read_csv
from tetsuban.ingest.urls import fetch_prepared
from tetsuban.learn.artifact import Artifact, load_artifact
from tetsuban.learn.train import TrainingData, TrainReport, train_probe
from tetsuban.parallel import worker_count
from tetsuban.params import check_float, check_int
from tetsuban.pipeline.fitted import FIT_DECODE_SIDE
from tetsuban.pipeline.preview import contact_sheet, write_png
from tetsuban.pipeline.spec import Pipeline
from tetsuban.progress import ProgressFn
from tetsuban.props import Property, Value, define, parse_rule
from tetsuban.reports.evaluation_report import (
    Extras,
    embedding_map,
    more_labels,
    worst_misses,
    write_evaluation_report,
)
from tetsuban.reports.simulation_report import write_simulation_report
from tetsuban.reports.survey_report import write_survey_report
from tetsuban.splits import SplitItem, SplitPlan, assign_splits
from tetsuban.status import ProjectStatus, project_status
from tetsuban.store.embeddings import embedded_backbones, load_embeddings
from tetsuban.store.images import ImageRecord, readable_records
from tetsuban.store.labels import (
    LabelEvent,
    add_labels,
    class_counts,
    current_labels,
    ensure_classes,
    label_history,
    labels_since,
)
from tetsuban.store.loop_state import (
    Retrain,
    load_snapshot,
    retrain_history,
)
from tetsuban.store.properties import (
    ValueEvent,
    add_property,
    current_values,
    defined,
    set_values,
    value_history,
    values_of_image,
)
from tetsuban.store.runs import Outcome, known_items, run_outcomes
from tetsuban.store.splits import SplitEvent, add_splits, current_splits, reset_splits, split_history
from tetsuban.store.survey import load_survey, recolour_checked
from tetsuban.survey.compute import SURVEY_VERSION, SurveyReport, survey_records
from tetsuban.survey.duplicates import groups_of
from tetsuban.survey.links import check_recolours, near_duplicates
from tetsuban.survey.lookalikes import LOOK_ALIKE, SAME_PICTURE, look_alike_pairs, similar_pairs
from tetsuban.survey.properties import PixelStats
from tetsuban.survey.recolour import RECOLOUR_VERSION
from tetsuban.survey.table import COLUMNS as SURVEY_COLUMNS
from tetsuban.survey.table import Row, survey_rows, write_survey_csv, write_survey_parquet
from tetsuban.workspace import Workspace, create_workspace, open_workspace


@dataclass(frozen=True)
class RunningLoop:
    """A labelling loop, the image id of each of its rows, and what records it into the store."""

    loop: LabelLoop
    image_ids: np.ndarray
    recorder: LoopRecorder

    def flush(self) -> None:
        """Store the latest probabilities and queue now."""
        self.recorder.flush(self.loop.snapshot)


MODELS_DIR = "models"


class Project:
    """An open project. Make one with :meth:`init` or :meth:`open`; close it (or use ``with``) when done."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.root = workspace.root
        self.config = workspace.config
        self._engine = workspace.engine

    # -- life cycle ---------------------------------------------------------------------------------------------

    @classmethod
    def init(cls, path: str | Path, name: str | None = None) -> Project:
        """Create a project in ``path`` (made if missing): tetsuban.toml and the database."""
        return cls(create_workspace(path, name))

    @classmethod
    def open(cls, path: str | Path) -> Project:
        """Open the project in ``path``, upgrading its store if an older tetsuban made it."""
        return cls(open_workspace(path))

    def close(self) -> None:
        """Release the database connections."""
        self.workspace.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- import ---------------------------------------------------------------------------------------------------

    def import_path(
        self,
        source: str | Path,
        labels: str | Path | None = None,
        copy: bool = False,
        labels_from_folders: bool = True,
        class_names: Sequence[str] | None = None,
        on_progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Import from ``source``, whatever its kind: a folder, an image, a CSV, an archive or an IDX file.

        A file's name decides its kind (kind_by_name): a JPEG that is also a zip is imported as the JPEG its name
        says, and a zip named .zip as an archive, never the other way round.
        """
        path = Path(source).expanduser()
        if not path.exists():
            raise SourceError(f"{source} does not exist. Check the path.")
        if labels is not None and not (path.is_file() and is_idx(path)):
            raise SourceError("A separate labels file (--labels) goes only with an IDX images file.")
        if path.is_dir():
            return self.import_folder(path, copy, labels_from_folders, on_progress)
        if not path.is_file():
            raise SourceError(f"{source} is not a regular file or a folder (a device, a FIFO?): nothing to import.")
        kind = kind_by_name(path)
        if kind == "csv":
            return self.import_csv(path, copy, on_progress)
        if kind == "archive":
            return self.import_archive(path, labels_from_folders, on_progress)
        if kind is None and is_idx(path):
            return self.import_idx(path, None if labels is None else Path(labels), class_names, on_progress)
        return self.import_files([path], copy, on_progress)

    def import_folder(
        self,
        folder: str | Path,
        copy: bool = False,
        labels_from_folders: bool = True,
        on_progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Import every file below ``folder``; sub-folders name classes unless ``labels_from_folders`` is off."""
        root = Path(folder).expanduser()
        tasks = folder_tasks(root, copy, labels_from_folders, self.root)
        return self._run_tasks(
            root, "folder", {"copy": copy, "labels_from_folders": labels_from_folders}, tasks, on_progress
        )

    def import_files(
        self, files: Sequence[str | Path], copy: bool = False, on_progress: ProgressFn | None = None
    ) -> ImportReport:
        """Import the given image files, unlabelled."""
        paths = [Path(f).expanduser().resolve() for f in files]
        tasks: list[Task] = [FileTask(str(p), None, copy) for p in paths]
        source = str(paths[0]) if len(paths) == 1 else f"{len(paths)} files"
        return self._run_tasks(source, "files", {"copy": copy}, tasks, on_progress)

    def import_csv(
        self, csv_path: str | Path, copy: bool = False, on_progress: ProgressFn | None = None
    ) -> ImportReport:
        """Import the files and URLs listed in a CSV (a path or URL column, an optional label column)."""
        path = Path(csv_path).expanduser()
        rows = read_csv(path, copy)
        target = self._target()
        files = pooled(target, self._file_batches(rows.files), len(rows.files))

        def produce(early: EarlyFn) -> Iterator[list[Prepared]]:
            if rows.bad_rows:
                early(rows.bad_rows)
            yield from files(early)
            yield from self._fetch_new(rows.urls, early)

        total = len(rows.files) + len(rows.urls) + len(rows.bad_rows)
        return run_import(target, str(path.resolve()), "csv", {"copy": copy}, produce, total, on_progress)

    def import_archive(
        self, archive: str | Path, labels_from_folders: bool = True, on_progress: ProgressFn | None = None
    ) -> ImportReport:
        """Import a zip or tar archive; its images are always stored in the project."""
        path = Path(archive).expanduser()
        work = archive_work(path, labels_from_folders, self.config.imports.max_bytes)
        target = self._target()

        def produce(early: EarlyFn) -> Iterator[list[Prepared]]:
            def tasks() -> Iterator[list[Task]]:
                for batch in work.batches:
                    skipped = [b for b in batch if isinstance(b, Outcome)]
                    if skipped:
                        early(skipped)
                    kept: list[Task] = [b for b in batch if not isinstance(b, Outcome)]
                    if kept:
                        yield kept

            yield from pooled(target, tasks(), work.total)(early)

        options = {"labels_from_folders": labels_from_folders}
        return run_import(target, str(path.resolve()), "archive", options, produce, work.total, on_progress)

    def import_idx(
        self,
        images: str | Path,
        labels: str | Path | None = None,
        class_names: Sequence[str] | None = None,
        on_progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Import an IDX images file (MNIST format), labelled by an IDX labels file; stored in the project."""
        images_path = Path(images).expanduser()
        labels_path = None if labels is None else Path(labels).expanduser()
        work = idx_work(images_path, labels_path, class_names)
        target = self._target()
        options = {
            "labels": None if labels_path is None else str(labels_path.resolve()),
            "class_names": None if class_names is None else list(class_names),
        }
        return run_import(
            target,
            str(images_path.resolve()),
            "idx",
            options,
            pooled(target, work.batches, work.total),
            work.total,
            on_progress,
        )

    # -- reading --------------------------------------------------------------------------------------------------

    def status(self) -> ProjectStatus:
        """Counts, labels per class, recent imports with skipped files, and files that vanished or changed."""
        return project_status(self.root, self.config.name, self._engine)

    def import_outcomes(self, run_id: int, outcome: str | None = None) -> list[Outcome]:
        """What happened to each item of an import run (only one kind of outcome, with ``outcome``)."""
        with self._engine.connect() as conn:
            return run_outcomes(conn, [run_id], outcome)

    def images(self) -> list[ImageRecord]:
        """Every image record, in id order."""
        return self.workspace.images()

    def image_path(self, record: ImageRecord) -> Path:
        """The file holding an image's bytes."""
        return self.workspace.image_path(record)

    def label_history(self, image_id: int | None = None) -> list[LabelEvent]:
        """Every label event (of one image), oldest first."""
        with self._engine.connect() as conn:
            return label_history(conn, image_id)

    def set_labels(
        self,
        assignments: Sequence[tuple[int, str | None]],
        source: str = "human",
        author: str | None = None,
        seconds_on_screen: float | None = None,
    ) -> None:
        """Record new labels (None clears one); the history keeps every earlier label."""
        with self._engine.begin() as conn:
            add_labels(conn, list(assignments), source, author or getpass.getuser(), seconds_on_screen)

    def classes(self) -> list[str]:
        """Every class name, labelled or not yet, in the order they were added (so that the app's keys 1-9 stay
        put when a class is added)."""
        return self.workspace.classes()

    def class_counts(self) -> dict[str, int]:
        """Images per class by their current label (0 for a class no image has now)."""
        with self._engine.connect() as conn:
            return class_counts(conn)

    def labels_since(self, since: float) -> int:
        """Labels people gave (imports and clearings aside) since the time ``since`` (seconds since the epoch)."""
        with self._engine.connect() as conn:
            return labels_since(conn, since)

    def add_class(self, name: str) -> None:
        """Add a class before any image has it (labelling adds classes too)."""
        with self._engine.begin() as conn:
            ensure_classes(conn, {name})

    @property
    def accounts(self) -> Accounts:
        """The labeling app's users and sessions."""
        return Accounts(self._engine)

    def pipeline(self) -> Pipeline:
        """The pipeline of tetsuban.toml, with whitening (if any) fitted on this project's images."""
        return self.workspace.pipeline()

    def preview(self, out: str | Path, n: int = 32, augmented: int = 5, seed: int = 0) -> Path:
        """Write a PNG contact sheet: ``n`` random images, each preprocessed and augmented ``augmented`` times."""
        check_int("n", n, 1, 1000)
        check_int("augmented", augmented, 1, 20)
        records = self.images()
        if not records:
            raise ProjectError("The project has no images to preview. Import some first: tetsuban import")
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(len(records), size=min(n, len(records)), replace=False).tolist())
        with self._engine.connect() as conn:
            labels = current_labels(conn, [records[i].id for i in chosen])
        images = [
            (decode(self.image_path(records[i]), max_side=FIT_DECODE_SIDE), _label_of(labels, records[i].id))
            for i in chosen
        ]
        path = Path(out).expanduser()
        write_png(path, contact_sheet(images, self.pipeline(), augmented, seed))
        return path

    # -- survey ---------------------------------------------------------------------------------------------------

    def survey(self, on_progress: ProgressFn | None = None, on_compare: ProgressFn | None = None) -> SurveyReport:
        """Compute the pixel properties of every image not surveyed yet (cached by content), then compare the
        candidate pairs of colour images not compared yet for a recolouring. ``on_progress`` hears (images done,
        images), ``on_compare`` (pairs compared, pairs to compare)."""
        workers = worker_count(self.config.imports.workers)
        records = self.images()
        report = survey_records(self._engine, self.root, records, workers, on_progress)
        started = time.perf_counter()
        pairs = check_recolours(self._engine, self.root, records, SURVEY_VERSION, workers, on_compare)
        return replace(report, pairs_checked=pairs, seconds=report.seconds + time.perf_counter() - started)

    def survey_table(self) -> list[Row]:
        """One row per image: file facts, current label and pixel properties (None where not surveyed)."""
        with self._engine.connect() as conn:
            stats = load_survey(conn, SURVEY_VERSION)
        return survey_rows(self.images(), stats, self.labelled(), self.image_path)

    def export_survey(self, out: str | Path) -> int:
        """Write the survey table to a CSV file, or Parquet when ``out`` ends in .parquet; returns the row count."""
        path = Path(out).expanduser()
        if path.suffix.lower() == ".parquet":
            return write_survey_parquet(self.survey_table(), path)
        return write_survey_csv(self.survey_table(), path)

    def survey_report(self, out: str | Path | None = None) -> Path:
        """Write survey.html (into the project folder unless ``out`` says where) and return its path."""
        path = self.root / "survey.html" if out is None else Path(out).expanduser()
        vectors = self._stored_embeddings()
        every, mutual = similar_pairs(vectors, min(LOOK_ALIKE, SAME_PICTURE))  # one pass over all pairs serves both
        pairs = self._near_duplicates_of(self._surveyed(), [p for p in mutual if p[2] >= SAME_PICTURE])
        look_alikes = [p for p in every if p[2] >= LOOK_ALIKE] if vectors else None
        return write_survey_report(path, self.config.name, self.survey_table(), pairs, look_alikes)

    # -- the property sheet ---------------------------------------------------------------------------------------

    def add_property(self, name: str, kind: str, values: Sequence[str] = (), rule: str | None = None) -> Property:
        """Define a property: bool, choice (with ``values``), number or text; or a bool ``rule`` over a survey
        measurement, such as ``brightness < 40``."""
        numeric = [c for c in SURVEY_COLUMNS if c not in ("image_id", "path", "label", "format", "phash")]
        prop = define(name, kind, values, rule, numeric)
        with self._engine.begin() as conn:
            add_property(conn, prop)
        return prop

    def properties(self) -> dict[str, Property]:
        """The property sheet's definitions, by name."""
        with self._engine.connect() as conn:
            return defined(conn)

    def set_property(
        self, name: str, values: Sequence[tuple[int, str | bool | float | None]], author: str | None = None
    ) -> int:
        """Set ``name`` for each (image id, value); values are checked against the property's kind."""
        prop = self._property(name)
        if prop.rule is not None:
            raise ProjectError(f"The property '{name}' is computed ({prop.rule}); it cannot be set by hand.")
        known = {r.id for r in self.images()}
        unknown = sorted({i for i, _ in values} - known)
        if unknown:
            raise ProjectError(f"No image with id {unknown[0]} in the project ({len(unknown)} unknown ids).")
        parsed = [(i, prop.parse(v)) for i, v in values]
        with self._engine.begin() as conn:
            set_values(conn, name, parsed, author or getpass.getuser())
        return len(parsed)

    def set_property_by_path(
        self, name: str, values: Sequence[tuple[str | Path, str | bool | float | None]], author: str | None = None
    ) -> int:
        """:meth:`set_property` with image files instead of ids; an unknown file stops it before anything is set."""
        ids = {str(self.image_path(r).resolve()): r.id for r in self.images()}
        resolved = [(str(Path(p).expanduser().resolve()), v) for p, v in values]
        unknown = [path for path, _ in resolved if path not in ids]
        if unknown:
            raise ProjectError(
                f"{len(unknown)} file(s) are not images of this project, e.g. {unknown[0]}. Import them first."
            )
        return self.set_property(name, [(ids[path], v) for path, v in resolved], author)

    def property_values(self, name: str) -> dict[int, Value]:
        """Each image's current value of ``name`` (computed from the survey for a rule)."""
        prop = self._property(name)
        if prop.rule is None:
            with self._engine.connect() as conn:
                return current_values(conn, name)
        column, compare, threshold = parse_rule(prop.rule, SURVEY_COLUMNS)
        return {
            int(str(row["image_id"])): compare(float(str(row[column])), threshold)
            for row in self.survey_table()
            if row[column] is not None
        }

    def values_of(self, image_id: int) -> dict[str, Value]:
        """The values set by hand on one image, by property name (rules, computed from the survey, aside)."""
        with self._engine.connect() as conn:
            return values_of_image(conn, image_id)

    def property_history(self, name: str, image_id: int | None = None) -> list[ValueEvent]:
        """Every value of ``name`` set by hand (of one image), oldest first."""
        self._property(name)
        with self._engine.connect() as conn:
            return value_history(conn, name, image_id)

    def _property(self, name: str) -> Property:
        props = self.properties()
        if name not in props:
            raise ProjectError(f"No property named '{name}'. Defined: {', '.join(props) or '(none yet)'}.")
        return props[name]

    # -- splits ---------------------------------------------------------------------------------------------------

    def split(
        self,
        test: float = 0.2,
        val: float = 0.1,
        seed: int = 0,
        groups: Mapping[int, Hashable] | None = None,
        author: str | None = None,
        by: str | None = None,
    ) -> SplitEvent:
        """Assign a split to every image that has none, stratified by label and keeping each group together.

        Images with a split keep it (the test set is frozen); the shares must be those the splits were made with.
        ``groups`` maps image ids to group keys (near-duplicates share one); by default the groups that
        :meth:`near_duplicates` links (from the survey; run it first, and embed to add the model's pairs).
        With ``by``, the shares hold within each class and value of that property too.
        """
        plan = SplitPlan(test, val)
        with self._engine.connect() as conn:
            existing = current_splits(conn)
            history = split_history(conn)
        _check_same_shares(history, plan)
        labels = self.labelled()
        extra = {} if by is None else self.property_values(by)
        chosen = groups if groups is not None else self._duplicate_groups()
        items = [
            SplitItem(r.id, f"{labels.get(r.id, '(unlabelled)')}|{extra.get(r.id)}", chosen.get(r.id, ("image", r.id)))
            for r in self.images()
        ]
        assigned = assign_splits(items, existing, plan, seed)
        with self._engine.begin() as conn:
            return add_splits(conn, assigned, author or getpass.getuser(), test, val, seed)

    def splits(self) -> dict[int, str]:
        """Each assigned image's split (train, val or test), by image id."""
        return self.workspace.splits()

    def split_history(self) -> list[SplitEvent]:
        """Every split assignment and reset, oldest first."""
        with self._engine.connect() as conn:
            return split_history(conn)

    def reset_splits(self, author: str | None = None) -> SplitEvent:
        """Clear every split (the test set included), recording who did it; the next split starts afresh."""
        with self._engine.begin() as conn:
            return reset_splits(conn, author or getpass.getuser())

    def near_duplicates(self) -> list[tuple[int, int, int]]:
        """(image id, image id, perceptual-hash bits apart) of surveyed images that are the same picture: hashes
        within 4 bits and 16x16 fingerprints correlating at 0.99 or more, one a recolouring of the other
        (survey/recolour.py), or, once embedded, mutual nearest neighbours at cosine 0.90 or more
        (survey/lookalikes.py)."""
        return self._near_duplicates_of(self._surveyed())

    def look_alikes(self, threshold: float = LOOK_ALIKE, mutual: bool = False) -> list[tuple[int, int, float]]:
        """(image id, image id, cosine) of images whose embeddings (the project's backbone and preprocess) are at
        least ``threshold`` alike; with ``mutual``, only pairs of mutual nearest neighbours. Empty until
        :meth:`embed` has run; images without an embedding are left out."""
        check_float("threshold", threshold, -1.0, 1.0)
        return look_alike_pairs(self._stored_embeddings(), threshold, mutual)

    def doctor(self, model: str | Path | None = None) -> list[Finding]:
        """Checks for an honest evaluation: files, leakage across splits, class balance, test images per class;
        with ``model``, also its sanity on trivial cases (overfit 20 images, chance on shuffled labels, prediction
        embedding images as training did)."""
        surveyed = self._surveyed()
        paths = {r.id: str(self.image_path(r)) for r in self.images()}
        vectors = self._stored_embeddings()
        same_picture = look_alike_pairs(vectors, SAME_PICTURE, mutual=True)
        pairs = self._near_duplicates_of(surveyed, same_picture) if surveyed else None
        findings = diagnose(self.status().problems, self.labelled(), self.splits(), pairs, paths, bool(vectors))
        return findings if model is None else findings + self._model_sanity(load_artifact(model))

    def _model_sanity(self, artifact: Artifact, checked: int = 16) -> list[Finding]:
        """The model's sanity checks on the embeddings training used (its backbone and preprocess). A fine-tuned
        model's embeddings are its own (computed here when missing), and prediction is checked against its
        network in torch."""
        labels, splits = self.labelled(), self.splits()
        train_ids = [i for i in labels if splits.get(i, "train") == "train"]
        val_ids = [i for i in labels if splits.get(i) == "val"]
        records = self.images()
        finetuned = network_weights(artifact) is not None
        found = self._model_embeddings(artifact, train_ids + val_ids, records, compute=finetuned)
        train_ids = [i for i in train_ids if i in found]
        val_ids = [i for i in val_ids if i in found]
        if len(train_ids) < 2:
            raise ProjectError("The model's training images have no cached embeddings here. Run tetsuban embed.")
        train = np.stack([found[i] for i in train_ids])
        val = np.stack([found[i] for i in val_ids]) if val_ids else np.zeros((0, train.shape[1]))
        by_id = {r.id: r for r in records}
        files = [self.image_path(by_id[i]) for i in train_ids[:checked]]
        reference = train[: len(files)]
        if finetuned:
            computed = network_embeddings(load_network(artifact), artifact, files)
            reference = np.stack([computed.get(row, np.zeros(train.shape[1])) for row in range(len(files))])
        return [
            overfit_check(train, [labels[i] for i in train_ids]),
            shuffle_check(train, [labels[i] for i in train_ids], val, [labels[i] for i in val_ids]),
            agreement_check(artifact, files, reference),
        ]

    def _model_embeddings(
        self, artifact: Artifact, image_ids: Sequence[int], records: Sequence[ImageRecord], compute: bool = False
    ) -> dict[int, np.ndarray]:
        """The cached embeddings of ``image_ids`` under the model's backbone and preprocessing (those it has); with
        ``compute``, those missing are computed first by the model's own graph (a fine-tuned model's are its own)."""
        shas = {r.id: r.sha256 for r in records}
        wanted = [i for i in image_ids if i in shas]
        if compute:
            backbone = artifact.as_backbone()
            self._embed(records, backbone, artifact.pipeline, None, wanted)
        with self._engine.connect() as conn:
            found = load_embeddings(
                conn,
                str(artifact.card["backbone"]["key"]),
                str(artifact.card["preprocess_hash"]),
                [shas[i] for i in wanted],
            )
        return {i: found[shas[i]] for i in wanted if shas[i] in found}

    def _surveyed(self) -> dict[int, PixelStats]:
        """The survey's measurements of each surveyed image, by image id."""
        with self._engine.connect() as conn:
            stats = load_survey(conn, SURVEY_VERSION)
        return {r.id: stats[r.sha256] for r in self.images() if r.sha256 in stats}

    def _near_duplicates_of(
        self, surveyed: Mapping[int, PixelStats], same_picture: Sequence[tuple[int, int, float]] | None = None
    ) -> list[tuple[int, int, int]]:
        """Near-duplicates among ``surveyed``, with the model's ``same_picture`` pairs (found here when not given)."""
        with self._engine.connect() as conn:
            checked = recolour_checked(conn, RECOLOUR_VERSION)
        if same_picture is None:
            same_picture = look_alike_pairs(self._stored_embeddings(), SAME_PICTURE, mutual=True)
        return near_duplicates(surveyed, {r.id: r.sha256 for r in self.images()}, checked, same_picture)

    def _stored_embeddings(self) -> dict[int, np.ndarray]:
        """Each image's stored embedding under the project's backbone and preprocess, found without exporting the
        backbone (when several weights have embeddings, those with the most images); empty when none are stored."""
        preprocess = self.pipeline().preprocess_hash()
        with self._engine.connect() as conn:
            stored = embedded_backbones(conn, preprocess)
            mine = {key: n for key, n in stored.items() if key.startswith(f"{self.config.model.backbone}@")}
            if not mine:
                return {}
            records = self.images()
            found = load_embeddings(conn, max(mine, key=lambda k: mine[k]), preprocess, [r.sha256 for r in records])
        return {r.id: found[r.sha256] for r in records if r.sha256 in found}

    def _duplicate_groups(self) -> dict[int, Hashable]:
        """Connected components of :meth:`near_duplicates`."""
        return dict(groups_of((r.id for r in self.images()), self.near_duplicates()))

    # -- embeddings and models ------------------------------------------------------------------------------------

    def using_model(self, backbone: str | None = None, weights: str | None = None) -> Project:
        """This project with another backbone (or weights file) than tetsuban.toml names, for one run."""
        return Project(self.workspace.with_model(backbone, weights))

    def backbone(self) -> ExportedBackbone:
        """The project's backbone as an ONNX graph (exported on first use, then cached per weights hash)."""
        return export_backbone(self.config.model.backbone, weights_file(self.root, self.config.model))

    def embed(self, on_progress: ProgressFn | None = None, image_ids: Sequence[int] | None = None) -> EmbedReport:
        """Compute the embeddings that are not cached yet, for every image (or those of ``image_ids``)."""
        return self._embed(self.images(), self.backbone(), self.pipeline(), on_progress, image_ids)

    def embeddings(self, image_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The cached embedding of each of ``image_ids`` that has one (run :meth:`embed` first)."""
        return self._embeddings(self.images(), self.backbone(), self.pipeline(), image_ids)

    def _embed(
        self,
        records: Sequence[ImageRecord],
        backbone: ExportedBackbone,
        pipeline: Pipeline,
        on_progress: ProgressFn | None,
        image_ids: Sequence[int] | None,
    ) -> EmbedReport:
        if image_ids is not None:
            wanted = set(image_ids)
            records = [r for r in records if r.id in wanted]
        workers = worker_count(self.config.model.workers)
        return embed_records(self._engine, self.root, records, backbone, pipeline, workers, on_progress)

    def _embeddings(
        self, records: Sequence[ImageRecord], backbone: ExportedBackbone, pipeline: Pipeline, image_ids: Sequence[int]
    ) -> dict[int, np.ndarray]:
        by_id = {r.id: r.sha256 for r in records}
        shas = [by_id[i] for i in image_ids if i in by_id]
        with self._engine.connect() as conn:
            found = load_embeddings(conn, backbone.key, pipeline.preprocess_hash(), shas)
        return {i: found[by_id[i]] for i in image_ids if i in by_id and by_id[i] in found}

    def labelled(self) -> dict[int, str]:
        """The current label of every labelled image, by image id."""
        return self.workspace.labelled()

    # -- the labelling loop ---------------------------------------------------------------------------------------

    def active_data(self, on_progress: ProgressFn | None = None) -> ActiveData:
        """Every image that has an embedding (computing those missing first), with its label, split and the time it
        was first labelled: what the loop, label issues, the learning curve and the simulator work on."""
        self.embed(on_progress)
        records = self.images()
        vectors = self.embeddings([r.id for r in records])
        ids = [r.id for r in records if r.id in vectors]
        if not ids:
            raise ProjectError("No image has an embedding. Import images, then run tetsuban embed.")
        labels, splits = self.labelled(), self.splits()
        with self._engine.connect() as conn:
            first: dict[int, float] = {}
            for event in label_history(conn):
                first.setdefault(event.image_id, event.created_at)
        return ActiveData(
            np.asarray(ids, np.int64),
            np.stack([vectors[i] for i in ids]),
            tuple(labels.get(i) for i in ids),
            tuple(splits.get(i) for i in ids),
            tuple(first.get(i) if i in labels else None for i in ids),
        )

    def next_to_label(self, count: int = 20, strategy: str = DEFAULT_STRATEGY, seed: int = 0) -> list[int]:
        """Image ids to label next, by ``strategy``, from the unlabelled train images (never val or test)."""
        check_int("count", count, 1, 100_000)
        return next_images(self.active_data(), strategy, count, seed)

    def holdout_to_label(self, count: int = 20, seed: int = 0) -> list[int]:
        """Up to ``count`` unlabelled val and test images in a random order fixed by ``seed``: the loop never
        queues them, so they stay samples of the data; the validation and the evaluation need them labelled."""
        check_int("count", count, 1, 100_000)
        labelled = self.labelled()
        held = sorted(i for i, split in self.splits().items() if split in ("val", "test") and i not in labelled)
        order = np.random.default_rng(seed).permutation(len(held))
        return [held[k] for k in order[:count]]

    def label_loop(
        self,
        strategy: str = DEFAULT_STRATEGY,
        retrain_every: int = 20,
        queue_size: int = 40,
        background: bool = True,
        snapshot_seconds: float = SNAPSHOT_SECONDS,
    ) -> RunningLoop:
        """A running labelling loop over this project's embedded images, with the image id of each of its rows.

        It learns from the labelled train images and queues unlabelled train images; each retrain is recorded
        (:meth:`retrains`), and its probabilities and queue once the loop is quiet for a few seconds or at the
        latest every ``snapshot_seconds`` (0: after every retrain; see :meth:`suggestions`; ``flush`` writes the
        latest). Give it new labels with ``loop.label(row, label)`` after
        :meth:`set_labels` has recorded them.
        """
        data = self.active_data()
        val_rows = {int(data.image_ids[row]): int(row) for row in np.flatnonzero(data.mask("val"))}
        recorder = LoopRecorder(self._engine, self.backbone().key, data.image_ids, val_rows, snapshot_seconds)
        loop = loop_for(data, strategy, retrain_every, queue_size, background, recorder)
        return RunningLoop(loop, data.image_ids, recorder)

    def suggestions(self) -> dict[int, tuple[str, float]]:
        """The loop's latest suggestion for each image: (most probable class, its probability); empty before the
        loop's first head."""
        with self._engine.connect() as conn:
            stored = load_snapshot(conn)
        if stored is None:
            return {}
        best = stored.probabilities.argmax(axis=1)
        return {
            int(image_id): (stored.classes[k], float(stored.probabilities[row, k]))
            for row, (image_id, k) in enumerate(zip(stored.image_ids, best, strict=True))
        }

    def retrains(self) -> list[Retrain]:
        """Each retrain of the labelling loop so far: labels learnt from and validation accuracy then."""
        with self._engine.connect() as conn:
            return retrain_history(conn)

    def label_issues(self, folds: int = DEFAULT_FOLDS, seed: int = 0) -> list[tuple[int, LabelIssue]]:
        """(image id, issue) for the labels that look wrong, most doubtful first (confident learning on
        out-of-fold probabilities)."""
        return label_issues(self.active_data(), folds, seed)

    def learning_curve(self, seed: int = 0) -> LearningCurve:
        """Validation accuracy against training labels, in labelling order, with a fitted power law."""
        return curve_of(self.active_data(), seed)

    def simulate(
        self,
        strategies: Sequence[str] = (DEFAULT_STRATEGY, "margin", "random"),
        budget: int = 2000,
        step: int = 50,
        seeds: int = 3,
        out: str | Path | None = None,
        on_progress: ProgressFn | None = None,
    ) -> tuple[list[Curve], Path]:
        """Run the labelling loop against the known labels of the labelled images, per strategy and seed, scoring
        on the test split; write simulation.html (into the project folder unless ``out`` says where)."""
        for name in strategies:
            strategy_named(name)  # a wrong name fails before any work
        x, labels, test = simulation_inputs(self.active_data())
        budget = min(budget, int((~test).sum()))
        curves = simulate_all(x, labels, test, strategies, budget, step, seeds, on_progress)
        setup = {"step": step, "seeds": seeds, "test_images": int(test.sum()), "pool_images": int((~test).sum())}
        path = self.root / "simulation.html" if out is None else Path(out).expanduser()
        return curves, write_simulation_report(path, self.config.name, curves, setup)

    def train(
        self,
        c: float | None = None,
        search_c: bool = False,
        seed: int = 0,
        on_progress: ProgressFn | None = None,
        head: str = "logistic",
    ) -> TrainReport:
        """Train the linear probe (``head`` "logistic", or "svm") into ``models/<id>/``, embedding the images not
        cached yet.

        With splits, the head learns from the labelled train images and is validated (and C chosen) on the val
        images; test images are never used. Without splits, every labelled image is used and cross-validated.
        """
        labels = self.labelled()
        train_ids, val_ids = self._train_and_val(labels)
        records, backbone, pipeline = self.images(), self.backbone(), self.pipeline()  # each read or hashed once
        report = self._embed(records, backbone, pipeline, on_progress, train_ids + val_ids)
        vectors = self._embeddings(records, backbone, pipeline, train_ids + val_ids)
        missing = [i for i in train_ids + val_ids if i not in vectors]
        if missing:
            reasons = "; ".join(f"{path}: {why}" for path, why in report.failed[:3])
            raise ProjectError(
                f"{len(missing)} labelled image(s) have no embedding ({reasons}). "
                "Fix or re-import those files (tetsuban status lists them), or clear their labels."
            )
        shas = {r.id: r.sha256 for r in records}

        def data(ids: Sequence[int]) -> TrainingData:
            return TrainingData([shas[i] for i in ids], [labels[i] for i in ids], np.stack([vectors[i] for i in ids]))

        held_out = data(val_ids) if val_ids else None
        return train_probe(
            self.root / MODELS_DIR, data(train_ids), backbone, pipeline, c, search_c, seed, held_out, head
        )

    def _train_and_val(self, labels: Mapping[int, str]) -> tuple[list[int], list[int]]:
        """The labelled images a model learns from (the train split; every one before splits exist) and those it is
        validated on (the val split); test images are never among them."""
        if not labels:
            raise ProjectError("No image is labelled yet. Label some images (or import labelled ones) first.")
        splits = self.splits()
        train_ids = [i for i in labels if splits.get(i) == "train"] if splits else list(labels)
        if not train_ids:
            raise ProjectError("No labelled image is in the train split. Label more images, or split again.")
        return train_ids, [i for i in labels if splits.get(i) == "val"]

    def finetune(
        self,
        seed: int = 0,
        epochs: int | None = None,
        device: str | None = None,
        on_step: StepFn | None = None,
    ) -> TrainReport:
        """Fine-tune the backbone on the labelled train images, stopping early on the val images (test images are
        never used), into ``models/<id>/``. A killed run resumes from its checkpoint when started again with the
        same labels and settings. ``epochs`` caps the whole-network stage (the recipe chooses otherwise)."""
        labels = self.labelled()
        train_ids, val_ids = self._train_and_val(labels)
        by_id = {r.id: r for r in self.images()}
        _, gone = readable_records(self.root, [by_id[i] for i in train_ids + val_ids])
        if gone:
            reasons = "; ".join(f"{path}: {why}" for path, why in gone[:3])
            raise ProjectError(
                f"{len(gone)} labelled image(s) cannot be read ({reasons}). "
                "Fix or re-import those files (tetsuban status lists them), or clear their labels."
            )

        def files(ids: Sequence[int]) -> LabelledFiles:
            return LabelledFiles(
                [self.image_path(by_id[i]) for i in ids], [by_id[i].sha256 for i in ids], [labels[i] for i in ids]
            )

        setup = FinetuneSetup(
            models_dir=self.root / MODELS_DIR,
            checkpoints=self.root / ".cache" / "finetune",
            backbone=self.config.model.backbone,
            weights=weights_file(self.root, self.config.model),
            base=self.backbone(),
            pipeline=self.pipeline(),
            seed=seed,
            epochs=epochs,
            workers=max(0, min(8, worker_count(self.config.model.workers) - 1)),
            device=device,
        )
        return finetune(setup, files(train_ids), files(val_ids) if val_ids else None, on_step)

    # -- evaluation -------------------------------------------------------------------------------------------------

    def evaluate(
        self, model: str | Path, out: str | Path | None = None, workers: int = 0, on_progress: ProgressFn | None = None
    ) -> tuple[Evaluation, Path]:
        """Score ``model`` on the labelled test images and write report.html (into the model's folder unless
        ``out`` says where), compared with the model made before it when there is one."""
        artifact = load_artifact(model)
        items = self._test_images()
        evaluation = evaluate_artifact(artifact, items, workers, on_progress)
        before = model_before(artifact.folder.parent, artifact)
        previous = None
        if before is not None:
            earlier = evaluate_artifact(before, items, workers)
            previous = (earlier.model_id, compare_evaluations(earlier, evaluation))
        path = artifact.folder / "report.html" if out is None else Path(out).expanduser()
        return evaluation, write_evaluation_report(
            path, self.config.name, evaluation, previous, self._extras(evaluation, artifact)
        )

    def _extras(self, evaluation: Evaluation, artifact: Artifact) -> Extras:
        """Property slices, suspect test labels, the learning curve's estimate (when one can be drawn), and the map
        of the training and test images' embeddings."""
        values = {name: self.property_values(name) for name in self.properties()}
        try:
            more = more_labels(self.learning_curve())
        except TetsubanError:
            more = None
        labels, splits, records = self.labelled(), self.splits(), self.images()
        train_ids = [i for i in labels if splits.get(i) == "train"]
        wanted = train_ids + [item.image_id for item in evaluation.items]
        vectors = self._model_embeddings(artifact, wanted, records, compute=True)
        head = artifact.card.get("head", {})
        by_sha = {r.sha256: r for r in records}
        by_id = {r.id: r for r in records}
        support = {
            name: [
                (by_sha[sha].id, self.image_path(by_sha[sha]), labels.get(by_sha[sha].id, "?"))
                for sha in shas
                if sha in by_sha
            ]
            for name, shas in head.get("support_vectors", {}).items()
        }
        worst = worst_misses(evaluation)
        near = nearest_training(
            [evaluation.items[n].image_id for n in worst], vectors, {i: labels[i] for i in train_ids}
        )
        cams = miss_maps(artifact, evaluation, worst)
        return Extras(
            slices(evaluation, values),
            suspect_labels(evaluation),
            more,
            embedding_map(evaluation, vectors, labels, {i: self.image_path(by_id[i]) for i in vectors if i in by_id}),
            support or None,
            head.get("support_vector_counts"),
            {i: [(n, self.image_path(by_id[n.image_id])) for n in found] for i, found in near.items()},
            cams,
        )

    def compare(self, a: str | Path, b: str | Path, workers: int = 0) -> Comparison:
        """Model ``b`` against model ``a`` on the same test images: accuracies, difference, paired bootstrap CI."""
        items = self._test_images()
        first = evaluate_artifact(load_artifact(a), items, workers)
        second = evaluate_artifact(load_artifact(b), items, workers)
        return compare_evaluations(first, second)

    def _test_images(self) -> list[ScoredImage]:
        records = self.images()
        return test_images(records, self.labelled(), self.splits(), {r.id: self.image_path(r) for r in records})

    def export_labels(self, out: str | Path, history: bool = False) -> int:
        """Write labels to a CSV (path, sha256, label, source, author, time); returns the number of rows."""
        return export_labels(self.root, self._engine, Path(out).expanduser(), history)

    # -- internals ------------------------------------------------------------------------------------------------

    def _target(self) -> ImportTarget:
        return ImportTarget(self.root, self._engine, self.config)

    def _run_tasks(
        self,
        source: str | Path,
        kind: str,
        options: Mapping[str, object],
        tasks: Sequence[Task],
        on_progress: ProgressFn | None,
    ) -> ImportReport:
        target = self._target()
        name = str(Path(source).resolve()) if isinstance(source, Path) else source
        produce = pooled(target, self._file_batches(tasks), len(tasks))
        return run_import(target, name, kind, options, produce, len(tasks), on_progress)

    def _file_batches(self, tasks: Sequence[Task]) -> Iterator[list[Task]]:
        size = file_batch_size(len(tasks), worker_count(self.config.imports.workers))
        return batched(tasks, size)

    def _fetch_new(self, urls: list[UrlItem], early: EarlyFn) -> Iterator[list[Prepared]]:
        with self._engine.connect() as conn:
            known = known_items(conn, [u.url for u in urls])
        if known:
            early([Outcome(u.url, "unchanged", None, known[u.url], u.label) for u in urls if u.url in known])
        todo = [u for u in urls if u.url not in known]
        yield from fetch_prepared(self._target().context(), self.config.fetch, todo)


def _check_same_shares(history: Sequence[SplitEvent], plan: SplitPlan) -> None:
    """Refuse shares other than those of the splits in force (the first assignment since the last reset)."""
    made: SplitEvent | None = None
    for event in history:
        if event.kind == "reset":
            made = None
        elif made is None and event.images > 0:
            made = event
    if made is not None and (made.test, made.val) != (plan.test, plan.val):
        raise ProjectError(
            f"The splits were made with test {made.test} and val {made.val}; new images follow those shares. "
            f"Got test {plan.test} and val {plan.val}. To change them, reset the splits (tetsuban split --reset), "
            "which puts every image, test images included, up for assignment again."
        )


def _label_of(labels: dict[int, LabelEvent], image_id: int) -> str | None:
    event = labels.get(image_id)
    return None if event is None else event.label
