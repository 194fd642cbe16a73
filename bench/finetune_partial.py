"""Partial fine-tuning on cached features: what training only the network's upper blocks buys over the probe.

The question behind issue 20's recipe. EfficientNet-Lite0's lower blocks (the stem to block ``cut - 1``) cost most
of a forward pass on a CPU and change least in fine-tuning, so they run once per image and augmentation draw, their
outputs kept in memory (bfloat16), and only the upper blocks and the classifier train, over the cached draws:
- the classifier starts from the project's linear probe fitted on the network's own pooled features (LP-FT, Kumar
  et al. 2022), with C chosen on the validation images;
- batch-norm statistics and parameters stay as pretrained; AdamW under a one-cycle schedule, label smoothing 0.1,
  batch 32, channels-last, and bfloat16 autocast where the CPU has native bfloat16 (as the product decides:
  emulated, it runs several times slower than float32); the cached outputs are kept in bfloat16 either way;
- each configuration (cut, peak learning rate) trains from the same cached draws; test accuracy is reported after
  every epoch beside validation accuracy, so that the epoch validation would keep can be read off; after the last
  epoch, rows for the last epochs' weights mixed with the start's (WiSE-FT) or averaged among themselves;
- with ``--taps``, the probe and the classifier read inner blocks' outputs averaged over space besides the pooled
  features, through the product's own module (backbones.taps; scaled by its TAP_SCALE, or ``--tap-scale``);
- regularizers the recipe does not use, each a list of values tried in turn: ``--erase`` (random erasing of a
  rectangle of the cached feature maps, anew every step), ``--mixup`` (mixup of the cached feature maps and their
  losses) and ``--clip`` (the gradient's norm clipped; every epoch's median norm before clipping is reported);
- ``--refit``: after the last epoch, rows for the classifier replaced by the probe fitted on the fine-tuned
  network's features (of the plain training images; of those and every draw); ``--bn-train``: the upper blocks'
  batch norms train (batch statistics, running means, affine parameters) instead of staying as pretrained.
Labels are drawn as bench/finetune.py draws them (k per class to train, k/2 to validate, the same test images).
Writes bench/results/finetune_partial.md (or --out).

Usage: python bench/finetune_partial.py [--dataset fashion] [--shots 100] [--cuts 3 4] [--lrs 3e-4 6e-4]
       [--draws 6] [--epochs 10 14] [--wise 0.5 0.75] [--tails 3 5] [--warmup 0.3] [--layer-decay 0.5]
       [--taps 5] [--tap-scale 1.0] [--crop-area 0.7] [--erase 0 0.5] [--mixup 0 0.2] [--clip 0 1] [--refit]
       [--bn-train]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from finetune import Source, draw_split, emoji_source, fashion_source

from tetsuban.backbones import taps as product_taps
from tetsuban.backbones.registry import build_torch
from tetsuban.backbones.taps import TappedFeatures
from tetsuban.finetune.run import clipped_gradient
from tetsuban.finetune.split import bfloat16_is_fast, split_network
from tetsuban.imaging.decode import decode
from tetsuban.learn.head import LinearHead, fit_linear_head
from tetsuban.pipeline.inputs import to_batch
from tetsuban.pipeline.spec import Pipeline, default_pipeline
from tetsuban.pipeline.transforms import RandomResizedCrop

RESULTS = Path(__file__).resolve().parent / "results" / "finetune_partial.md"
BATCH = 32
PROBE_CS = (0.03, 0.1, 0.3, 1.0)
BFLOAT16 = bfloat16_is_fast(torch.device("cpu"))


@dataclass
class Cached:
    """The lower blocks' outputs: ``draws`` augmented copies of the training images, and the plain train, val and
    test images."""

    draws: list[torch.Tensor]
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    seconds: float


@dataclass(frozen=True)
class Setting:
    """How one run trains besides its cut and peak rate: the one-cycle warm-up's share of the steps, and the rate's
    factor per block below the top one (1: every block at the peak rate), the numbers of last epochs whose weights
    are averaged (each a row), and the blocks whose spatial means the classifier reads besides the pooled features."""

    warmup: float = 0.1
    layer_decay: float = 1.0
    tails: tuple[int, ...] = ()
    taps: tuple[int, ...] = ()
    erase: float = 0.0  # the chance that a training example loses a random rectangle of the cached feature map
    mixup: float = 0.0  # the Beta(a, a) parameter of mixup on the cached feature maps (0: none)
    clip: float = 0.0  # the gradient's largest norm (0: not clipped)
    refit: bool = False  # after the last epoch, rows for the probe refitted on the fine-tuned network's features
    bn_train: bool = False  # the upper blocks' batch norms train (batch statistics, running means, affine parameters)


@dataclass(frozen=True)
class Epoch:
    cut: int
    lr: float
    epoch: int
    loss: float
    val: float
    test: float
    seconds: float
    wise: float = 1.0  # WiSE-FT: the share of the fine-tuned weights in a mix with the start (1: the last epoch)
    tail: int = 1  # how many last epochs' weights are averaged (1: the last epoch's alone)
    erase: float = 0.0
    mixup: float = 0.0
    clip: float = 0.0
    norm: float = float("nan")  # the median gradient norm of the epoch's steps, before clipping
    refit: str = ""  # "plain" / "draws": the classifier replaced by a probe fitted on the last epoch's features
    bn: str = "frozen"  # the upper blocks' batch norms: "frozen" (as pretrained) or "trained"


def lower_and_upper(cut: int, taps: tuple[int, ...] = ()) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The pretrained network cut before block ``cut``: (stem and blocks below it, the rest up to the embedding), as
    the product cuts it: with ``taps``, the rest also returns those blocks' outputs averaged over space (times the
    product's TAP_SCALE), after the pooled features."""
    if taps and min(taps) < cut:
        raise SystemExit(f"--taps {taps}: every tapped block must be at or above the cut ({cut}).")
    network = build_torch("efficientnet_lite0").to(memory_format=torch.channels_last)
    lower, upper = split_network(network, cut, taps)
    return lower.eval(), upper


