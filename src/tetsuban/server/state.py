"""What the app holds while it runs: the open project, its labelling loop, leases, and the queues' orders.

Label writes go to the store first, then to the loop: a killed server loses at most the label in flight, and on
restart the loop is rebuilt from the store. On a PostgreSQL project several processes may serve at once; each keeps
its loop in step with the store through :mod:`tetsuban.server.team`, and one of them retrains.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tetsuban.active.curve import CurveNotYet, LearningCurve, Reach
from tetsuban.active.heads import DEFAULT_HEAD
from tetsuban.active.label_issues import LabelIssue, LabelIssues, WrongLabels
from tetsuban.active.loop import LabelLoop, Snapshot, app_queue
from tetsuban.active.record import SNAPSHOT_SECONDS
from tetsuban.active.stage import RunningLoop
from tetsuban.agreement import latest_by_person
from tetsuban.classnames import MAX_CLASS_NAME, check_class_name
from tetsuban.errors import TooFewLabels
from tetsuban.project import Project
from tetsuban.server.curve_keeper import CurveKeeper, CurveNow
from tetsuban.server.leases import leases_for
from tetsuban.server.queues import Orders
from tetsuban.server.team import TeamHooks, TeamSync, is_shared
from tetsuban.store.images import ImageRecord
from tetsuban.store.labels import LabelEvent
from tetsuban.store.loop_state import StoredSnapshot

MAX_LABEL_LENGTH = MAX_CLASS_NAME
UNSURE = "unsure"  # the bool property that U sets


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a user's name and role, and the CSRF token their page carries."""

    name: str
    role: str
    csrf: str


@dataclass(frozen=True)
class Offered:
    """An image to label: the model's suggestion (None before the loop's first head) and, in the review queue only,
    the label under review."""

    image_id: int
    suggestion: str | None
    probability: float | None
    label: str | None = None


@dataclass(frozen=True)
class LoopView:
    """The loop and the image id of each of its rows; replaced whole when uploads add images."""

    running: RunningLoop
    loop: LabelLoop
    image_ids: np.ndarray
    row_of: dict[int, int]
    orders: Orders
    holdout: Orders  # val and test images, in random order
    labelled: np.ndarray  # (N,) every row with a label, whatever its split


