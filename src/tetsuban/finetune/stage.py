"""The fine-tuning stage: the backbone's upper blocks and a probe-started head trained on the labelled train images,
chosen on the val images (test images are never used), resumable from a checkpoint, saved as a model folder."""

from __future__ import annotations

from collections.abc import Sequence

from tetsuban.backbones.stage import backbone
from tetsuban.config import weights_file
from tetsuban.errors import ProjectError
from tetsuban.finetune.run import FinetuneSetup, LabelledFiles, StepFn, finetune
from tetsuban.learn.stage import models_dir, train_and_val
from tetsuban.learn.train import TrainReport
from tetsuban.parallel import worker_count
from tetsuban.store.images import readable_records
from tetsuban.workspace import Workspace


def finetune_model(
    ws: Workspace,
    seed: int = 0,
    epochs: int | None = None,
    device: str | None = None,
    on_step: StepFn | None = None,
    minutes: float | None = None,
) -> TrainReport:
    """Fine-tune the backbone on the labelled train images, stopping early on the val images, into
    ``models/<id>/``. A killed run resumes from its checkpoint when started again with the same labels and
    settings. ``epochs`` overrides the recipe's; ``minutes`` is a time budget (the best epoch so far is kept)."""
    labels = ws.labelled()
    train_ids, val_ids = train_and_val(ws, labels)
    by_id = {r.id: r for r in ws.images()}
    _, gone = readable_records(ws.root, [by_id[i] for i in train_ids + val_ids])
    if gone:
        reasons = "; ".join(f"{path}: {why}" for path, why in gone[:3])
        raise ProjectError(
            f"{len(gone)} labelled image(s) cannot be read ({reasons}). "
            "Fix or re-import those files (tetsuban status lists them), or clear their labels."
        )

    def files(ids: Sequence[int]) -> LabelledFiles:
        return LabelledFiles(
            [ws.image_path(by_id[i]) for i in ids], [by_id[i].sha256 for i in ids], [labels[i] for i in ids]
        )

    setup = FinetuneSetup(
        models_dir=models_dir(ws),
        checkpoints=ws.root / ".cache" / "finetune",
        backbone=ws.config.model.backbone,
        weights=weights_file(ws.root, ws.config.model),
        base=backbone(ws),
        pipeline=ws.pipeline(),
        seed=seed,
        epochs=epochs,
        minutes=minutes,
        workers=max(0, min(8, worker_count(ws.config.model.workers) - 1)),
        device=device,
    )
    return finetune(setup, files(train_ids), files(val_ids) if val_ids else None, on_step)