def bench_pipeline(crop_area: float | None) -> Pipeline:
    """The default pipeline, its random crop keeping at least ``crop_area`` of the image where given."""
    pipeline = default_pipeline()
    if crop_area is None:
        return pipeline
    crop = RandomResizedCrop(224, crop_area)
    augment = tuple(crop if isinstance(t, RandomResizedCrop) else t for t in pipeline.augment)
    return Pipeline(preprocess=pipeline.preprocess, augment=augment)


def batch_of(images: list[np.ndarray], pipeline: Pipeline, rng: np.random.Generator | None) -> torch.Tensor:
    """The network's input for ``images``: augmented by ``rng`` as training draws it, or as prediction sees them."""
    out = []
    for img in images:
        pixels, _ = pipeline.pixels(img, rng, None, train=rng is not None)
        out.append(pipeline.finish(pixels))
    return torch.from_numpy(to_batch(out)).contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def run_lower(
    lower: torch.nn.Module, images: list[np.ndarray], rng: np.random.Generator | None, pipeline: Pipeline
) -> torch.Tensor:
    parts = []
    for start in range(0, len(images), 64):
        with autocast():
            parts.append(lower(batch_of(images[start : start + 64], pipeline, rng)).to(torch.bfloat16))
    return torch.cat(parts)


def autocast() -> torch.autocast:
    """bfloat16 autocast on the CPU where it is native, else a context that changes nothing."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=BFLOAT16)


def as_input(x: torch.Tensor) -> torch.Tensor:
    """Cached bfloat16 outputs as the upper blocks take them: as they are under autocast, else in float32."""
    return x if BFLOAT16 else x.float()


def cache(
    lower: torch.nn.Module, images: dict[str, list[np.ndarray]], draws: int, seed: int, pipeline: Pipeline
) -> Cached:
    started = time.perf_counter()
    augmented = [run_lower(lower, images["train"], np.random.default_rng([seed, d]), pipeline) for d in range(draws)]
    plain = {name: run_lower(lower, images[name], None, pipeline) for name in ("train", "val", "test")}
    return Cached(augmented, plain["train"], plain["val"], plain["test"], time.perf_counter() - started)


@torch.inference_mode()
def outputs(upper: torch.nn.Module, head: torch.nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Pooled features (``head`` the identity) or logits, in float32, in batches."""
    parts = []
    for start in range(0, len(features), 128):
        with autocast():
            parts.append(head(upper(as_input(features[start : start + 128]))).float())
    return torch.cat(parts)