class AppState:
    """One project, its loop, and the leases that keep two annotators off one image."""

    def __init__(self, project: Project, strategy: str, retrain_every: int, head: str = DEFAULT_HEAD) -> None:
        self.project = project
        self.strategy = strategy
        self.head = head
        self.retrain_every = retrain_every
        self.leases = leases_for(project.workspace.engine)
        self.team = TeamSync(project.workspace.engine) if is_shared(project.workspace.engine) else None
        self.records: dict[int, ImageRecord] = {r.id: r for r in project.images()}
        self.view = self._build_view()
        self._classes = project.classes()  # kept here: the API checks classes on every label
        self._write = threading.Lock()
        self._issues: tuple[int, dict[int, LabelIssue], WrongLabels | None] | None = None  # (generation, by image id,
        # how many labels to expect wrong)
        self._replay: list[tuple[int, str | None, int | None]] | None = None  # labels learnt while the loop is
        # rebuilt, as _learn takes them
        self._touched: set[int] = set()  # images labelled since the label issues were found
        self._holdout_writes = 0  # labels given to val and test images: they change the curve, not the loop
        self._rebuilds = 0  # loops built since the start (uploads, class edits): each may change the curve
        self._adopted = 0  # the generation of the last snapshot adopted from the retraining process
        self.curve = CurveKeeper(self._draw_curve)
        if self.team is not None:
            self.team.start(
                TeamHooks(self._learn_events, self._adopt, self._images_changed, self._set_classes, self._lead)
            )

    # -- classes ----------------------------------------------------------------------------------------------

    def classes(self, reread: bool = False) -> list[str]:
        """The project's classes in the order they were added (``reread``: from the store, for a new page)."""
        if reread:
            self._classes = self.project.classes()
        return list(self._classes)

    def add_class(self, name: str) -> list[str]:
        self.project.add_class(name)  # the store checks the name
        return self.classes(reread=True)

    def edit_classes(self, edit: Callable[[Project], int]) -> tuple[int, list[str]]:
        """Rename, merge or remove classes with ``edit`` (a Project method, by whoever asked); then the loop is
        rebuilt from the store, its labels renamed with them. (images relabelled, the classes now)."""
        with self._write:
            moved = edit(self.project)
            self._issues = None  # found for the old names
        self.take_in_new_images().join()  # the answer comes once the loop knows the new names
        return moved, self.classes(reread=True)

    # -- queues -----------------------------------------------------------------------------------------------

    def offer(self, viewer: Viewer, queue: str, count: int) -> tuple[int, list[Offered]]:
        """(generation, up to ``count`` images) from ``queue``, leased to ``viewer``."""
        view = self.view
        snapshot = view.loop.snapshot
        if queue == "review":
            return snapshot.generation, self._review(viewer, snapshot, count)
        if queue == "second":
            ids = self.leases.claim(viewer.name, self._second_opinions(viewer), count)
            return snapshot.generation, [self._offered(view, snapshot, i) for i in ids]
        if queue == "holdout":
            rows = view.holdout.random(view.labelled)
        else:
            rows = view.orders.rows(queue, snapshot, view.labelled)
        ids = self.leases.claim(viewer.name, (int(view.image_ids[row]) for row in rows), count)
        return snapshot.generation, [self._offered(view, snapshot, i) for i in ids]

    def _offered(self, view: LoopView, snapshot: Snapshot, image_id: int) -> Offered:
        """An image with the model's suggestion; never its label (a second opinion is given blind)."""
        row = view.row_of.get(image_id)
        if row is None or snapshot.probabilities is None:
            return Offered(image_id, None, None)
        best = int(snapshot.probabilities[row].argmax())
        return Offered(image_id, snapshot.classes[best], float(snapshot.probabilities[row, best]))

    def _review(self, viewer: Viewer, snapshot: Snapshot, count: int) -> list[Offered]:
        """Labels that look wrong: the suggestion is the class confident learning proposes."""
        issues = self.label_issues(snapshot.generation)
        open_issues = (i for i in issues if i not in self._touched)  # not those relabelled since
        ids = self.leases.claim(viewer.name, open_issues, count)
        return [Offered(i, issues[i].suggested, issues[i].suggested_calibrated, issues[i].given) for i in ids]

    def label_issues(self, generation: int) -> dict[int, LabelIssue]:
        """Label issues by image id, most doubtful first; computed once per retrain."""
        return self._label_issues(generation)[1]

    def wrong_labels(self, generation: int) -> WrongLabels | None:
        """How many labels to expect wrong, found with the label issues; None while too few labels to judge."""
        return self._label_issues(generation)[2]

    def _label_issues(self, generation: int) -> tuple[int, dict[int, LabelIssue], WrongLabels | None]:
        cached = self._issues
        if cached is None or cached[0] != generation:
            found = self._found_label_issues()
            labels = self.project.labelled()  # an issue fixed since is no longer one
            issues = {i: issue for i, issue in found.issues if labels.get(i) == issue.given} if found else {}
            cached = self._issues = (generation, issues, found.wrong if found else None)
            self._touched = set()
        return cached

    def _found_label_issues(self) -> LabelIssues[tuple[int, LabelIssue]] | None:
        try:
            return self.project.label_issues()
        except TooFewLabels:  # under two classes of two labels each: nothing can be judged yet, nothing to review
            return None

    def _second_opinions(self, viewer: Viewer) -> list[int]:
        """Images exactly one other person labelled, for ``viewer`` to label without seeing that label."""
        people = latest_by_person(self.project.label_history())
        return sorted(i for i, by in people.items() if len(by) == 1 and viewer.name not in by)

    # -- labels -----------------------------------------------------------------------------------------------

    def label(self, viewer: Viewer, image_id: int, label: str, seconds: float | None, accepted: bool) -> None:
        """Record ``label`` (author, time, seconds on screen, accepted or not), then tell the loop."""
        self.label_many(viewer, [(image_id, label, accepted)], seconds)

    def label_many(self, viewer: Viewer, items: list[tuple[int, str, bool]], seconds: float | None) -> None:
        """Record several labels at once (the grid): the accepted ones and the others each in one transaction."""
        for image_id, label, _ in items:  # all checked before the first of two transactions writes anything
            check_class_name(label)
            self._check_image(image_id)
        with self._write:
            for accepted in (True, False):
                chosen = [(i, label) for i, label, a in items if a is accepted]
                if chosen:
                    source = "model-accepted" if accepted else "human"
                    self.project.set_labels(chosen, source, viewer.name, seconds)
        if any(label not in self._classes for _, label, _ in items):
            self.classes(reread=True)
        for image_id, label, _ in items:
            self._tell_loop(image_id, label)

    def undo(self, viewer: Viewer, image_id: int, before: LabelEvent | None) -> None:
        """Clear ``image_id``'s label (the history keeps it) and put back ``before``, the label it replaced, under
        its own author's name; then tell the loop."""
        self.undo_many(viewer, [(image_id, before)])

    def undo_many(self, viewer: Viewer, items: list[tuple[int, LabelEvent | None]]) -> None:
        """Undo several labels as one step (a page of the grid): clear them all at once, then put back each one's
        ``before`` under its author's name, a write per author; then tell the loop."""
        for image_id, _ in items:
            self._check_image(image_id)
        restored: dict[str, list[tuple[int, str | None]]] = {}
        for image_id, before in items:
            if before is not None:
                restored.setdefault(before.author, []).append((image_id, before.label))
        with self._write:
            self.project.set_labels([(image_id, None) for image_id, _ in items], "human", viewer.name)
            for author, labels in restored.items():
                self.project.set_labels(labels, "restored", author)
        for image_id, before in items:
            self._tell_loop(image_id, None if before is None else before.label, undo=True)

    def history(self, image_id: int) -> list[LabelEvent]:
        """The image's label events, oldest first."""
        return self.project.label_history(image_id)

    def current_authors(self, image_ids: list[int]) -> dict[int, str]:
        """Who gave each image's current label, for those of ``image_ids`` that have one; one read for them all."""
        events = self.project.workspace.current_labels(image_ids)
        return {i: e.author for i, e in events.items() if e.label is not None}

    def _tell_loop(self, image_id: int, label: str | None, undo: bool = False) -> None:
        """The loop learns ``label`` for the image (train images only); an ``undo`` takes back a label, which then
        no longer counts toward the next retrain. With other processes on the store the label is only noted here:
        the team sync counts it, as it counts theirs, when it reads it back from the store."""
        self.leases.release(image_id)
        self._learn(image_id, label, None if self.team is not None else -1 if undo else 1)

    def _learn(self, image_id: int, label: str | None, change: int | None) -> None:
        """The image has ``label`` now; ``change``: what it counts toward the next retrain (None: not counted, nor
        as a label of val or test, here; the team sync counts it)."""
        if self._replay is not None:
            self._replay.append((image_id, label, change))
        view = self.view
        self._touched.add(image_id)
        row = view.row_of.get(image_id)
        if row is None:
            return  # not embedded yet (an upload the loop has not taken in)
        view.labelled[row] = label is not None
        if not view.loop.eligible[row]:  # the loop learns from train images only
            if change is not None:
                self._holdout_writes += 1
            return
        view.loop.note(row, label)
        if change:
            view.loop.count(change)

    # -- other processes on the store (PostgreSQL) ------------------------------------------------------------------

    def _learn_events(self, events: list[LabelEvent]) -> None:
        """Label events read back from the store, written here or by another process: each counts once. A label
        cleared by a person is an undo (it takes one back); a label put back by an undo counts nothing; class edits
        rebuild the loop."""
        edited = False
        for event in events:
            if event.source == "class-edit":
                edited = True
                continue
            change = 0 if event.source == "restored" else -1 if event.label is None else 1
            self._learn(event.image_id, event.label, change)
        if edited:
            with self._write:
                self._issues = None
            self.take_in_new_images()

    def _adopt(self, stored: StoredSnapshot) -> bool:
        """Serve the snapshot the retraining process stored, when it is over this loop's images and not older than
        the last one adopted (the loop's own first snapshot, made when it was built, gives way to any)."""
        view = self.view
        if not np.array_equal(stored.image_ids, view.image_ids) or stored.generation < self._adopted:
            return False
        queue = tuple(view.row_of[i] for i in stored.queue if i in view.row_of)
        view.loop.adopt(Snapshot(stored.generation, None, stored.probabilities, queue, stored.labels, stored.classes))
        self._adopted = stored.generation
        return True

    def _images_changed(self) -> None:
        self.take_in_new_images()

    def _set_classes(self, names: list[str]) -> None:
        self._classes = names

    def _lead(self, leading: bool) -> None:
        """This process now retrains (or no longer does: its lock's connection is gone)."""
        view = self.view
        view.running.recorder.active = leading
        view.loop.leading = leading
        if leading:
            view.loop.count(0)  # a retrain already due starts now

    def _check_image(self, image_id: int) -> None:
        if image_id not in self.records:
            raise KeyError(image_id)

    # -- per-image fields ---------------------------------------------------------------------------------------

    def mark_unsure(self, viewer: Viewer, image_id: int) -> bool:
        """Set the ``unsure`` property of the image; it leaves this viewer's queue. True when this first use added
        the property to the sheet (the page says so)."""
        self._check_image(image_id)
        with self._write:
            created = UNSURE not in self.project.properties()
            if created:
                self.project.add_property(UNSURE, "bool")
            self.project.set_property(UNSURE, [(image_id, True)], viewer.name)
        return created

    def fields(self, image_id: int) -> list[dict[str, object]]:
        """The property sheet's hand-set fields, with the image's current values."""
        self._check_image(image_id)
        values = self.project.values_of(image_id)  # this image's values only, not every image's
        return [
            {"name": name, "kind": prop.kind, "choices": list(prop.choices), "value": values.get(name)}
            for name, prop in self.project.properties().items()
            if prop.rule is None
        ]

    def set_field(self, viewer: Viewer, image_id: int, name: str, value: str | bool | float | None) -> None:
        self._check_image(image_id)
        with self._write:
            self.project.set_property(name, [(image_id, value)], viewer.name)

    # -- the live panel -------------------------------------------------------------------------------------------

    def stats(self, target: float) -> dict[str, object]:
        """Labels per class, labels in the last hour, when the next retrain comes, and the learning curve with what
        it says of ``target``: the same curve and verdict as ``tetsuban curve`` and the evaluation report."""
        loop = self.view.loop
        now = self.curve_now()
        return {
            "labelled": int(self.view.labelled.sum()),
            "per_class": self.project.class_counts(),
            "last_hour": self.project.labels_since(time.time() - 3600),
            "generation": loop.snapshot.generation,
            "next_retrain_in": loop.labels_until_retrain,
            "retrain_failure": loop.failure,
            "target": target,
            "curve": None if now.curve is None else curve_points(now.curve),
            "curve_missing": None if now.missing is None else missing_fields(now.missing),
            "curve_failure": now.failure,
            "curve_pending": now.pending,
            "reach": None if now.curve is None else reach_fields(now.curve.reach(target)),
        }

    def curve_now(self) -> CurveNow:
        """The latest learning curve drawn; a new one is drawn in the background after each retrain and after labels
        of val or test images (the labels it is drawn from)."""
        view = self.view
        return self.curve.latest((self._rebuilds, view.loop.snapshot.generation, self._holdout_writes))

    def _draw_curve(self) -> LearningCurve:
        return self.project.learning_curve_of(self.view.running)

    # -- images -----------------------------------------------------------------------------------------------

    def take_in_new_images(self) -> threading.Thread:
        """Take in newly imported images: their records now, the loop's rows after a rebuild in the background
        (labels given meanwhile are replayed onto the new loop)."""
        self.records = {r.id: r for r in self.project.images()}
        with self._write:
            self._replay = []
        rebuild = threading.Thread(target=self._rebuild, daemon=True)
        rebuild.start()
        return rebuild

    def _rebuild(self) -> None:
        view = self._build_view()
        with self._write:
            self.view = view
            self._rebuilds += 1
            replay, self._replay = self._replay or [], None
        for image_id, label, change in replay:
            self._learn(image_id, label, change)
        if self.team is not None:
            self.team.forget_snapshot()

    def _build_view(self) -> LoopView:
        leading = self.team is None or self.team.leading
        running = self.project.label_loop(
            self.strategy,
            self.retrain_every,
            queue_size=app_queue(self.retrain_every),
            snapshot_seconds=SNAPSHOT_SECONDS if self.team is None else 0.0,  # others adopt each retrain at once
            recording=leading,
            head=self.head,
        )
        loop, ids = running.loop, running.image_ids
        loop.leading = leading
        image_ids = np.asarray(ids, np.int64)
        labelled_ids = set(self.project.labelled())
        splits = self.project.splits()
        holdout = np.array([splits.get(int(i)) in ("val", "test") for i in image_ids], bool)
        return LoopView(
            running,
            loop,
            image_ids,
            {int(image_id): row for row, image_id in enumerate(image_ids)},
            Orders(loop.eligible),
            Orders(holdout),
            np.array([int(i) in labelled_ids for i in image_ids], bool),
        )

    def close(self) -> None:
        """Store the loop's latest suggestions (the app is stopping) if this process retrains, and let another
        process take over."""
        self.view.loop.wait()
        if self.team is None or self.team.leading:
            self.view.running.flush()
        if self.team is not None:
            self.team.stop()

    def image_file(self, image_id: int) -> Path:
        return self.project.image_path(self.records[image_id])


def curve_points(curve: LearningCurve) -> dict[str, object]:
    """The panel's chart: each measured point with the fit there, and the images behind them."""
    return {
        "points": [
            {"labels": n, "accuracy": a, "fitted": float(curve.fit.accuracy(n))}
            for n, a in zip(curve.labels, curve.accuracy, strict=True)
        ],
        "validation_images": curve.validation_images,
        "train_images": curve.train_images,
    }


def missing_fields(missing: CurveNotYet) -> dict[str, object]:
    """Why there is no curve yet: labels of which kind (val or train), how many there are and are needed."""
    return {"kind": missing.kind, "have": missing.have, "need": missing.need}


def reach_fields(reach: Reach) -> dict[str, object]:
    """What the curve says of the target, as the panel words it: the verdict and its numbers."""
    return {
        "verdict": reach.verdict,
        "more": reach.more,
        "total": reach.total,
        "low": reach.low,
        "high": reach.high,
        "accuracy": reach.accuracy,
        "train_images": reach.train_images,
    }
