"""Levers of the labelling loop, tried quickly: the product's simulator on one dataset's embeddings, with one
constant or one strategy changed at a time, against the default, up to a small budget.

bench/active_sim.py measures the loop through whole projects (both datasets, four runs each, 25 minutes); this
bench asks a narrower question in minutes: does one change lift the default (`hybrid + spreading`) at the budget
where issue 20's target is judged (300 labels)? It builds the project as bench/active_sim.py does (same images,
same test split, same seeds), embeds it once, then runs the product's `simulate()` on those embeddings for the
default and for each lever. A lever is `name=value`:
- `w=0.7`: the probe's weight in the geometric mix (tetsuban.active.heads.PROBE_WEIGHT); `w=auto` chooses it at
  each retrain from 0.2-0.8 by the log-likelihood of the previous retrain's mixes on the images labelled since
  (`w=auto-accuracy`: accuracy first); `w=val100` by the mixes' accuracy on 100 random images outside the test
  split, whose labels serve nothing else (a project's labelled val images);
- `scaled=1`: each model's log-probabilities divided by their spread over classes before the geometric mix;
- `smooth=0.5`: spreading's scores plus this share of the median image's label mass, evenly over the classes,
  before each row is normalised (an image the labels barely reach leans on the probe);
- `alpha=0.9`, `iters=100`, `k=6`, `power=2`: label spreading's alpha and iterations, the graph's neighbours and
  the similarity's power;
- `refine=2`: the power of the probe's same-class chance that each edge of the graph is multiplied by at each
  retrain (tetsuban.active.heads.AGREEMENT_POWER, 1 in the default; `refine=0`: the graph as built); `rounds=2`:
  the head computed twice, the second graph weighed by the first mix instead of the probe;
- `graph=taps3`: the graph from embeddings whose tapped blocks' dimensions weigh 3 times as much after
  standardizing (`graph=sqrt-taps3`: each value's signed square root first);
- `cand=2`: the margin candidates per pick (tetsuban.active.hybrid.CANDIDATES); `density=0.25`: the power of each
  candidate's degree in the head's graph that its uncertainty is multiplied by (tetsuban.active.hybrid.
  DENSITY_POWER, 0.1 in the default; `density=0`: the mix's margin alone, the default before);
- `C=0.05`: the probe's C;
- `floor=0.1`: the loop's probe divides each dimension by its spread over every image plus this share of the
  median spread (`tetsuban train`'s probe floors the spread over its labelled images so; the loop's does not);
- `lda=0`: the loop's probe as linear discriminant analysis (class means, one covariance shrunk by this much
  toward its diagonal; 0: Ledoit-Wolf's own choice), still a linear head;
- `selftrain=0.1`: the spreading head's probe refitted on the labelled images and every unlabelled one, pseudo-
  labelled with the head's most probable class and weighing this much (self-training), then mixed again;
- `cmn=none`: spreading mixed as it comes, without class mass normalisation (which the default has since
  2026-12-04: each class's share set to the probe's); `cmn=uniform`: equal shares; `cmn=both`: the mix set to the
  probe's shares too;
- `variant=balanced`: margin candidates taken in equal shares from each predicted class, then clustered as the
  hybrid does; `variant=typi100`: TypiClust's picks until 100 labels (the default: until the head exists);
  `variant=ordered`: the hybrid's picks queued most uncertain first (it queues them by cluster);
  `variant=typi50-ordered`: both; `variant=std`: the hybrid over embeddings standardized per dimension;
  `variant=badge`: BADGE's k-means++ over gradient embeddings; `variant=most-uncertain`: each cluster's most
  uncertain image, where the hybrid takes the one nearest the centre (since 2026-12-04); `variant=disagree`,
  `divergence`, `probe-margin`, `spread-margin`, `entropy`: the hybrid's candidates by another score (the mix's
  margin with the images where the probe and spreading disagree first; their symmetric divergence; the probe's or
  spreading's own margin; the mix's entropy).
Levers join with "+" (`refine=0`: the default before the graph's edges were weighed by the probe;
`cmn=none+w=0.6+refine=0+variant=most-uncertain`: the one before class mass). The levers that replace the head's
probabilities (`w=auto`, `w=valN`, `selftrain`) mix without class mass, as the head did when they were measured.
`--random 1000` adds random picks with the probe at 1,000 labels under each lever, at the same cadence (issue 20's
target; a lever of the probe moves it too; the probe warm-started at every step ends elsewhere than one fit).
Writes bench/results/loop_levers.md (or --out). Beside other jobs on two cores run it with one BLAS thread
(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1): with two, a run took 13x as long.
`--resize 224` embeds the project with its preprocess resizing to 224 instead of 256 before the crop to 224 (a
square image then loses none of its border; give it its own --cache). `--step 20 --queue 80` is the app's
cadence; `--first-seed 30` runs fresh seeds (30, 31, ...) to confirm a lever chosen on the first ones.

Usage: python bench/loop_levers.py [--dataset fashion] [--budget 300] [--seeds 5] [--step 50] [--queue 80]
       [--cache F.npz] [--resize 224] [--random 1000] [--first-seed 30] [--levers w=0.7 cand=2 ...]
"""