def probe_head(
    upper: torch.nn.Module,
    cached: Cached,
    y: dict[str, np.ndarray],
    cs: tuple[float, ...] = PROBE_CS,
    augmented: bool = False,
) -> tuple[torch.nn.Linear, dict]:
    """The project's linear probe (``fit_linear_head``) on the pooled features, C chosen on val, as one torch linear
    layer; and its figures. ``augmented``: fitted on the first augmentation draw's features besides the plain ones."""
    pooled = {
        name: outputs(upper, torch.nn.Identity(), getattr(cached, name)).numpy() for name in ("train", "val", "test")
    }
    names = [f"{k:04d}" for k in y["train"]]  # sorted as the class indices are, so row k of the head is class k
    if augmented:
        drawn = outputs(upper, torch.nn.Identity(), cached.draws[0]).numpy()
        pooled["train"], names = np.concatenate([pooled["train"], drawn]), names + names
    fits = []
    for c in cs:
        fitted = fit_linear_head(pooled["train"], names, c, tol=1e-4)
        fits.append((_probe_accuracy(fitted, pooled["val"], y["val"]), c, fitted))
    val, c, fitted = max(fits, key=lambda fit: fit[0])
    layer = torch.nn.Linear(pooled["train"].shape[1], len(fitted.classes))
    layer.weight.data = torch.from_numpy(fitted.weight)
    layer.bias.data = torch.from_numpy(fitted.bias)
    return layer, {"C": c, "val": val, "test": _probe_accuracy(fitted, pooled["test"], y["test"])}


def _probe_accuracy(head: LinearHead, x: np.ndarray, y: np.ndarray) -> float:
    return float((head.probabilities(x).argmax(axis=1) == y).mean())


def accuracy(upper: torch.nn.Module, head: torch.nn.Module, features: torch.Tensor, y: np.ndarray) -> float:
    upper.eval()
    return float((outputs(upper, head, features).argmax(1).numpy() == y).mean())


def train(
    cut: int,
    lr: float,
    cached: Cached,
    y: dict[str, np.ndarray],
    epochs: int,
    probe: torch.nn.Linear,
    wise: tuple[float, ...] = (),
    setting: Setting = Setting(),
) -> list[Epoch]:
    """Train fresh upper blocks and a copy of the ``probe`` classifier at peak rate ``lr``; one row per epoch, then
    one per ``wise`` share (the last epoch's weights mixed with the start's, WiSE-FT) and one per tail length (the
    last epochs' weights averaged)."""
    torch.manual_seed(0)
    _, upper = lower_and_upper(cut, setting.taps)
    head = copy.deepcopy(probe)
    initial = copy.deepcopy((upper.state_dict(), head.state_dict()))
    for module in upper.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and not setting.bn_train:
            module.requires_grad_(False)
    groups = rate_groups(upper, head, lr, setting.layer_decay)
    trained = [p for g in groups for p in g["params"]]
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=0.01)
    steps = epochs * -(-len(y["train"]) // BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[g["lr"] for g in groups], total_steps=steps, pct_start=setting.warmup
    )
    loss_of = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    targets = torch.from_numpy(y["train"])
    generator = torch.Generator().manual_seed(1)
    rows, states = [], []
    started = time.perf_counter()
    for epoch in range(epochs):
        upper.train()
        for module in upper.modules():  # batch-norm statistics stay as pretrained unless they train
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and not setting.bn_train:
                module.eval()
        features = cached.draws[epoch % len(cached.draws)]
        order = torch.randperm(len(targets))
        total, norms = 0.0, []
        for start in range(0, len(order), BATCH):
            picked = order[start : start + BATCH]
            x = erased(features[picked], setting.erase, generator)
            x, partner, share = mixed(x, setting.mixup, generator)
            with autocast():
                logits = head(upper(as_input(x))).float()
            loss = loss_of(logits, targets[picked])
            if share < 1:  # mixup: the partners' labels weigh what their images do
                loss = share * loss + (1 - share) * loss_of(logits, targets[picked][partner])
            optimizer.zero_grad()
            loss.backward()
            norms.append(clipped_gradient(trained, setting.clip or float("inf")))
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(picked)
        val, test = (accuracy(upper, head, getattr(cached, n), y[n]) for n in ("val", "test"))
        seconds = time.perf_counter() - started
        knobs = {"erase": setting.erase, "mixup": setting.mixup, "clip": setting.clip, "norm": float(np.median(norms))}
        knobs["bn"] = "trained" if setting.bn_train else "frozen"
        rows.append(Epoch(cut, lr, epoch + 1, total / len(order), val, test, seconds, **knobs))
        named = f"erase {setting.erase:g}, mixup {setting.mixup:g}, clip {setting.clip:g}, cut {cut}, lr {lr:g}"
        spread = " / ".join(f"{q:.2f}" for q in np.percentile(norms, [50, 90, 100]))
        print(f"  {named}, epoch {epoch + 1}: val {val:.3f}, test {test:.3f}; gradient norm {spread}", flush=True)
        states.append(copy.deepcopy((upper.state_dict(), head.state_dict())))
    end = states[-1]
    if setting.refit:
        rows += refitted(upper, cached, y, rows[epochs - 1])
    for share in wise:
        for module, first, last in ((upper, initial[0], end[0]), (head, initial[1], end[1])):
            module.load_state_dict({k: _mix(first[k], last[k], share) for k in first})
        val, test = (accuracy(upper, head, getattr(cached, n), y[n]) for n in ("val", "test"))
        rows.append(replace(rows[epochs - 1], val=val, test=test, wise=share))
        print(f"  cut {cut}, lr {lr:g}, WiSE {share:g}: val {val:.3f}, test {test:.3f}", flush=True)
    for tail in setting.tails:
        for part, module in enumerate((upper, head)):
            module.load_state_dict(_averaged([state[part] for state in states[-tail:]]))
        val, test = (accuracy(upper, head, getattr(cached, n), y[n]) for n in ("val", "test"))
        rows.append(replace(rows[epochs - 1], val=val, test=test, tail=tail))
        print(f"  cut {cut}, lr {lr:g}, last {tail} epochs averaged: val {val:.3f}, test {test:.3f}", flush=True)
    return rows


