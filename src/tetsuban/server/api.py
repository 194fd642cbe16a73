"""The JSON API the pages use: what to label next, labels (one or a page of them), undo, unsure, per-image
fields, classes, the live panel's figures and the annotators' agreement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from tetsuban.active.label_issues import WrongLabels
from tetsuban.agreement import agreement
from tetsuban.errors import TetsubanError
from tetsuban.project import Project
from tetsuban.server.deps import app_state, changer, reader, viewer
from tetsuban.server.ownership import label_before, write_refusal
from tetsuban.server.queues import REVIEWER_QUEUES, check_queue
from tetsuban.server.security import may
from tetsuban.server.state import MAX_LABEL_LENGTH, AppState, Offered, Viewer

MAX_BATCH = 200  # labels in one grid request

router = APIRouter(prefix="/api")
State = Annotated[AppState, Depends(app_state)]
Reader = Annotated[Viewer, Depends(viewer)]
Annotator = Annotated[Viewer, Depends(changer("annotator"))]
Reviewer = Annotated[Viewer, Depends(changer("reviewer"))]


class LabelIn(BaseModel):
    """One label from the page."""

    image_id: int
    label: str = Field(min_length=1, max_length=MAX_LABEL_LENGTH)
    seconds: float | None = Field(default=None, ge=0, le=86_400)
    accepted: bool = False


class BatchItem(BaseModel):
    image_id: int
    label: str = Field(min_length=1, max_length=MAX_LABEL_LENGTH)
    accepted: bool = False


class BatchIn(BaseModel):
    """A page of labels from the grid, with the seconds the page was on screen."""

    items: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH)
    seconds: float | None = Field(default=None, ge=0, le=86_400)


class ImageIn(BaseModel):
    image_id: int


class ImagesIn(BaseModel):
    """The images of one grid change, to undo as one step."""

    image_ids: list[int] = Field(min_length=1, max_length=MAX_BATCH)


class FieldIn(BaseModel):
    image_id: int
    name: str = Field(min_length=1, max_length=64)
    value: str | bool | float | None = None


class ClassIn(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_LABEL_LENGTH)


ClassName = Annotated[str, Field(min_length=1, max_length=MAX_LABEL_LENGTH)]


class RenameIn(BaseModel):
    old: ClassName
    new: ClassName


class MergeIn(BaseModel):
    classes: list[ClassName] = Field(min_length=1, max_length=100)
    into: ClassName


def _unknown(image_id: int) -> HTTPException:
    return HTTPException(404, f"No image has id {image_id} in this project.")


def _offered(item: Offered) -> dict[str, object]:
    return {"id": item.image_id, "suggestion": item.suggestion, "probability": item.probability, "label": item.label}


def _check_new_classes(state: AppState, who: Viewer, names: set[str]) -> None:
    """Annotators label with the classes there are; reviewers and admins may add one by labelling with it."""
    new = names - set(state.classes())
    if new and not may(who, "reviewer"):
        raise HTTPException(403, f"Only a reviewer or admin adds classes; {sorted(new)[0]!r} is not one yet.")


@router.get("/next")
def next_images(state: State, who: Reader, count: int = 5, queue: str = "hybrid") -> dict[str, object]:
    """Up to ``count`` images from ``queue``, leased to the viewer so no one else gets them meanwhile."""
    if not 1 <= count <= 100:
        raise HTTPException(422, f"count must be in [1, 100]. Got {count}.")
    try:
        check_queue(queue, state.classes())
    except TetsubanError as error:
        raise HTTPException(422, str(error)) from None
    if queue in REVIEWER_QUEUES and not may(who, "reviewer"):
        raise HTTPException(403, f"The {queue} queue is for reviewers and admins; {who.name} is {who.role}.")
    generation, images = state.offer(who, queue, count)
    answer: dict[str, object] = {"generation": generation, "images": [_offered(item) for item in images]}
    if queue == "review":
        answer["expected_wrong"] = _expected_wrong(state.wrong_labels(generation), len(state.label_issues(generation)))
    return answer


def _expected_wrong(wrong: WrongLabels | None, listed: int) -> dict[str, int] | None:
    """How many labels to expect wrong, with its 90% interval, and how many the review queue lists."""
    if wrong is None:
        return None
    low, high = wrong.interval
    return {"expected": wrong.expected, "low": low, "high": high, "labels": wrong.labels, "listed": listed}


def _check_writes(state: AppState, who: Viewer, image_ids: list[int], authors: dict[int, str] | None = None) -> None:
    """Refuse the request when any image is leased to someone else or holds another person's label (``authors``:
    who gave each image's current label; None for a write that changes no label) that ``who`` may not change (see
    server.ownership)."""
    for image_id in image_ids:
        if image_id not in state.records:
            raise _unknown(image_id)
        author = None if authors is None else authors.get(image_id)
        refusal = write_refusal(who, image_id, state.leases.holder(image_id), author)
        if refusal is not None:
            raise HTTPException(refusal.status, refusal.detail)


@router.post("/labels")
def add_label(body: LabelIn, state: State, who: Annotator) -> dict[str, object]:
    _check_new_classes(state, who, {body.label})
    _check_writes(state, who, [body.image_id], state.current_authors([body.image_id]))
    try:
        state.label(who, body.image_id, body.label, body.seconds, body.accepted)
    except KeyError:
        raise _unknown(body.image_id) from None
    except TetsubanError as error:
        raise HTTPException(422, str(error)) from None
    return {"ok": True, "labelled": int(state.view.labelled.sum()), "generation": state.view.loop.snapshot.generation}


@router.post("/labels/batch")
def add_labels(body: BatchIn, state: State, who: Annotator) -> dict[str, object]:
    """Label a page of the grid at once; nothing is stored when any item is wrong."""
    _check_new_classes(state, who, {item.label for item in body.items})
    ids = [item.image_id for item in body.items]
    _check_writes(state, who, ids, state.current_authors(ids))
    try:
        state.label_many(who, [(i.image_id, i.label, i.accepted) for i in body.items], body.seconds)
    except KeyError as error:
        raise _unknown(int(error.args[0])) from None
    except TetsubanError as error:
        raise HTTPException(422, str(error)) from None
    return {"ok": True, "labelled": int(state.view.labelled.sum()), "generation": state.view.loop.snapshot.generation}


@router.post("/undo")
def undo(body: ImageIn, state: State, who: Annotator) -> dict[str, object]:
    """Take back a label; an annotator only their own. The label it replaced comes back (server.ownership)."""
    return undo_many(ImagesIn(image_ids=[body.image_id]), state, who)


@router.post("/undo/batch")
def undo_many(body: ImagesIn, state: State, who: Annotator) -> dict[str, object]:
    """Take back a page of labels as one step (the grid's last change), each replaced label put back; nothing is
    undone when any of them may not be."""
    ids = list(dict.fromkeys(body.image_ids))
    histories = {i: state.history(i) for i in ids}  # read once: whose label it is, and the one it replaced
    current = {i: h[-1].author for i, h in histories.items() if h and h[-1].label is not None}
    _check_writes(state, who, ids, current)
    state.undo_many(who, [(i, label_before(histories[i])) for i in ids])
    return {"ok": True, "labelled": int(state.view.labelled.sum())}


@router.post("/unsure")
def unsure(body: ImageIn, state: State, who: Annotator) -> dict[str, object]:
    _check_writes(state, who, [body.image_id])
    try:
        created = state.mark_unsure(who, body.image_id)
    except KeyError:
        raise _unknown(body.image_id) from None
    return {"ok": True, "created": created}


@router.get("/images/{image_id}/fields")
def fields(image_id: int, state: State, who: Reader) -> dict[str, object]:
    try:
        return {"fields": state.fields(image_id)}
    except KeyError:
        raise _unknown(image_id) from None


@router.post("/fields")
def set_field(body: FieldIn, state: State, who: Annotator) -> dict[str, object]:
    _check_writes(state, who, [body.image_id])
    try:
        state.set_field(who, body.image_id, body.name, body.value)
    except KeyError:
        raise _unknown(body.image_id) from None
    except TetsubanError as error:
        raise HTTPException(422, str(error)) from None
    return {"ok": True}


@router.get("/classes")
def classes(state: State, who: Reader) -> dict[str, object]:
    return {"classes": state.classes(reread=True)}


@router.post("/classes")
def add_class(body: ClassIn, state: State, who: Reviewer) -> dict[str, object]:
    try:
        return {"classes": state.add_class(body.name)}
    except TetsubanError as error:
        raise HTTPException(422, str(error)) from None


@router.post("/classes/rename")
def rename_class(body: RenameIn, state: State, who: Reviewer) -> dict[str, object]:
    """Rename a class (reviewers): its images get a label event with the new name, kept in the history."""
    return _edit_classes(state, lambda project: project.rename_class(body.old, body.new, who.name))


@router.post("/classes/merge")
def merge_classes(body: MergeIn, state: State, who: Reviewer) -> dict[str, object]:
    """Put the images of some classes into another (reviewers); the merged classes are retired."""
    return _edit_classes(state, lambda project: project.merge_classes(body.classes, body.into, who.name))


@router.post("/classes/remove")
def remove_class(body: ClassIn, state: State, who: Reviewer) -> dict[str, object]:
    """Remove a class (reviewers): its images lose their label, which the history keeps."""
    return _edit_classes(state, lambda project: project.remove_class(body.name, who.name))


def _edit_classes(state: AppState, edit: Callable[[Project], int]) -> dict[str, object]:
    try:
        moved, classes = state.edit_classes(edit)
    except TetsubanError as error:
        raise HTTPException(422, str(error)) from None
    return {"classes": classes, "images": moved}


@router.get("/stats")
def stats(state: State, who: Reader, target: float = 0.95) -> dict[str, object]:
    if not 0.0 < target < 1.0:
        raise HTTPException(422, f"target must be in (0, 1). Got {target}.")
    return state.stats(target)


@router.get("/agreement")
def agreement_report(state: State, who: Annotated[Viewer, Depends(reader("reviewer"))]) -> dict[str, object]:
    """How far annotators agree on the images two or more of them labelled."""
    found = agreement(state.project.label_history())
    return {
        "images": found.images,
        "unanimous": found.unanimous,
        "disputed": list(found.disputed[:100]),
        "pairs": [
            {"first": p.first, "second": p.second, "images": p.images, "agreed": p.agreed, "kappa": p.kappa}
            for p in found.pairs
        ],
    }