from __future__ import annotations

import argparse
import functools
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from active_sim import emoji_project, fashion_project

from tetsuban import Project
from tetsuban.active import heads, hybrid, loop, registry, strategies
from tetsuban.active.simulate import simulate
from tetsuban.active.stage import active_data, simulation_inputs
from tetsuban.learn import spreading
from tetsuban.learn.head import DEFAULT_C

RESULTS = Path(__file__).resolve().parent / "results" / "loop_levers.md"
Target = tuple[float, float, float]  # random picks' mean, standard deviation and median at their label count
STEP = 50  # bench/active_sim.py's; the app retrains every 20 labels (tetsuban serve --retrain-every)


def embedded(
    name: str, cache: Path | None = None, resize: int | None = None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The dataset's embeddings, labels and test mask, from a project built as bench/active_sim.py builds it (its
    preprocess resizing to ``resize`` instead of the default's 256 before the crop to 224, when given); kept in (and
    read back from) ``cache`` when given."""
    if cache is not None and cache.is_file():
        with np.load(cache) as saved:
            return saved["x"], [str(v) for v in saved["labels"]], saved["test"]
    data = _embedded(name, resize)
    if cache is not None:
        np.savez(cache, x=data[0], labels=np.asarray(data[1]), test=data[2])
    return data


def _embedded(name: str, resize: int | None) -> tuple[np.ndarray, list[str], np.ndarray]:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="loop-levers-") as tmp:
        work = Path(tmp)
        project = fashion_project(work, rng) if name == "fashion" else emoji_project(work)
        if resize is not None:
            project = resized_first(project, resize)
        with project:
            x, labels, test = simulation_inputs(active_data(project.workspace))
    return np.asarray(x, np.float32), list(labels), np.asarray(test, bool)


def resized_first(project: Project, size: int) -> Project:
    """The project reopened with its preprocess resizing the shorter side to ``size`` before the crop to 224 (224:
    no crop of a square image), as a user edits tetsuban.toml."""
    root = project.root
    project.close()
    toml = root / "tetsuban.toml"
    shipped = '{ step = "resize", size = 256 }'
    text = toml.read_text(encoding="utf-8")
    if text.count(shipped) != 1:
        raise SystemExit(f"{toml} does not resize to 256 once: the default pipeline changed; update this bench.")
    toml.write_text(text.replace(shipped, f'{{ step = "resize", size = {size} }}'), encoding="utf-8")
    return Project.open(root)


def balanced_picks(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    batch: int,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
    density: np.ndarray | None = None,
) -> np.ndarray:
    """The hybrid's clustered margin picks from candidates drawn in equal shares from each predicted class."""
    if probabilities is None:
        return hybrid.hybrid(embeddings, labelled, probabilities, batch, rng, eligible, density)
    allowed = strategies.eligible_mask(labelled, eligible)
    margins = strategies.uncertainty_scores(probabilities, "margin")
    predicted = probabilities.argmax(axis=1)
    share = -(-hybrid.CANDIDATES * batch // probabilities.shape[1])
    pools = [
        strategies.most_uncertain(margins, allowed & (predicted == k), share, rng)
        for k in range(probabilities.shape[1])
        if (allowed & (predicted == k)).any()
    ]
    candidates = np.zeros_like(allowed)
    candidates[np.concatenate(pools)] = True
    return hybrid.clustered_uncertain(embeddings, margins, candidates, batch, rng)


def typiclust_until(labels: int, then: strategies.Strategy = hybrid.hybrid) -> strategies.Strategy:
    """TypiClust's picks until ``labels`` are given, then ``then``'s."""

    def picks(
        embeddings: np.ndarray,
        labelled: np.ndarray,
        probabilities: np.ndarray | None,
        batch: int,
        rng: np.random.Generator,
        eligible: np.ndarray | None = None,
        density: np.ndarray | None = None,
    ) -> np.ndarray:
        if labelled.sum() < labels:
            return strategies.typiclust(embeddings, labelled, None, batch, rng, eligible)
        return then(embeddings, labelled, probabilities, batch, rng, eligible, density)

    return picks


@contextmanager
def lever(setting: str, x: np.ndarray, labels: Sequence[str] = (), test: np.ndarray | None = None) -> Iterator[float]:
    """The product changed as ``setting`` says while the block runs, over embeddings ``x``; yields the probe's C to
    simulate with."""
    name, _, value = setting.partition("=")
    saved: list[tuple[object, str, object]] = []

    def patch(owner: object, attribute: str, new: object) -> None:
        saved.append((owner, attribute, getattr(owner, attribute)))
        setattr(owner, attribute, new)

    c = DEFAULT_C
    changes: dict[str, Callable[[], None]] = {
        "w": lambda: (
            patch(heads, "PROBE_WEIGHT", float(value))
            if value[:1].isdigit()
            else patch(heads.LoopHead, "probabilities", chosen_weight(value, labels, test))
        ),
        "scaled": lambda: patch(heads, "geometric_mix", scaled_mix),
        "smooth": lambda: patch(heads, "spread_labels", smoothed_spread(float(value))),
        "alpha": lambda: patch(heads, "spread_labels", functools.partial(spreading.spread_labels, alpha=float(value))),
        "iters": lambda: patch(
            heads, "spread_labels", functools.partial(spreading.spread_labels, iterations=int(value))
        ),
        "k": lambda: patch(heads, "neighbour_weights", functools.partial(spreading.neighbour_weights, k=int(value))),
        "power": lambda: patch(spreading, "SIMILARITY_POWER", float(value)),
        "graph": lambda: patch(spreading, "_unit_rows", graph_rows(value)),
        "cand": lambda: patch(hybrid, "CANDIDATES", int(value)),
        "density": lambda: patch(hybrid, "DENSITY_POWER", float(value)),
        "floor": lambda: patch(loop, "WarmProbe", floored_probe(float(value))),
        "lda": lambda: patch(loop, "WarmProbe", discriminant_probe(float(value))),
        "cmn": lambda: patch(heads.LoopHead, "probabilities", mass_normalized(value)),
        "refine": lambda: patch(heads, "AGREEMENT_POWER", float(value)),
        "rounds": lambda: patch(heads.LoopHead, "probabilities", refined_rounds(int(value))),
        "selftrain": lambda: patch(heads.LoopHead, "probabilities", self_trained(float(value), x)),
        "variant": lambda: (
            patch(registry, "STRATEGIES", {**registry.STRATEGIES, "hybrid": _variant(value)}),
            patch(heads, "geometric_mix", recording_mix) if value in VIEW_SCORES else None,
        ),
        "C": lambda: None,
        "default": lambda: None,
    }
    if name not in changes:
        raise SystemExit(f"unknown lever {setting!r}: one of {', '.join(changes)}")
    changes[name]()
    if name == "C":
        c = float(value)
    try:
        yield c
    finally:
        for owner, attribute, old in reversed(saved):
            setattr(owner, attribute, old)


@contextmanager
def levers(settings: str, x: np.ndarray, labels: Sequence[str] = (), test: np.ndarray | None = None) -> Iterator[float]:
    """Every lever of ``settings`` (joined by "+": `cmn=probe+w=0.4`) in place while the block runs; yields the
    probe's C to simulate with (the last `C=` given, else the default)."""
    with ExitStack() as stack:
        cs = [stack.enter_context(lever(setting, x, labels, test)) for setting in settings.split("+")]
        yield next((c for c in reversed(cs) if c != DEFAULT_C), DEFAULT_C)


POOLED_WIDTH = 1280  # EfficientNet-Lite0's pooled features; the tapped blocks' means follow them


def graph_rows(rule: str) -> Callable[[np.ndarray], np.ndarray]:
    """The `graph=` lever: the neighbour graph's unit rows from embeddings standardized per dimension, then changed
    as ``rule`` says: `tapsW` multiplies the tapped blocks' dimensions by W, `sqrt-tapsW` takes each value's signed
    square root before standardizing too."""
    root = rule.startswith("sqrt-")
    weight = float(rule.removeprefix("sqrt-").removeprefix("taps"))

    def unit_rows(x: np.ndarray) -> np.ndarray:
        values = np.sign(x) * np.sqrt(np.abs(x)) if root else x
        z = (values - values.mean(axis=0)) / (values.std(axis=0) + 1e-6)
        z[:, POOLED_WIDTH:] *= weight
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-6)

    return unit_rows