def refitted(upper: torch.nn.Module, cached: Cached, y: dict[str, np.ndarray], last: Epoch) -> list[Epoch]:
    """Rows for the fine-tuned upper blocks with the classifier replaced by the project's probe (C chosen on val)
    fitted on their pooled features: of the plain training images, then of those and every augmentation draw."""
    upper.eval()
    pooled = {n: outputs(upper, torch.nn.Identity(), getattr(cached, n)).numpy() for n in ("train", "val", "test")}
    drawn = [outputs(upper, torch.nn.Identity(), d).numpy() for d in cached.draws]
    names = [f"{k:04d}" for k in y["train"]]
    rows = []
    for kind, x, labels in (
        ("plain", pooled["train"], names),
        ("draws", np.concatenate([pooled["train"], *drawn]), names * (1 + len(drawn))),
    ):
        fits = [fit_linear_head(x, labels, c, tol=1e-4) for c in PROBE_CS]
        val, c, fitted = max(
            ((_probe_accuracy(f, pooled["val"], y["val"]), c, f) for c, f in zip(PROBE_CS, fits, strict=True)),
            key=lambda fit: fit[0],
        )
        test = _probe_accuracy(fitted, pooled["test"], y["test"])
        rows.append(replace(last, val=val, test=test, refit=f"{kind}, C {c:g}"))
        print(f"  refitted on {kind} features, C {c:g}: val {val:.3f}, test {test:.3f}", flush=True)
    return rows


def erased(x: torch.Tensor, chance: float, generator: torch.Generator) -> torch.Tensor:
    """``x`` (N, C, H, W) with, in each example picked with ``chance``, one random rectangle of 2-33% of the map's
    area (aspect 0.3-3.3) set to zero: random erasing (Zhong et al. 2020) on the cached feature maps, so every epoch
    erases anew without new augmentation draws."""
    if chance <= 0:
        return x
    n, _, h, w = x.shape
    area = torch.empty(n).uniform_(0.02, 0.33, generator=generator) * h * w
    aspect = torch.exp(torch.empty(n).uniform_(float(np.log(0.3)), float(np.log(3.3)), generator=generator))
    heights = torch.sqrt(area * aspect).round().clamp(1, h)
    widths = torch.sqrt(area / aspect).round().clamp(1, w)
    tops = (torch.rand(n, generator=generator) * (h - heights + 1)).floor()
    lefts = (torch.rand(n, generator=generator) * (w - widths + 1)).floor()
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    in_rows = (rows >= tops.view(n, 1, 1)) & (rows < (tops + heights).view(n, 1, 1))
    in_cols = (cols >= lefts.view(n, 1, 1)) & (cols < (lefts + widths).view(n, 1, 1))
    inside = in_rows & in_cols & (torch.rand(n, generator=generator) < chance).view(n, 1, 1)
    return x.masked_fill(inside.unsqueeze(1), 0)


