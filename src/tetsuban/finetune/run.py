"""A fine-tuning run: the recipe's two stages over the labelled training images, early stopping on the validation
images, a checkpoint after every epoch, and the best network exported as the same artifact the linear probe makes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tetsuban.backbones.onnx_export import ExportedBackbone
from tetsuban.errors import ConfigError
from tetsuban.finetune.checkpoint import Checkpoint, Progress, load_checkpoint, run_key, save_checkpoint
from tetsuban.finetune.data import (
    STAGES,
    AugmentedImages,
    EpochSampler,
    Example,
    finished_batch,
    training_loader,
    validation_inputs,
)
from tetsuban.finetune.export import Outcome, export_finetuned
from tetsuban.finetune.network import build_network, parameter_groups, set_stage
from tetsuban.finetune.recipe import Recipe, recipe_for
from tetsuban.learn.head import class_index
from tetsuban.learn.train import TrainReport, labels_sha256
from tetsuban.learn.validate import Validation, held_out_validation
from tetsuban.params import check_choice
from tetsuban.pipeline.inputs import check_model_input
from tetsuban.pipeline.spec import Pipeline

if TYPE_CHECKING:
    import torch

VAL_BATCH = 64
DEVICES = ("cuda", "cpu")


@dataclass(frozen=True)
class LabelledFiles:
    """Labelled images as files: paths, content hashes and labels, row for row."""

    paths: Sequence[Path]
    shas: Sequence[str]
    labels: Sequence[str]


@dataclass(frozen=True)
class Step:
    """Where a run is, for a progress bar: the stage, its epoch (from 1) and step within the epoch, the running
    training loss, and the last validation accuracy (None before the first)."""

    stage: str
    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float
    val_accuracy: float | None
    resumed: bool = False


StepFn = Callable[[Step], None]


@dataclass(frozen=True)
class FinetuneSetup:
    """What a run needs besides its data: the backbone (name, weights file, its exported graph), the pipeline, where
    models and checkpoints go, the seed, a cap on the epochs, loader workers and the device ("cuda" or "cpu")."""

    models_dir: Path
    checkpoints: Path
    backbone: str
    weights: Path | None
    base: ExportedBackbone
    pipeline: Pipeline
    seed: int = 0
    epochs: int | None = None
    workers: int = 1
    device: str | None = None


def finetune(
    setup: FinetuneSetup, train: LabelledFiles, val: LabelledFiles | None, on_step: StepFn | None = None
) -> TrainReport:
    """Fine-tune ``setup.backbone`` on ``train``, stop early on ``val``, write the artifact; resume a killed run."""
    import torch

    started = time.perf_counter()
    classes, targets = class_index(train.labels)
    recipe = recipe_for(len(train.paths), setup.epochs)
    data_hash = labels_sha256(train.shas, train.labels)
    key = run_key(
        {
            "data": data_hash,
            "val": None if val is None else labels_sha256(val.shas, val.labels),
            "backbone": setup.base.key,
            "pipeline": setup.pipeline.to_dict(),
            "recipe": recipe.to_dict(),
            "seed": setup.seed,
        }
    )
    checkpoint_path = setup.checkpoints / f"{key}.pt"
    check_model_input(setup.pipeline, setup.base.input_size, setup.base.mean, setup.base.std)
    device = torch.device(chosen_device(setup.device))
    torch.manual_seed(setup.seed)
    network = build_network(setup.backbone, setup.weights, len(classes)).to(device)
    saved = load_checkpoint(checkpoint_path, key)
    progress = Progress() if saved is None else saved.progress
    if saved is not None:
        network.load_state_dict(saved.model)
    examples = [Example(p, int(t), name) for p, t, name in zip(train.paths, targets, train.labels, strict=True)]
    trainer = _Trainer(network, recipe, classes, examples, val, setup, device, on_step)
    for stage in STAGES[STAGES.index(progress.stage) :]:
        resume = saved if saved is not None and saved.progress.stage == stage and progress.epochs_done > 0 else None
        trainer.run_stage(stage, progress, resume, checkpoint_path, key)
        saved = None
        if stage != STAGES[-1]:
            progress.stage, progress.epochs_done, progress.bad_epochs = STAGES[STAGES.index(stage) + 1], 0, 0
            save_checkpoint(checkpoint_path, key, progress, network.state_dict(), {}, {})
    if progress.best_state is not None:
        network.load_state_dict(progress.best_state)
    validation = trainer.validation()
    outcome = Outcome(classes, recipe, progress, validation, train, val, device.type, time.perf_counter() - started)
    artifact = export_finetuned(network, outcome, setup)
    checkpoint_path.unlink(missing_ok=True)
    return TrainReport(artifact, float("nan"), validation, time.perf_counter() - started)


def chosen_device(asked: str | None) -> str:
    """ "cuda" or "cpu" as asked, else "cuda" when torch finds a GPU; a ConfigError for anything else."""
    import torch

    if asked is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    check_choice("device", asked, DEVICES)
    if asked == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but torch finds no CUDA GPU here. Leave --device out.")
    return asked


class _Trainer:
    """One network trained stage by stage; holds the loader, the validation images and the loss."""

    def __init__(
        self,
        network: torch.nn.Module,
        recipe: Recipe,
        classes: tuple[str, ...],
        examples: list[Example],
        val: LabelledFiles | None,
        setup: FinetuneSetup,
        device: torch.device,
        on_step: StepFn | None,
    ) -> None:
        import torch

        self.network, self.recipe, self.classes, self.setup = network, recipe, classes, setup
        self.device, self.on_step = device, on_step
        counts = np.bincount([e.target for e in examples], minlength=len(classes))
        balanced = len(examples) / (len(classes) * np.maximum(counts, 1))
        self.loss = torch.nn.CrossEntropyLoss(
            weight=torch.tensor(balanced, dtype=torch.float32, device=device), label_smoothing=recipe.label_smoothing
        )
        self.sampler = EpochSampler(len(examples), setup.seed)
        dataset = AugmentedImages(examples, setup.pipeline.to_dict(), setup.seed)
        self.loader = training_loader(dataset, self.sampler, recipe.batch_size, setup.workers, device.type == "cuda")
        self.val_labels = list(val.labels) if val is not None else []
        self.val_pixels = validation_inputs(val.paths, setup.pipeline) if val is not None and val.paths else None
        self.last_val: float | None = None

    def run_stage(
        self, stage: str, progress: Progress, resume: Checkpoint | None, checkpoint_path: Path, key: str
    ) -> None:
        """Train ``stage`` from ``progress.epochs_done`` to its end or an early stop, checkpointing every epoch."""
        import torch

        epochs = self.recipe.head_epochs if stage == "head" else self.recipe.body_epochs
        if progress.epochs_done >= epochs or (stage == "body" and progress.bad_epochs >= self.recipe.patience):
            return
        set_stage(self.network, stage)
        lrs = [self.recipe.head_stage_lr] if stage == "head" else [*self.recipe.body_lrs, self.recipe.head_lr]
        groups = parameter_groups(self.network, stage, lrs[-1], lrs[:-1])
        optimizer = torch.optim.AdamW(groups, weight_decay=self.recipe.weight_decay)
        steps = len(self.loader)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lrs, total_steps=epochs * steps, pct_start=self.recipe.warmup_share
        )
        if resume is not None and resume.optimizer:
            optimizer.load_state_dict(resume.optimizer)
            schedule.load_state_dict(resume.schedule)
        for epoch in range(progress.epochs_done, epochs):
            self.sampler.start(stage, epoch)
            loss = self._epoch(stage, epoch, epochs, optimizer, schedule, resumed=resume is not None)
            score = self._validate()
            set_stage(self.network, stage)  # validating put the network in evaluation mode
            if self.on_step is not None and score:  # the epoch's bar shows the validation it ended with
                self.on_step(Step(stage, epoch + 1, epochs, steps, steps, loss, self.last_val, resume is not None))
            measured = None if not score else (score["val_balanced_accuracy"], -score["val_loss"])
            progress.record({"stage": stage, "epoch": epoch + 1, "train_loss": loss, **score}, measured, self._state)
            save_checkpoint(
                checkpoint_path, key, progress, self.network.state_dict(), optimizer.state_dict(), schedule.state_dict()
            )
            if stage == "body" and progress.bad_epochs >= self.recipe.patience:
                break

    def _state(self) -> dict[str, Any]:
        return {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}

    def _epoch(self, stage: str, epoch: int, epochs: int, optimizer: Any, schedule: Any, resumed: bool) -> float:
        """One epoch of training; returns its mean training loss."""
        import torch

        steps, total, seen = len(self.loader), 0.0, 0
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        for step, (images, targets) in enumerate(self.loader, start=1):
            images = images.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            with autocast:
                logits = self.network(images)
            loss = self.loss(logits.float(), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(targets)
            seen += len(targets)
            if self.on_step is not None:
                self.on_step(Step(stage, epoch + 1, epochs, step, steps, total / seen, self.last_val, resumed))
        return total / max(seen, 1)

    def probabilities(self) -> np.ndarray:
        """(N, K) probabilities of the validation images under the network as it is now."""
        import torch

        assert self.val_pixels is not None
        self.network.eval()
        rows = []
        with torch.inference_mode():
            for start in range(0, len(self.val_pixels), VAL_BATCH):
                batch = finished_batch(self.val_pixels[start : start + VAL_BATCH], self.setup.pipeline)
                rows.append(torch.softmax(self.network(batch.to(self.device)).float(), dim=1).cpu().numpy())
        return np.concatenate(rows)

    def _validate(self) -> dict[str, float]:
        """Accuracy, balanced accuracy and loss on the validation images (empty without them)."""
        if self.val_pixels is None:
            return {}
        probabilities = self.probabilities()
        found = held_out_validation(self.classes, probabilities, self.val_labels)
        column = {name: k for k, name in enumerate(self.classes)}
        known = [(n, column[label]) for n, label in enumerate(self.val_labels) if label in column]
        loss = float(np.mean([-np.log(max(probabilities[n, k], 1e-12)) for n, k in known])) if known else 0.0
        self.last_val = found.accuracy
        return {
            "val_accuracy": float(found.accuracy or 0.0),
            "val_balanced_accuracy": float(found.balanced_accuracy or 0.0),
            "val_loss": loss,
        }

    def validation(self) -> Validation:
        """The final network's validation (after the best state is restored)."""
        if self.val_pixels is None:
            note = "no validation split (tetsuban split makes one): no early stopping, the last epoch is kept"
            return Validation("none", 0, 0, None, None, {}, note)
        return held_out_validation(self.classes, self.probabilities(), self.val_labels)
