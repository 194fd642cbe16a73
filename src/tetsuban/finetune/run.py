"""A fine-tuning run: the lower part's outputs cached per augmentation draw, the classifier started as the probe,
the upper part and classifier trained epoch by epoch under a time budget, the probe and every epoch compared on the
validation images, a checkpoint after every epoch, and the best network exported as the same artifact the probe makes.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tetsuban.backbones.onnx_export import ExportedBackbone
from tetsuban.errors import ConfigError
from tetsuban.finetune.checkpoint import Checkpoint, Progress, load_checkpoint, run_key, save_checkpoint
from tetsuban.finetune.choice import Candidate, ValData, classifier_state, keep_better, mixed_state, widest_share
from tetsuban.finetune.data import AugmentedImages, Example, epoch_order
from tetsuban.finetune.export import Outcome, export_finetuned
from tetsuban.finetune.network import build_network, classifier_of
from tetsuban.finetune.probe import probe_start, scored
from tetsuban.finetune.recipe import LITE0_CUT, Recipe, recipe_for
from tetsuban.learn.head import DEFAULT_C, class_index, softmax
from tetsuban.learn.train import TrainReport, labels_sha256
from tetsuban.params import check_choice, check_float
from tetsuban.pipeline.inputs import check_model_input
from tetsuban.pipeline.spec import Pipeline

if TYPE_CHECKING:
    import torch

    from tetsuban.finetune.cache import LowerOutputs

VAL_BATCH = 64
DEVICES = ("cuda", "cpu")
CACHE, PROBE, TUNE, MIX = "cache", "probe", "tune", "mix"  # stages; the probe is epoch 0 of the history


@dataclass(frozen=True)
class LabelledFiles:
    """Labelled images as files: paths, content hashes and labels, row for row."""

    paths: Sequence[Path]
    shas: Sequence[str]
    labels: Sequence[str]


@dataclass(frozen=True)
class Step:
    """Where a run is, for a progress bar: the stage ("cache": the lower part's pass ``epoch`` of ``epochs``;
    "tune": a training epoch, from 1), the step within it, the running training loss, and the last validation
    accuracy (None before the first)."""

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
    models and checkpoints go, the seed, the epochs (None: the recipe's), a time budget in minutes (None: none),
    loader workers and the device ("cuda" or "cpu")."""

    models_dir: Path
    checkpoints: Path
    backbone: str
    weights: Path | None
    base: ExportedBackbone
    pipeline: Pipeline
    seed: int = 0
    epochs: int | None = None
    minutes: float | None = None
    workers: int = 1
    device: str | None = None


def finetune(
    setup: FinetuneSetup, train: LabelledFiles, val: LabelledFiles | None, on_step: StepFn | None = None
) -> TrainReport:
    """Fine-tune ``setup.backbone`` on ``train``, choose on ``val``, write the artifact; resume a killed run."""
    import torch

    from tetsuban.finetune.split import split_network, usable_cut

    started = time.perf_counter()
    if setup.minutes is not None:
        check_float("minutes", setup.minutes, 0.0, 10_000.0)
    classes, targets = class_index(train.labels)
    check_model_input(setup.pipeline, setup.base.input_size, setup.base.mean, setup.base.std)
    device = torch.device(chosen_device(setup.device))
    torch.manual_seed(setup.seed)
    network = build_network(setup.backbone, setup.weights, len(classes), setup.base.taps)
    recipe = replace(recipe_for(len(train.paths), setup.epochs), cut=usable_cut(network, LITE0_CUT))
    key = _run_key(setup, train, val, recipe)
    network = network.to(device).to(memory_format=torch.channels_last)
    lower, upper = split_network(network, recipe.cut, setup.base.taps)
    frozen = _frozen_part(lower, recipe.cut, device, setup)
    features = _cached_outputs(setup, key, frozen, device, train, val, targets, recipe.draws, on_step)
    checkpoint_path = setup.checkpoints / f"{key}.pt"
    saved = load_checkpoint(checkpoint_path, key)
    tuner = _Tuner(network, (lower, upper), recipe, classes, targets, features, val, device, on_step, setup.seed)
    if saved is None:
        progress = Progress(stage=TUNE)
        tuner.start_from_probe(progress, list(train.labels))
        save_checkpoint(checkpoint_path, key, progress, network.state_dict(), {}, {})
    else:
        progress = saved.progress
        network.load_state_dict(saved.model)
    deadline = None if setup.minutes is None else started + setup.minutes * 60
    ended_by = tuner.run(progress, saved, checkpoint_path, key, deadline)
    data = ValData(classes, val, setup.pipeline, device, setup.base.taps, frozen, recipe.cut)
    probe, tuned = _probe(setup, progress, len(classes), device), _tuned(network, progress, ended_by)
    if tuned is not None and val is not None and val.paths:
        tuned = replace(tuned, share=tuner.mix_with_probe(progress, probe.network.state_dict(), tuned.epoch))
    kept = keep_better(tuned, probe, data)
    outcome = Outcome(classes, recipe, progress, kept, train, val, device.type, time.perf_counter() - started, ended_by)
    artifact = export_finetuned(kept.candidate.network, outcome, setup)
    checkpoint_path.unlink(missing_ok=True)
    shutil.rmtree(setup.checkpoints / key, ignore_errors=True)
    c = float(progress.history[0]["C"])
    return TrainReport(artifact, c, kept.validation, time.perf_counter() - started)