def mixed(x: torch.Tensor, alpha: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mixup on the cached feature maps (manifold mixup at the cut): ``x`` mixed with a permutation of itself at a
    share drawn from Beta(alpha, alpha), the permutation and the share (``x`` itself, share 1 when alpha is 0)."""
    order = torch.randperm(len(x), generator=generator)
    if alpha <= 0:
        return x, order, 1.0
    share = float(np.random.default_rng(int(torch.randint(2**31, (1,), generator=generator))).beta(alpha, alpha))
    return (share * x.float() + (1 - share) * x[order].float()).to(x.dtype), order, share


def _averaged(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The mean of several state dicts' floating-point tensors (the last one's others)."""
    return {k: sum(s[k] for s in states) / len(states) if v.is_floating_point() else v for k, v in states[-1].items()}


def rate_groups(upper: torch.nn.Module, head: torch.nn.Module, lr: float, decay: float) -> list[dict]:
    """Optimizer groups: the classifier, the head convolution and the top block at ``lr``, each block below at
    ``decay`` times the one above it."""
    blocks = list(upper.blocks.children()) if isinstance(upper, TappedFeatures) else []
    groups = [
        {"params": [p for p in block.parameters() if p.requires_grad], "lr": lr * decay ** (len(blocks) - 1 - i)}
        for i, block in enumerate(blocks)
    ]
    in_blocks = {id(p) for block in blocks for p in block.parameters()}
    rest = [p for p in [*upper.parameters(), *head.parameters()] if p.requires_grad and id(p) not in in_blocks]
    return [g for g in [*groups, {"params": rest, "lr": lr}] if g["params"]]


def _mix(first: torch.Tensor, last: torch.Tensor, share: float) -> torch.Tensor:
    return last if not last.is_floating_point() else (1 - share) * first + share * last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion", choices=["emoji", "fashion"])
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--cuts", type=int, nargs="+", default=[3])
    parser.add_argument("--lrs", type=float, nargs="+", default=[3e-4])
    parser.add_argument("--draws", type=int, default=6)
    parser.add_argument("--epochs", type=int, nargs="+", default=[10])
    parser.add_argument("--start-c", type=float, help="start fine-tuning from the probe of this C, not val's")
    parser.add_argument("--start-augmented", action="store_true", help="fit the start probe on a draw as well")
    parser.add_argument("--wise", type=float, nargs="*", default=[], help="WiSE-FT shares to try after the last epoch")
    parser.add_argument("--warmup", type=float, default=0.1, help="the one-cycle warm-up's share of the steps")
    parser.add_argument("--layer-decay", type=float, default=1.0, help="the rate's factor per block downwards")
    parser.add_argument("--tails", type=int, nargs="*", default=[], help="numbers of last epochs to average")
    parser.add_argument("--taps", type=int, nargs="*", default=[], help="blocks the classifier also reads, pooled")
    parser.add_argument("--crop-area", type=float, help="the random crop's least area (the default pipeline's else)")
    parser.add_argument("--tap-scale", type=float, help="what tapped means are multiplied by (the product's else)")
    parser.add_argument("--erase", type=float, nargs="+", default=[0.0], help="chances of erasing a feature rectangle")
    parser.add_argument("--mixup", type=float, nargs="+", default=[0.0], help="mixup's Beta parameters (0: none)")
    parser.add_argument("--clip", type=float, nargs="+", default=[0.0], help="largest gradient norms (0: none)")
    parser.add_argument("--refit", action="store_true", help="rows for the probe refitted after the last epoch")
    parser.add_argument("--bn-train", action="store_true", help="the upper blocks' batch norms train")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    if args.tap_scale is not None:
        product_taps.TAP_SCALE = args.tap_scale
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="finetune-partial-") as tmp:
        source = emoji_source(rng) if args.dataset == "emoji" else fashion_source(Path(tmp), rng)
        images, y = split_images(source, args.shots, rng)
    print(f"{source.name}: " + ", ".join(f"{k} {len(v)}" for k, v in y.items()), flush=True)
    probes, caches, rows = {}, {}, []
    for cut in args.cuts:
        lower, upper = lower_and_upper(cut, tuple(args.taps))
        caches[cut] = cache(lower, images, args.draws, seed=0, pipeline=bench_pipeline(args.crop_area))
        probe, probes[cut] = probe_head(upper, caches[cut], y)
        if args.start_c is not None or args.start_augmented:  # fine-tuning starts from another probe than the table's
            cs = PROBE_CS if args.start_c is None else (args.start_c,)
            probe, start = probe_head(upper, caches[cut], y, cs, args.start_augmented)
            print(f"  fine-tuning starts from: {start}", flush=True)
        print(f"cut {cut}: cached in {caches[cut].seconds:.0f} s; probe {probes[cut]}", flush=True)
        for lr in args.lrs:
            for epochs, erase, mixup, clip in itertools.product(args.epochs, args.erase, args.mixup, args.clip):
                setting = Setting(
                    args.warmup,
                    args.layer_decay,
                    tuple(args.tails),
                    tuple(args.taps),
                    erase,
                    mixup,
                    clip,
                    args.refit,
                    args.bn_train,
                )
                rows += train(cut, lr, caches[cut], y, epochs, probe, tuple(args.wise), setting)
    write_table(args, source, y, probes, caches, rows)


