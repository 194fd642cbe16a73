"""A tetsuban project as one object, the public facade: ``Project`` holds a :class:`~tetsuban.workspace.Workspace`
and hands each call, in one line, to the stage that owns it (``<stage>/stage.py``, which takes the workspace).
Scripts that use ``Project`` keep working while the stages change; ``tests/test_public_api.py`` guards its surface.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import numpy as np

from tetsuban import commands
from tetsuban.accounts import Accounts
from tetsuban.active import labels, stage as loop
from tetsuban.active.curve import LearningCurve
from tetsuban.active.heads import DEFAULT_HEAD
from tetsuban.active.label_issues import DEFAULT_FOLDS, LabelIssue, LabelIssues
from tetsuban.active.record import SNAPSHOT_SECONDS
from tetsuban.active.registry import DEFAULT_STRATEGY
from tetsuban.active.simulate import Curve
from tetsuban.backbones import stage as embedding
from tetsuban.backbones.embedder import EmbedReport
from tetsuban.backbones.onnx_export import ExportedBackbone
from tetsuban.evaluate import stage as evaluation
from tetsuban.evaluate.compare import Comparison
from tetsuban.evaluate.doctor import Finding
from tetsuban.evaluate.run import Evaluation
from tetsuban.export import export_labels
from tetsuban.finetune.run import StepFn
from tetsuban.finetune.stage import finetune_model
from tetsuban.ingest import stage as ingest
from tetsuban.ingest.engine import ImportReport
from tetsuban.learn import stage as learn
from tetsuban.learn.train import TrainReport
from tetsuban.pipeline.spec import Pipeline
from tetsuban.progress import ProgressFn
from tetsuban.props import Property, Value
from tetsuban.reports import preview, written
from tetsuban.splits import stage as splitting
from tetsuban.splits.assign import SplitPlan
from tetsuban.status import ProjectStatus, project_status
from tetsuban.store.images import ImageRecord
from tetsuban.store.labels import LabelEvent
from tetsuban.store.loop_state import Retrain
from tetsuban.store.properties import ValueEvent
from tetsuban.store.runs import Outcome
from tetsuban.store.splits import SplitEvent
from tetsuban.survey import sheet, stage as survey
from tetsuban.survey.compute import SurveyReport
from tetsuban.survey.lookalikes import LOOK_ALIKE
from tetsuban.survey.table import Row
from tetsuban.workspace import Workspace, create_workspace, open_workspace


class Project:
    """An open project. Make one with :meth:`init` or :meth:`open`; close it (or use ``with``) when done."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.root = workspace.root
        self.config = workspace.config

    # -- life cycle ---------------------------------------------------------------------------------------------
    @classmethod
    def init(cls, path: str | Path, name: str | None = None, database: str = "") -> Project:
        """Create a project in ``path`` (made if missing): tetsuban.toml and the database, a SQLite file in the
        folder or, with ``database``, the PostgreSQL database that URL names (empty, one per project)."""
        return cls(create_workspace(path, name, database))

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

    def using_model(self, backbone: str | None = None, weights: str | None = None) -> Project:
        """This project with another backbone (or weights file) than tetsuban.toml names, for one run."""
        return Project(self.workspace.with_model(backbone, weights))

    # -- import (ingest/stage.py) ---------------------------------------------------------------------------------
    def import_path(
        self,
        source: str | Path,
        labels: str | Path | None = None,
        copy: bool = False,
        labels_from_folders: bool = True,
        class_names: Sequence[str] | None = None,
        on_progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Import from a folder, an image, a CSV, an archive or an IDX file (:func:`ingest.stage.import_path`)."""
        return ingest.import_path(self.workspace, source, labels, copy, labels_from_folders, class_names, on_progress)

    def import_folder(
        self,
        folder: str | Path,
        copy: bool = False,
        labels_from_folders: bool = True,
        on_progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Import every file below ``folder``; sub-folders name classes unless ``labels_from_folders`` is off."""
        return ingest.import_folder(self.workspace, folder, copy, labels_from_folders, on_progress)

    def import_files(
        self, files: Sequence[str | Path], copy: bool = False, on_progress: ProgressFn | None = None
    ) -> ImportReport:
        """Import the given image files, unlabelled."""
        return ingest.import_files(self.workspace, files, copy, on_progress)

    def import_csv(
        self, csv_path: str | Path, copy: bool = False, on_progress: ProgressFn | None = None
    ) -> ImportReport:
        """Import the files and URLs listed in a CSV (a path or URL column, an optional label column)."""
        return ingest.import_csv(self.workspace, csv_path, copy, on_progress)

    def import_archive(
        self, archive: str | Path, labels_from_folders: bool = True, on_progress: ProgressFn | None = None
    ) -> ImportReport:
        """Import a zip or tar archive; its images are always stored in the project."""
        return ingest.import_archive(self.workspace, archive, labels_from_folders, on_progress)

    def import_idx(
        self,
        images: str | Path,
        labels: str | Path | None = None,
        class_names: Sequence[str] | None = None,
        on_progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Import an IDX images file (MNIST format), labelled by an IDX labels file; stored in the project."""
        return ingest.import_idx(self.workspace, images, labels, class_names, on_progress)

    def import_outcomes(self, run_id: int, outcome: str | None = None) -> list[Outcome]:
        """What happened to each item of an import run (only one kind of outcome, with ``outcome``)."""
        return ingest.import_outcomes(self.workspace, run_id, outcome)

    # -- reading and labelling (workspace.py, active/labels.py) ---------------------------------------------------
    def status(self) -> ProjectStatus:
        """Counts, labels per class, recent imports with skipped files, and files that vanished or changed."""
        return project_status(self.root, self.config.name, self.workspace.engine)

    def images(self) -> list[ImageRecord]:
        """Every image record, in id order."""
        return self.workspace.images()

    def image_path(self, record: ImageRecord) -> Path:
        """The file holding an image's bytes."""
        return self.workspace.image_path(record)

    def labelled(self) -> dict[int, str]:
        """The current label of every labelled image, by image id."""
        return self.workspace.labelled()

    def classes(self) -> list[str]:
        """Every class name, labelled or not yet, in the order they were added."""
        return self.workspace.classes()

    def label_history(self, image_id: int | None = None) -> list[LabelEvent]:
        """Every label event (of one image), oldest first."""
        return labels.history(self.workspace, image_id)

    def set_labels(
        self,
        assignments: Sequence[tuple[int, str | None]],
        source: str = "human",
        author: str | None = None,
        seconds_on_screen: float | None = None,
    ) -> None:
        """Record new labels (None clears one); the history keeps every earlier label."""
        labels.set_labels(self.workspace, assignments, source, author, seconds_on_screen)

    def class_counts(self) -> dict[str, int]:
        """Images per class by their current label (0 for a class no image has now)."""
        return labels.counts(self.workspace)

    def labels_since(self, since: float) -> int:
        """Labels people gave (imports and clearings aside) since the time ``since`` (seconds since the epoch)."""
        return labels.given_since(self.workspace, since)

    def add_class(self, name: str) -> None:
        """Add a class before any image has it (labelling adds classes too)."""
        labels.add_class(self.workspace, name)

    def rename_class(self, old: str, new: str, author: str | None = None) -> int:
        """Rename a class, keeping its place; its images get a label event naming ``new``. Returns how many."""
        return labels.rename_class(self.workspace, old, new, author)

    def merge_classes(self, sources: Sequence[str], into: str, author: str | None = None) -> int:
        """Relabel the images of ``sources`` as ``into`` and retire ``sources``. Returns how many."""
        return labels.merge_classes(self.workspace, sources, into, author)

    def remove_class(self, name: str, author: str | None = None) -> int:
        """Clear the labels of a class's images (the history keeps them) and retire it. Returns how many."""
        return labels.remove_class(self.workspace, name, author)

    def images_labelled(self, name: str) -> int:
        """How many images are labelled ``name`` now."""
        return labels.images_labelled(self.workspace, name)

    @property
    def accounts(self) -> Accounts:
        """The labeling app's users and sessions."""
        return Accounts(self.workspace.engine)

    def export_labels(self, out: str | Path, history: bool = False) -> int:
        """Write labels to a CSV (path, sha256, label, source, author, time); returns the number of rows."""
        return export_labels(self.root, self.workspace.engine, Path(out).expanduser(), history)

    # -- preprocessing (workspace.py, reports/preview.py) ---------------------------------------------------------
    def pipeline(self) -> Pipeline:
        """The pipeline of tetsuban.toml, with whitening (if any) fitted on this project's images."""
        return self.workspace.pipeline()

    def preview(self, out: str | Path, n: int = 32, augmented: int = 5, seed: int = 0) -> Path:
        """Write a PNG contact sheet: ``n`` random images, each preprocessed and augmented ``augmented`` times."""
        return preview.preview(self.workspace, out, n, augmented, seed)

    # -- survey and the property sheet (survey/stage.py, survey/sheet.py) -----------------------------------------
    def survey(self, on_progress: ProgressFn | None = None, on_compare: ProgressFn | None = None) -> SurveyReport:
        """Survey the images not surveyed yet, then look for recoloured copies (:func:`survey.stage.survey`)."""
        return survey.survey(self.workspace, on_progress, on_compare)

    def survey_table(self) -> list[Row]:
        """One row per image: file facts, current label and pixel properties (None where not surveyed)."""
        return survey.survey_table(self.workspace)

    def export_survey(self, out: str | Path) -> int:
        """Write the survey table to a CSV file, or Parquet when ``out`` ends in .parquet; returns the row count."""
        return survey.export_survey(self.workspace, out)

    def survey_report(self, out: str | Path | None = None) -> Path:
        """Write survey.html (into the project folder unless ``out`` says where) and return its path."""
        return written.survey_report(self.workspace, out)

    def near_duplicates(self) -> list[tuple[int, int, int]]:
        """(image id, image id, perceptual-hash bits apart) of surveyed images that are the same picture, by their
        pixels or, once embedded, by the model (:func:`survey.stage.near_duplicates_of`)."""
        return commands.near_duplicates(self.workspace)

    def add_property(self, name: str, kind: str, values: Sequence[str] = (), rule: str | None = None) -> Property:
        """Define a property: bool, choice (with ``values``), number, text, or a ``rule`` (``brightness < 40``)."""
        return sheet.define_property(self.workspace, name, kind, values, rule)

    def properties(self) -> dict[str, Property]:
        """The property sheet's definitions, by name."""
        return sheet.properties(self.workspace)

    def set_property(self, name: str, values: Sequence[tuple[int, sheet.RawValue]], author: str | None = None) -> int:
        """Set ``name`` for each (image id, value); values are checked against the property's kind."""
        return sheet.set_property(self.workspace, name, values, author)

    def set_property_by_path(
        self, name: str, values: Sequence[tuple[str | Path, sheet.RawValue]], author: str | None = None
    ) -> int:
        """:meth:`set_property` with image files instead of ids; an unknown file stops it before anything is set."""
        return sheet.set_property_by_path(self.workspace, name, values, author)

    def property_values(self, name: str) -> dict[int, Value]:
        """Each image's current value of ``name`` (computed from the survey for a rule)."""
        return sheet.property_values(self.workspace, name)

    def values_of(self, image_id: int) -> dict[str, Value]:
        """The values set by hand on one image, by property name (rules, computed from the survey, aside)."""
        return sheet.values_of(self.workspace, image_id)

    def property_history(self, name: str, image_id: int | None = None) -> list[ValueEvent]:
        """Every value of ``name`` set by hand (of one image), oldest first."""
        return sheet.property_history(self.workspace, name, image_id)

    # -- splits (splits/stage.py) ---------------------------------------------------------------------------------
    def split(
        self,
        test: float = 0.2,
        val: float = 0.1,
        seed: int = 0,
        groups: Mapping[int, Hashable] | None = None,
        author: str | None = None,
        by: str | None = None,
    ) -> SplitEvent:
        """Assign a split to every image that has none (:func:`splits.stage.split_images`); ``groups`` (image id
        -> key) are by default those of :meth:`near_duplicates` (survey first; embed to add the model's pairs)."""
        return commands.split(self.workspace, SplitPlan(test, val), seed, groups, author, by)

    def splits(self) -> dict[int, str]:
        """Each assigned image's split (train, val or test), by image id."""
        return self.workspace.splits()

    def split_history(self) -> list[SplitEvent]:
        """Every split assignment and reset, oldest first."""
        return splitting.history(self.workspace)

    def reset_splits(self, author: str | None = None) -> SplitEvent:
        """Clear every split (the test set included), recording who did it; the next split starts afresh."""
        return splitting.reset(self.workspace, author)

    # -- embeddings (backbones/stage.py) --------------------------------------------------------------------------
    def backbone(self) -> ExportedBackbone:
        """The project's backbone as an ONNX graph (exported on first use, then cached per weights hash)."""
        return embedding.backbone(self.workspace)

    def embed(self, on_progress: ProgressFn | None = None, image_ids: Sequence[int] | None = None) -> EmbedReport:
        """Compute the embeddings that are not cached yet, for every image (or those of ``image_ids``)."""
        return embedding.embed(self.workspace, on_progress, image_ids)

    def embeddings(self, image_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The cached embedding of each of ``image_ids`` that has one (run :meth:`embed` first)."""
        return embedding.embeddings(self.workspace, image_ids)

    def look_alikes(self, threshold: float = LOOK_ALIKE, mutual: bool = False) -> list[tuple[int, int, float]]:
        """(image id, image id, cosine) of images whose stored embeddings are at least ``threshold`` alike (only
        mutual nearest neighbours with ``mutual``); empty until :meth:`embed` has run."""
        return embedding.look_alikes(self.workspace, threshold, mutual)

    # -- the labelling loop (active/stage.py) ---------------------------------------------------------------------
    def active_data(self, on_progress: ProgressFn | None = None) -> loop.ActiveData:
        """Every embedded image (embedding those missing) with its label, split and first label's time."""
        return loop.active_data(self.workspace, on_progress)

    def next_to_label(
        self, count: int = 20, strategy: str = DEFAULT_STRATEGY, seed: int = 0, head: str = DEFAULT_HEAD
    ) -> list[int]:
        """Image ids to label next, by ``strategy`` with the loop's ``head``, from the unlabelled train images
        (never val or test)."""
        return loop.next_to_label(self.workspace, count, strategy, seed, head=head)

    def holdout_to_label(self, count: int = 20, seed: int = 0) -> list[int]:
        """Up to ``count`` unlabelled val and test images, in a random order fixed by ``seed``."""
        return loop.holdout_to_label(self.workspace, count, seed)

    def label_loop(
        self,
        strategy: str = DEFAULT_STRATEGY,
        retrain_every: int = 20,
        queue_size: int = 40,
        background: bool = True,
        snapshot_seconds: float = SNAPSHOT_SECONDS,
        recording: bool = True,
        head: str = DEFAULT_HEAD,
    ) -> loop.RunningLoop:
        """A running labelling loop (:func:`active.stage.label_loop`); tell it labels after they are stored."""
        return loop.label_loop(
            self.workspace, strategy, retrain_every, queue_size, background, snapshot_seconds, recording, head
        )

    def suggestions(self) -> dict[int, tuple[str, float]]:
        """The loop's latest (most probable class, its probability) for each image; empty before its first head."""
        return loop.suggestions(self.workspace)

    def retrains(self) -> list[Retrain]:
        """Each retrain of the labelling loop so far: labels learnt from and validation accuracy then."""
        return loop.retrains(self.workspace)

    def label_issues(self, folds: int = DEFAULT_FOLDS, seed: int = 0) -> LabelIssues[tuple[int, LabelIssue]]:
        """(image id, issue) for the labels that look wrong, most doubtful first (confident learning), and how many
        labels to expect wrong in all."""
        return loop.doubtful_labels(self.workspace, folds, seed)

    def learning_curve(self, seed: int = 0) -> LearningCurve:
        """Validation accuracy against training labels, in labelling order, with a fitted power law."""
        return loop.learning_curve(self.workspace, seed)

    def learning_curve_of(self, running: loop.RunningLoop, seed: int = 0) -> LearningCurve:
        """The same curve over a running loop's embeddings (none read again), with the labels stored now."""
        return loop.learning_curve_of(self.workspace, running.image_ids, running.loop.embeddings, seed)

    def simulate(
        self,
        strategies: Sequence[str] = (DEFAULT_STRATEGY, "margin", "random"),
        budget: int = 2000,
        step: int = 50,
        seeds: int = 3,
        out: str | Path | None = None,
        on_progress: ProgressFn | None = None,
        heads: Sequence[str] = (DEFAULT_HEAD,),
        queue: int | None = None,
    ) -> tuple[list[Curve], Path]:
        """Simulate the loop's strategies with each of its ``heads`` on the labels given, ``step`` labels per
        retrain out of a queue of ``queue`` (None: ``step``; the app queues ``active.loop.app_queue(step)``)
        (:func:`active.stage.simulate`); write simulation.html (into the project folder unless ``out`` says
        where)."""
        return commands.simulate(
            self.workspace, strategies, budget, step, seeds, out, on_progress, heads=heads, queue=queue
        )

    # -- training (learn/stage.py, finetune/stage.py) -------------------------------------------------------------
    def train(
        self,
        c: float | None = None,
        search_c: bool = False,
        seed: int = 0,
        on_progress: ProgressFn | None = None,
        head: str = "logistic",
    ) -> TrainReport:
        """Train the linear probe (``head`` "logistic", or "svm") into ``models/<id>/`` (:func:`learn.stage.train`);
        test images are never used."""
        return learn.train(self.workspace, c, search_c, seed, on_progress, head)

    def finetune(
        self,
        seed: int = 0,
        epochs: int | None = None,
        device: str | None = None,
        on_step: StepFn | None = None,
        minutes: float | None = None,
    ) -> TrainReport:
        """Fine-tune the backbone into ``models/<id>/``, resumable when killed (:func:`finetune.stage.finetune_model`);
        test images are never used."""
        return finetune_model(self.workspace, seed, epochs, device, on_step, minutes)

    # -- evaluation (evaluate/stage.py, reports/written.py) -------------------------------------------------------
    def evaluate(
        self, model: str | Path, out: str | Path | None = None, workers: int = 0, on_progress: ProgressFn | None = None
    ) -> tuple[Evaluation, Path]:
        """Score ``model`` on the labelled test images and write report.html (into the model's folder unless
        ``out`` says where), compared with the model made before it when there is one."""
        return commands.evaluate(self.workspace, model, out, workers, on_progress)

    def compare(self, a: str | Path, b: str | Path, workers: int = 0) -> Comparison:
        """Model ``b`` against model ``a`` on the same test images: accuracies, difference, paired bootstrap CI."""
        return evaluation.compare_models(self.workspace, a, b, workers)

    def doctor(self, model: str | Path | None = None, on_progress: ProgressFn | None = None) -> list[Finding]:
        """Checks for an honest evaluation, and with ``model`` its sanity (:func:`evaluate.stage.doctor`)."""
        return evaluation.doctor(self.workspace, model, on_progress)