def _tuned(network: torch.nn.Module, progress: Progress, ended_by: str) -> Candidate | None:
    """The fine-tuned candidate, or None when no epoch ran: the last epoch of a run the recipe ended (where the
    one-cycle schedule has annealed), else the epoch that validated best before the time budget ran out.

    Not the best-validating epoch of a whole run: picking among ten epochs on a few hundred validation images rewards
    noise. On emoji (312 val images) it kept epoch 1 of 10, still near the probe, whose test accuracy was below the
    probe's (bench/finetune.py)."""
    import torch

    if not any(entry["stage"] == TUNE for entry in progress.history):
        return None
    epoch = progress.history[-1]["epoch"]
    if ended_by != "recipe" and progress.best_state is not None:
        network.load_state_dict(progress.best_state)
        epoch = progress.history[progress.best_epoch - 1]["epoch"]
    return Candidate(network.to(memory_format=torch.contiguous_format), TUNE, epoch)


def _probe(setup: FinetuneSetup, progress: Progress, classes: int, device: torch.device) -> Candidate:
    """The probe the run started from: the pretrained network with the probe's classifier."""
    assert progress.probe_head is not None
    network = build_network(setup.backbone, setup.weights, classes, setup.base.taps)
    classifier_of(network).load_state_dict(progress.probe_head)
    return Candidate(network.to(device), PROBE, 0)


def _run_key(setup: FinetuneSetup, train: LabelledFiles, val: LabelledFiles | None, recipe: Recipe) -> str:
    """The run's name: everything that shapes it (not the time budget: a run resumed with another one goes on)."""
    return run_key(
        {
            "data": labels_sha256(train.shas, train.labels),
            "val": None if val is None else labels_sha256(val.shas, val.labels),
            "backbone": setup.base.key,
            "pipeline": setup.pipeline.to_dict(),
            "recipe": recipe.to_dict(),
            "seed": setup.seed,
        }
    )


def _frozen_part(
    lower: torch.nn.Module, cut: int, device: torch.device, setup: FinetuneSetup
) -> Callable[[torch.Tensor], torch.Tensor]:
    """What computes the frozen ``lower`` part: on a CPU its ONNX Runtime graph, kept beside the backbone's (four times
    faster than torch there, :mod:`tetsuban.finetune.lower_graph`), on the cores the loader's workers leave; else the
    module itself (on a GPU; or a network that trains whole, whose lower part is nothing)."""
    import os

    from tetsuban.finetune.lower_graph import graph_lower, lower_graph_path

    if device.type != "cpu" or cut == 0:
        return lower
    threads = max(1, (os.cpu_count() or 1) - setup.workers)
    return graph_lower(lower, setup.base.input_size, lower_graph_path(setup.base.path, cut), threads)


def _cached_outputs(
    setup: FinetuneSetup,
    key: str,
    lower: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device,
    train: LabelledFiles,
    val: LabelledFiles | None,
    targets: np.ndarray,
    draws: int,
    on_step: StepFn | None,
) -> LowerOutputs:
    """The lower part's outputs for every draw and the plain train and val images, from the run's cache folder."""
    from tetsuban.finetune.cache import LowerRun, lower_outputs
    from tetsuban.finetune.split import bfloat16_is_fast

    examples = [Example(p, int(t), name) for p, t, name in zip(train.paths, targets, train.labels, strict=True)]
    if val is not None:
        examples += [Example(p, -1, name) for p, name in zip(val.paths, val.labels, strict=True)]
    images = AugmentedImages(examples, setup.pipeline.to_dict(), setup.seed)
    run = LowerRun(lower, device, bfloat16_is_fast(device), setup.workers)

    def on_pass(number: int, passes: int, batch: int, batches: int) -> None:
        if on_step is not None:
            on_step(Step(CACHE, number, passes, batch, batches, float("nan"), None))

    return lower_outputs(setup.checkpoints / key, run, images, len(train.paths), draws, on_pass)