def split_images(source: Source, shots: int, rng: np.random.Generator) -> tuple[dict, dict[str, np.ndarray]]:
    """Decoded train, val and test images and their class indices."""
    train, val = draw_split(source, shots, rng)
    names = sorted(set(source.labels))
    picked = {"train": train, "val": val, "test": [int(i) for i in source.test]}
    images = {k: [decode(source.files[i]) for i in v] for k, v in picked.items()}
    y = {k: np.array([names.index(source.labels[i]) for i in v]) for k, v in picked.items()}
    return images, y


def _taps_note(taps: list[int]) -> str:
    blocks = " and ".join(str(t) for t in taps)
    scale = f" times {product_taps.TAP_SCALE:g}"
    return (
        "" if not taps else f" that reads the pooled features and block {blocks}'s outputs averaged over space{scale}"
    )


def _crop_note(crop_area: float | None) -> str:
    return "" if crop_area is None else f" with random crops of at least {crop_area:g} of the image"


def write_table(args: argparse.Namespace, source: Source, y: dict, probes: dict, caches: dict, rows: list) -> None:
    command = " ".join(sys.argv[1:])
    lines = [
        "# Partial fine-tuning on cached features",
        "",
        f"`python bench/finetune_partial.py {command}` on {datetime.now(UTC):%Y-%m-%d}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPU cores ({'bfloat16' if BFLOAT16 else 'float32'}), no GPU, "
        f"torch {torch.__version__}. "
        f"{source.name}: {len(y['train'])} train / {len(y['val'])} val / {len(y['test'])} test images, one draw of "
        "the labels. EfficientNet-Lite0; the blocks below the cut run once per image and augmentation draw "
        f"({args.draws} draws, the default pipeline's augmentation{_crop_note(args.crop_area)}), the rest trains "
        f"from a probe-started classifier{_taps_note(args.taps)}.",
        "",
        "| cut | probe (C by val) | cached in |",
        "|---:|---|---:|",
    ]
    for cut, probe in probes.items():
        lines.append(
            f"| {cut} | C {probe['C']:g}: val {probe['val']:.3f}, test {probe['test']:.3f} | "
            f"{caches[cut].seconds:.0f} s |"
        )
    lines += [
        "",
        "| cut | peak lr | erase | mixup | clip | batch norm | epoch | WiSE share | last epochs averaged "
        "| classifier refitted | train loss | gradient norm (median) | val | test | test - probe | training time |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.cut} | {r.lr:g} | {r.erase:g} | {r.mixup:g} | {r.clip:g} | {r.bn} | {r.epoch} | {r.wise:g} | "
            f"{r.tail} | "
            f"{r.refit or 'no'} | {r.loss:.3f} | {r.norm:.1f} | "
            f"{r.val:.3f} | {r.test:.3f} | "
            f"{r.test - probes[r.cut]['test']:+.3f} | {r.seconds:.0f} s |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