def ordered_picks(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    batch: int,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
    density: np.ndarray | None = None,
) -> np.ndarray:
    """The hybrid's picks, the most uncertain first (the hybrid orders them by cluster): where the queue holds more
    picks than are labelled before the next retrain, the labelled ones are the most uncertain of the spread-out."""
    picks = hybrid.hybrid(embeddings, labelled, probabilities, batch, rng, eligible, density)
    if probabilities is None:
        return picks
    margins = strategies.uncertainty_scores(probabilities, "margin")
    return picks[np.argsort(-margins[picks], kind="stable")]


def floored_probe(share: float) -> type[loop.WarmProbe]:
    """The loop's probe with each dimension's spread (over every image) floored at ``share`` of the median."""

    class FlooredProbe(loop.WarmProbe):
        def __init__(self, embeddings: np.ndarray, c: float = DEFAULT_C) -> None:
            super().__init__(embeddings, c)
            spread = np.asarray(embeddings, np.float32).std(axis=0)
            self._scale = spread + share * float(np.median(spread)) + 1e-6

    return FlooredProbe


def scaled_mix(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """The geometric mix with each model's log-probabilities first divided by their spread over classes (mean over
    images), so that the weight, not how sure each model is on the whole, says which counts more."""
    floor = 1e-9
    logs = [np.log(np.maximum(p, floor)) for p in (first, second)]
    scales = [max(float(np.mean(np.std(log, axis=1))), 1e-6) for log in logs]
    log = weight * logs[0] / scales[0] + (1.0 - weight) * logs[1] / scales[1]
    mixed = np.exp(log - log.max(axis=1, keepdims=True))
    return mixed / mixed.sum(axis=1, keepdims=True)


def smoothed_spread(share: float) -> Callable[..., np.ndarray]:
    """Label spreading whose scores keep how much label mass reached each image: before the rows are normalised,
    each gets ``share`` of the median row's mass spread evenly over the classes, so that an image the labels barely
    reach is near uniform and the probe decides it in the mix (spreading normalises every row alike)."""

    def spread(graph: Any, labelled: np.ndarray, class_of: np.ndarray, classes: int) -> np.ndarray:
        seeds = np.zeros((graph.shape[0], classes))
        seeds[np.asarray(labelled, np.int64), np.asarray(class_of, np.int64)] = 1.0
        seeds /= np.maximum(seeds.sum(axis=0, keepdims=True), 1.0)
        scores = seeds.copy()
        for _ in range(spreading.DEFAULT_ITERATIONS):
            scores = spreading.DEFAULT_ALPHA * (graph @ scores) + (1.0 - spreading.DEFAULT_ALPHA) * seeds
        scores = np.maximum(scores, 0.0)
        mass = scores.sum(axis=1, keepdims=True)
        scores += share * float(np.median(mass)) / classes
        return scores / np.maximum(scores.sum(axis=1, keepdims=True), 1e-300)

    return spread


def spread_over(
    head: heads.LoopHead, probe: np.ndarray, labelled: np.ndarray, labels: Sequence[str], classes: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """(class index of each label, label spreading's probabilities over the head's graph, its edges weighed by
    ``probe``), as the head computes."""
    known = np.array([classes.index(name) for name in labels])
    return known, head.spread(probe, labelled, known)


WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def best_weight(probe: np.ndarray, spread: np.ndarray, truth: np.ndarray, accuracy_first: bool) -> float:
    """The weight of WEIGHTS whose mix of ``probe`` and ``spread`` scores the class indices ``truth`` best: by mean
    log-likelihood, then accuracy (``accuracy_first``: the other way round)."""
    rows = np.arange(len(truth))
    scores = []
    for weight in WEIGHTS:
        mixed = spreading.geometric_mix(probe, spread, weight)
        accuracy, likelihood = np.mean(mixed.argmax(axis=1) == truth), np.mean(np.log(mixed[rows, truth] + 1e-9))
        scores.append((accuracy, likelihood) if accuracy_first else (likelihood, accuracy))
    return WEIGHTS[max(range(len(WEIGHTS)), key=scores.__getitem__)]


def chosen_weight(rule: str, truth: Sequence[str], test: np.ndarray | None) -> Callable[..., np.ndarray]:
    """The `w=` lever's rules that choose the weight as the loop runs: auto, auto-accuracy, valN."""
    if rule in ("auto", "auto-accuracy"):
        return prequential_weight(rule == "auto-accuracy")
    if rule.startswith("val") and rule[3:].isdigit():
        return val_weight(int(rule[3:]), truth, test)
    raise SystemExit(f"unknown weight rule {rule!r}: a number, auto, auto-accuracy or valN")


def prequential_weight(by_accuracy: bool = False, least: int = 20) -> Callable[..., np.ndarray]:
    """LoopHead.probabilities with the probe's weight in the mix chosen at each retrain: the weight whose mix of
    the previous retrain's probe and spreading gave the images labelled since then (and before, back to the run's
    first head) the highest mean log-likelihood (``by_accuracy``: the highest accuracy, then log-likelihood); the
    default weight until ``least`` such images are known."""

    def probabilities(
        head: heads.LoopHead, probe: np.ndarray, labelled: np.ndarray, labels: Sequence[str], classes: tuple[str, ...]
    ) -> np.ndarray:
        if head.name == "probe":
            return probe
        known, spread = spread_over(head, probe, labelled, labels, classes)
        state = head.__dict__.setdefault("_prequential", {})
        before = state.get("labelled")
        if before is None or state["classes"] != classes or not np.isin(before, labelled).all():
            state["history"] = []  # a new run (the simulator shares one head) or a new class
        else:
            fresh = np.isin(labelled, before, invert=True)
            rows = labelled[fresh]
            state["history"].append((state["probe"][rows], state["spread"][rows], known[fresh]))
        state.update(labelled=np.array(labelled), classes=classes, probe=probe, spread=spread)
        weight = heads.PROBE_WEIGHT
        if sum(len(h[2]) for h in state["history"]) >= least:
            p = np.concatenate([h[0] for h in state["history"]])
            q = np.concatenate([h[1] for h in state["history"]])
            y = np.concatenate([h[2] for h in state["history"]])
            weight = best_weight(p, q, y, by_accuracy)
        return spreading.geometric_mix(probe, spread, weight)

    return probabilities


def val_weight(count: int, truth: Sequence[str], test: np.ndarray | None) -> Callable[..., np.ndarray]:
    """LoopHead.probabilities with the probe's weight in the mix chosen at each retrain on ``count`` validation
    images: random images outside the test split whose labels only score the mixes (the highest accuracy, then
    log-likelihood), as a project's labelled val images would; one set for every run. Rows the run labelled itself
    are left out."""
    outside = np.flatnonzero(~test) if test is not None else np.arange(len(truth))
    val = np.random.default_rng(12345).choice(outside, count, replace=False)
    names = np.asarray(truth)

    def probabilities(
        head: heads.LoopHead, probe: np.ndarray, labelled: np.ndarray, labels: Sequence[str], classes: tuple[str, ...]
    ) -> np.ndarray:
        if head.name == "probe":
            return probe
        _, spread = spread_over(head, probe, labelled, labels, classes)
        rows = val[np.isin(val, labelled, invert=True) & np.isin(names[val], classes)]
        y = np.array([classes.index(name) for name in names[rows]])
        weight = best_weight(probe[rows], spread[rows], y, True) if len(rows) else heads.PROBE_WEIGHT
        return spreading.geometric_mix(probe, spread, weight)

    return probabilities


def mass_normalized(target: str) -> Callable[..., np.ndarray]:
    """LoopHead.probabilities with spreading's class mass (Zhu et al. 2003) set before the mix to ``target``'s
    shares: ``probe`` (the probe's predicted shares, as the product does since 2026-12-04), ``uniform``, ``none``
    (the mix as it was before), ``both`` (the probe's, and the mix normalized to them again)."""
    if target not in ("none", "uniform", "probe", "both"):
        raise SystemExit(f"unknown class mass {target!r}: none, uniform, probe or both")

    def probabilities(
        head: heads.LoopHead, probe: np.ndarray, labelled: np.ndarray, labels: Sequence[str], classes: tuple[str, ...]
    ) -> np.ndarray:
        if head.name == "probe":
            return probe
        _, spread = spread_over(head, probe, labelled, labels, classes)
        share = np.full(len(classes), 1.0 / len(classes)) if target == "uniform" else probe.mean(axis=0)
        massed = spread if target == "none" else spreading.with_class_mass(spread, share)
        mixed = heads.geometric_mix(probe, massed, heads.PROBE_WEIGHT)
        return spreading.with_class_mass(mixed, share) if target == "both" else mixed

    return probabilities


def refined_rounds(rounds: int) -> Callable[..., np.ndarray]:
    """The `rounds=` lever: the head's probabilities computed ``rounds`` times, each round's graph weighed by the
    last round's mix instead of the probe (round one is the default's)."""

    def probabilities(
        head: heads.LoopHead, probe: np.ndarray, labelled: np.ndarray, labels: Sequence[str], classes: tuple[str, ...]
    ) -> np.ndarray:
        if head.name == "probe":
            return probe
        known = np.array([classes.index(name) for name in labels])
        mixed = probe
        for _ in range(rounds):
            spread = head.spread(mixed, labelled, known)
            mixed = heads.mixed_with_probe(probe, spread)
        return mixed

    return probabilities


def discriminant_probe(shrinkage: float) -> type[loop.WarmProbe]:
    """The loop's probe as linear discriminant analysis over the standardized embeddings: class means and one
    covariance shrunk toward its diagonal by ``shrinkage`` (0: Ledoit-Wolf's own choice), still a linear head."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    class DiscriminantProbe(loop.WarmProbe):
        def fit(self, x: np.ndarray, labels: Sequence[str]) -> loop.LinearHead:
            classes = tuple(sorted(set(labels)))
            if len(classes) == 2:
                raise SystemExit("the lda lever is for three classes or more")
            index = {name: i for i, name in enumerate(classes)}
            model = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage or "auto")
            z = (np.asarray(x, np.float32) - self._mean) / self._scale
            model.fit(z, [index[n] for n in labels])
            model.priors_ = np.full(len(classes), 1.0 / len(classes))  # balanced, as the probe's class weights
            model.intercept_ = -0.5 * np.sum(model.coef_ * model.means_, axis=1) + np.log(model.priors_)
            coef, intercept = np.asarray(model.coef_, np.float64), np.asarray(model.intercept_, np.float64)
            weight = coef / self._scale
            bias = intercept - weight @ self._mean
            return loop.LinearHead(classes, weight.astype(np.float32), bias.astype(np.float32))

    return DiscriminantProbe


def self_trained(weight: float, x: np.ndarray) -> Callable[..., np.ndarray]:
    """LoopHead.probabilities over embeddings ``x`` with the probe refitted on the labelled images and every other
    image, pseudo-labelled with the mixed head's most probable class and weighing ``weight`` each, then mixed with
    spreading again."""
    from sklearn.linear_model import LogisticRegression

    z = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)

    def probabilities(
        head: heads.LoopHead, probe: np.ndarray, labelled: np.ndarray, labels: Sequence[str], classes: tuple[str, ...]
    ) -> np.ndarray:
        if head.name == "probe":
            return probe
        known, spread = spread_over(head, probe, labelled, labels, classes)
        mixed = spreading.geometric_mix(probe, spread, heads.PROBE_WEIGHT)
        others = np.setdiff1d(np.arange(len(z)), labelled)
        rows, targets = np.concatenate([labelled, others]), np.concatenate([known, mixed[others].argmax(axis=1)])
        weights = np.concatenate([np.ones(len(labelled)), np.full(len(others), weight)])
        model = LogisticRegression(C=DEFAULT_C, class_weight="balanced", max_iter=5000, tol=1e-3)
        model.fit(z[rows], targets, sample_weight=weights)
        refitted = np.full((len(z), len(classes)), 1e-9)
        refitted[:, model.classes_] = model.predict_proba(z)
        return spreading.geometric_mix(refitted, spread, heads.PROBE_WEIGHT)

    return probabilities


def standardized(then: strategies.Strategy) -> strategies.Strategy:
    """``then``'s picks over the embeddings standardized per dimension over every image (the hybrid clusters the
    raw embeddings, where the pooled features' spread outweighs block 5's 20 to 1; spreading's graph standardizes)."""
    kept: dict[int, np.ndarray] = {}

    def picks(
        embeddings: np.ndarray,
        labelled: np.ndarray,
        probabilities: np.ndarray | None,
        batch: int,
        rng: np.random.Generator,
        eligible: np.ndarray | None = None,
        density: np.ndarray | None = None,
    ) -> np.ndarray:
        if id(embeddings) not in kept:
            kept.clear()
            x = np.asarray(embeddings, np.float32)
            kept[id(embeddings)] = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
        return then(kept[id(embeddings)], labelled, probabilities, batch, rng, eligible, density)

    return picks


def badge_picks(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    batch: int,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
    density: np.ndarray | None = None,
) -> np.ndarray:
    """BADGE (Ash et al. 2020) for the linear head: k-means++ seeding over each eligible image's gradient embedding
    (its probabilities minus its predicted class's one-hot, times its standardized embedding), so that a batch is
    both uncertain (long gradients) and spread out (gradients in different directions). The distances come from
    the two factors' inner products; the C x D gradients are never built."""
    if probabilities is None:
        return hybrid.hybrid(embeddings, labelled, probabilities, batch, rng, eligible, density)
    pool = np.flatnonzero(strategies.eligible_mask(labelled, eligible))
    x = np.asarray(embeddings, np.float32)
    z = ((x[pool] - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)).astype(np.float32)
    r = np.asarray(probabilities[pool], np.float32).copy()
    r[np.arange(len(pool)), r.argmax(axis=1)] -= 1.0
    norms = (r * r).sum(axis=1) * (z * z).sum(axis=1)
    chosen = [int(np.argmax(norms))]
    nearest = np.full(len(pool), np.inf, np.float32)
    while len(chosen) < min(batch, len(pool)):
        last = chosen[-1]
        distance = norms + norms[last] - 2.0 * (r @ r[last]) * (z @ z[last])
        nearest = np.minimum(nearest, np.maximum(distance, 0.0))
        nearest[chosen] = 0.0
        if nearest.sum() <= 0:
            break
        chosen.append(int(rng.choice(len(pool), p=nearest / nearest.sum())))
    return pool[np.asarray(chosen, np.int64)]


def most_uncertain_picks(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    batch: int,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
    density: np.ndarray | None = None,
) -> np.ndarray:
    """The hybrid before 2026-12-04: of each k-means cluster of the margin candidates its most uncertain image,
    where the hybrid now takes the one nearest the cluster's centre."""
    if probabilities is None:
        return hybrid.hybrid(embeddings, labelled, probabilities, batch, rng, eligible, density)
    from sklearn.cluster import KMeans

    allowed = strategies.eligible_mask(labelled, eligible)
    margins = strategies.uncertainty_scores(probabilities, "margin")
    candidates = strategies.most_uncertain(margins, allowed, hybrid.CANDIDATES * batch, rng)
    if len(candidates) <= batch:
        return candidates
    clusters = KMeans(batch, n_init=1, random_state=int(rng.integers(2**31))).fit_predict(
        np.asarray(embeddings[candidates], np.float32)
    )
    groups = [np.flatnonzero(clusters == k) for k in range(batch)]
    return np.asarray([candidates[g[np.argmax(margins[candidates[g]])]] for g in groups if len(g)], np.int64)


_MIXED: dict[str, np.ndarray] = {}  # the last geometric mix's inputs: the probe's and spreading's probabilities


def recording_mix(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """spreading.geometric_mix, keeping its inputs for the strategies that score by each view."""
    _MIXED["probe"], _MIXED["spread"] = first, second
    return spreading.geometric_mix(first, second, weight)


def _margin_of(p: np.ndarray) -> np.ndarray:
    return strategies.uncertainty_scores(p, "margin")


def _disagreement(mixed: np.ndarray) -> np.ndarray:
    """The mix's margin, plus one where the probe and spreading predict different classes (those first)."""
    apart = _MIXED["probe"].argmax(axis=1) != _MIXED["spread"].argmax(axis=1)
    return _margin_of(mixed) + apart.astype(float)


def _divergence(mixed: np.ndarray) -> np.ndarray:
    """The probe's and spreading's symmetric Kullback-Leibler divergence."""
    p, q = (np.clip(_MIXED[v], 1e-9, 1.0) for v in ("probe", "spread"))
    return ((p - q) * (np.log(p) - np.log(q))).sum(axis=1)


VIEW_SCORES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "probe-margin": lambda mixed: _margin_of(_MIXED["probe"]),
    "spread-margin": lambda mixed: _margin_of(_MIXED["spread"]),
    "disagree": _disagreement,
    "divergence": _divergence,
    "entropy": lambda mixed: strategies.uncertainty_scores(mixed, "entropy"),
}


def view_scored(name: str) -> strategies.Strategy:
    """The hybrid with its candidates scored by VIEW_SCORES[name] instead of the mix's margin (the `variant=` lever
    records the mix's inputs for these)."""

    def picks(
        embeddings: np.ndarray,
        labelled: np.ndarray,
        probabilities: np.ndarray | None,
        batch: int,
        rng: np.random.Generator,
        eligible: np.ndarray | None = None,
        density: np.ndarray | None = None,
    ) -> np.ndarray:
        allowed = strategies.eligible_mask(labelled, eligible)
        if probabilities is None or batch >= allowed.sum():
            return hybrid.hybrid(embeddings, labelled, probabilities, batch, rng, eligible, density)
        return hybrid.clustered_uncertain(embeddings, VIEW_SCORES[name](probabilities), allowed, batch, rng)

    return picks


def _variant(name: str) -> strategies.Strategy:
    if name == "std":
        return standardized(hybrid.hybrid)
    if name == "balanced":
        return balanced_picks
    if name == "badge":
        return badge_picks
    if name == "most-uncertain":
        return most_uncertain_picks
    if name == "ordered":
        return ordered_picks
    if name in VIEW_SCORES:
        return view_scored(name)
    if name.startswith("typi"):
        count, _, then = name[4:].partition("-")
        return typiclust_until(int(count), ordered_picks if then == "ordered" else hybrid.hybrid)
    known = ", ".join(["std", "balanced", "badge", "most-uncertain", "ordered", *VIEW_SCORES, "typiN", "typiN-ordered"])
    raise SystemExit(f"unknown variant {name!r}: {known}")


def run(
    setting: str,
    data: tuple[np.ndarray, list[str], np.ndarray],
    budget: int,
    seeds: int,
    step: int = STEP,
    queue: int | None = None,
    random: int | None = None,
    first_seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, Target | None, float]:
    """Label counts, mean and standard deviation of the default's test accuracy over ``seeds`` with ``setting``,
    its time, with ``random`` the mean, standard deviation and median of random picks with the probe at that many
    labels, and the default's median at the last budget."""
    x, labels, test = data
    started = time.perf_counter()
    with levers(setting, x, labels, test) as c:
        head = heads.LoopHead("spreading", x)  # built inside: the graph's levers must be in place
        curves = [
            simulate(x, labels, test, "hybrid", budget, step, seed, c=c, head=head, queue=queue)
            for seed in range(first_seed, first_seed + seeds)
        ]
        seconds = time.perf_counter() - started
        target = None
        if random is not None:
            picked = [
                simulate(x, labels, test, "random", random, step, seed, c=c, head="probe", queue=queue)
                for seed in range(first_seed, first_seed + seeds)
            ]
            ends = [curve.accuracy[-1] for curve in picked]
            target = (float(np.mean(ends)), float(np.std(ends)), float(np.median(ends)))
    scores = np.array([curve.accuracy for curve in curves])
    median = float(np.median(scores[:, -1]))
    return np.asarray(curves[0].labels), scores.mean(axis=0), scores.std(axis=0), seconds, target, median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["emoji", "fashion"], default="fashion")
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, first-seed + 1, ...")
    parser.add_argument("--levers", nargs="*", default=[], help="levers to run beside the default (none: it alone)")
    parser.add_argument("--step", type=int, default=STEP, help="labels between retrains")
    parser.add_argument("--queue", type=int, help="picks queued at each retrain (the app: 4 x its retrain cadence)")
    parser.add_argument("--cache", type=Path, help="an .npz keeping the embeddings between runs")
    parser.add_argument("--resize", type=int, help="the preprocess's resize before the crop to 224 (default 256)")
    parser.add_argument("--random", type=int, help="also random picks with the probe at this many labels")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    data = embedded(args.dataset, args.cache, args.resize)
    rows = []
    for setting in ["default", *args.levers]:
        row = run(setting, data, args.budget, args.seeds, args.step, args.queue, args.random, args.first_seed)
        rows.append((setting, *row))
        print(setting, " ".join(f"{m:.4f}" for m in row[1]), f"{row[3]:.0f} s", row[4], row[5], flush=True)
    write_table(args, rows)


Row = tuple[str, np.ndarray, np.ndarray, np.ndarray, float, Target | None, float]


def write_table(args: argparse.Namespace, rows: list[Row]) -> None:
    counts = rows[0][1]
    target = (
        f" | random + probe at {args.random} (median) | against it at {counts[-1]} (medians)" if args.random else ""
    )
    lines = [
        "# Levers of the labelling loop, one at a time",
        "",
        f"`python bench/loop_levers.py --dataset {args.dataset} --budget {args.budget} --seeds {args.seeds} "
        f"{'' if not args.first_seed else f'--first-seed {args.first_seed} '}"
        f"--step {args.step}{'' if args.queue is None else f' --queue {args.queue}'}"
        f"{'' if args.random is None else f' --random {args.random}'}"
        f"{'' if args.resize is None else f' --resize {args.resize}'}"
        f"{'' if not args.levers else ' --levers ' + ' '.join(args.levers)}` on {datetime.now(UTC):%Y-%m-%d}: "
        f"Python {platform.python_version()}. "
        f"The default (`hybrid + spreading`) and each lever through the product's simulator on the embeddings of "
        f"bench/active_sim.py's {args.dataset} project, retrained every {args.step} labels (each retrain queueing "
        f"{args.queue or args.step} picks); mean test accuracy ± "
        f"standard deviation over {args.seeds} seeds, the median at the last budget, and the mean's difference from "
        "the default's there"
        f"{'' if args.random is None else ', and from random picks with the probe (the same lever, same seeds)'}.",
        "",
        "| lever | "
        + " | ".join(str(n) for n in counts)
        + f" | median at {counts[-1]} | against the default at {counts[-1]}{target} | time |",
        "|---|" + "---:|" * (len(counts) + (5 if args.random else 3)),
    ]
    base = rows[0][2][-1]
    for setting, _, mean, spread, seconds, random, median in rows:
        cells = " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(mean, spread, strict=True))
        versus = (
            f" | {random[0]:.3f} ± {random[1]:.3f} ({random[2]:.3f}) | {mean[-1] - random[0]:+.4f} "
            f"({median - random[2]:+.4f})"
            if random is not None
            else ""
        )
        lines.append(f"| {setting} | {cells} | {median:.3f} | {mean[-1] - base:+.4f}{versus} | {seconds:.0f} s |")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