def chosen_device(asked: str | None) -> str:
    """ "cuda" or "cpu" as asked, else "cuda" when torch finds a GPU; a ConfigError for anything else."""
    import torch

    if asked is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    check_choice("device", asked, DEVICES)
    if asked == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but torch finds no CUDA GPU here. Leave --device out.")
    return asked


class _Tuner:
    """The upper part and the classifier trained over the cached draws; scores each epoch on the cached val."""

    def __init__(
        self,
        network: torch.nn.Module,
        parts: tuple[torch.nn.Module, torch.nn.Module],
        recipe: Recipe,
        classes: tuple[str, ...],
        targets: np.ndarray,
        features: LowerOutputs,
        val: LabelledFiles | None,
        device: torch.device,
        on_step: StepFn | None,
        seed: int,
    ) -> None:
        import torch

        from tetsuban.finetune.split import bfloat16_is_fast

        self.network, (self.lower, self.upper), self.recipe, self.classes = network, parts, recipe, classes
        self.features, self.device, self.on_step, self.seed = features, device, on_step, seed
        self.targets = torch.from_numpy(np.asarray(targets, dtype=np.int64))
        counts = np.bincount(targets, minlength=len(classes))
        balanced = len(targets) / (len(classes) * np.maximum(counts, 1))
        self.loss = torch.nn.CrossEntropyLoss(
            weight=torch.tensor(balanced, dtype=torch.float32, device=device), label_smoothing=recipe.label_smoothing
        )
        self.bfloat16 = bfloat16_is_fast(device)
        self.val_labels = list(val.labels) if val is not None else []
        self.last_val: float | None = None

    def start_from_probe(self, progress: Progress, train_labels: list[str]) -> None:
        """Set the classifier to the probe fitted on the plain training images' embeddings (the default C, as ``tetsuban
        train`` fits it), and record it as epoch 0 of ``progress`` (its classifier kept there: the run's other
        candidate)."""
        import torch

        head = probe_start(self._embedded(self.features.train), train_labels)
        layer = classifier_of(self.network)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(head.weight).float())
            layer.bias.copy_(torch.from_numpy(head.bias).float())
        progress.probe_head = classifier_state(self.network)
        entry = {"stage": PROBE, "epoch": 0, "C": DEFAULT_C, "C_from": "default", **self._validate()}
        progress.record(entry, None, self._state)  # epochs compete among themselves; the probe at the end

    def run(
        self, progress: Progress, resume: Checkpoint | None, checkpoint_path: Path, key: str, deadline: float | None
    ) -> str:
        """Train from ``progress.epochs_done`` to the recipe's end or the ``deadline`` (a perf_counter time),
        checkpointing every epoch; returns what ended it ("recipe" or "time budget")."""
        import torch

        from tetsuban.finetune.split import prepare_for_tuning, training_mode

        trained = prepare_for_tuning(self.network, self.lower)
        optimizer = torch.optim.AdamW(trained, lr=self.recipe.lr, weight_decay=self.recipe.weight_decay)
        steps = -(-len(self.targets) // self.recipe.batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.recipe.lr, total_steps=self.recipe.epochs * steps, pct_start=self.recipe.warmup_share
        )
        resumed = resume is not None and progress.epochs_done > 0
        if resume is not None and resumed and resume.optimizer:
            optimizer.load_state_dict(resume.optimizer)
            schedule.load_state_dict(resume.schedule)
        durations: list[float] = []
        for epoch in range(progress.epochs_done, self.recipe.epochs):
            if deadline is not None and time.perf_counter() + (np.mean(durations) if durations else 0.0) > deadline:
                return "time budget"
            began = time.perf_counter()
            training_mode(self.network)
            loss, norm = self._epoch(epoch, steps, optimizer, schedule, resumed)
            score = self._validate()
            if self.on_step is not None and score:  # the epoch's bar shows the validation it ended with
                self.on_step(Step(TUNE, epoch + 1, self.recipe.epochs, steps, steps, loss, self.last_val, resumed))
            entry = {"stage": TUNE, "epoch": epoch + 1, "train_loss": loss, "gradient_norm": norm, **score}
            progress.record(entry, _measured(score), self._state)
            save_checkpoint(
                checkpoint_path, key, progress, self.network.state_dict(), optimizer.state_dict(), schedule.state_dict()
            )
            durations.append(time.perf_counter() - began)
        return "recipe"

    def mix_with_probe(self, progress: Progress, probe: dict[str, Any], epoch: int) -> float:
        """WiSE-FT: mix the network (the kept epoch) with the ``probe`` network's weights at each of the recipe's
        shares, score each mix on val and record it in ``progress.history`` (stage "mix"); leave the network at the
        share :func:`widest_share` keeps and return it."""
        tuned = self._state()
        found = {1.0: self._val_probabilities()}
        for share in self.recipe.wise_shares:
            self.network.load_state_dict(mixed_state(probe, tuned, share))
            found[share] = self._val_probabilities()
            progress.history.append({"stage": MIX, "epoch": epoch, "share": share, **self._scores(found[share])})
        kept = widest_share(found, self.classes, self.val_labels)
        self.network.load_state_dict(mixed_state(probe, tuned, kept))
        return kept

    def _epoch(self, epoch: int, steps: int, optimizer: Any, schedule: Any, resumed: bool) -> tuple[float, float]:
        """One epoch over the cached draw ``epoch`` (modulo the draws), in an order fixed by the seed and the epoch;
        returns the mean training loss and the steps' median gradient norm before clipping."""
        import torch

        features = self.features.draws[epoch % len(self.features.draws)]
        order = torch.tensor(epoch_order(self.seed, epoch, len(self.targets)))
        trained = [p for group in optimizer.param_groups for p in group["params"]]
        total, seen, norms = 0.0, 0, []
        for step in range(steps):
            picked = order[step * self.recipe.batch_size : (step + 1) * self.recipe.batch_size]
            x = features[picked].to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            targets = self.targets[picked].to(self.device, non_blocking=True)
            with self._autocast():
                logits = self._logits(x.float() if not self.bfloat16 else x)
            loss = self.loss(logits.float(), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norms.append(clipped_gradient(trained, self.recipe.clip_norm))
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(picked)
            seen += len(picked)
            if self.on_step is not None:
                self.on_step(
                    Step(TUNE, epoch + 1, self.recipe.epochs, step + 1, steps, total / seen, self.last_val, resumed)
                )
        return total / max(seen, 1), float(np.median(norms)) if norms else 0.0

    def _autocast(self) -> Any:
        import torch

        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bfloat16)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return classifier_of(self.network)(self.upper(x))

    def _outputs(self, features: torch.Tensor, logits: bool) -> np.ndarray:
        """Embeddings or logits (float32, N rows) of cached lower outputs, in evaluation mode."""
        import torch

        self.network.eval()
        rows = []
        with torch.inference_mode(), self._autocast():
            for start in range(0, len(features), VAL_BATCH):
                x = features[start : start + VAL_BATCH].to(self.device).contiguous(memory_format=torch.channels_last)
                x = x if self.bfloat16 else x.float()
                rows.append((self._logits(x) if logits else self.upper(x)).float().cpu().numpy())
        width = len(self.classes) if logits else classifier_of(self.network).in_features
        return np.concatenate(rows) if rows else np.zeros((0, width), np.float32)

    def _embedded(self, features: torch.Tensor) -> np.ndarray:
        return self._outputs(features, logits=False)

    def _validate(self) -> dict[str, float]:
        """Accuracy, balanced accuracy and loss on the validation images (empty without them)."""
        return self._scores(self._val_probabilities()) if self.val_labels else {}

    def _val_probabilities(self) -> np.ndarray:
        """The network's class probabilities (float64) for the validation images."""
        return softmax(self._outputs(self.features.val, logits=True).astype(np.float64))

    def _scores(self, probabilities: np.ndarray) -> dict[str, float]:
        found, loss = scored(self.classes, probabilities, self.val_labels)
        self.last_val = found.accuracy
        return {
            "val_accuracy": float(found.accuracy or 0.0),
            "val_balanced_accuracy": float(found.balanced_accuracy or 0.0),
            "val_loss": loss,
        }

    def _state(self) -> dict[str, Any]:
        return {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}


def clipped_gradient(parameters: Sequence[torch.nn.Parameter], largest: float) -> float:
    """Scale the gradients of ``parameters`` down so that their joint norm is at most ``largest``; returns the norm
    before."""
    import torch

    return float(torch.nn.utils.clip_grad_norm_(parameters, largest))


def _measured(score: dict[str, float]) -> tuple[float, float] | None:
    """What chooses the kept epoch: (balanced accuracy, -loss) on val; None without validation images."""
    return None if not score else (score["val_balanced_accuracy"], -score["val_loss"])
