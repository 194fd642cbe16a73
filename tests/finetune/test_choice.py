"""The run's last decision: the fine-tuned network, or the probe where it validates better (in float32) beyond the
noise of the paired comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import write_fashion_images
from tetsuban import Project
from tetsuban.finetune.choice import (
    Candidate,
    ValData,
    _inputs,
    _probabilities,
    compared,
    keep_better,
    widest_share,
)
from tetsuban.finetune.data import validation_inputs
from tetsuban.finetune.lower_graph import graph_lower
from tetsuban.finetune.network import build_network, classifier_of
from tetsuban.finetune.run import LabelledFiles
from tetsuban.finetune.split import split_network
from tetsuban.learn.card import FinetunedHeadCard
from tetsuban.learn.head import fit_linear_head
from tetsuban.pipeline.inputs import model_input, to_batch
from tetsuban.pipeline.spec import default_pipeline


@pytest.fixture(scope="module")
def val(tmp_path_factory: pytest.TempPathFactory, fashion_dir: Path) -> LabelledFiles:
    folder = write_fashion_images(fashion_dir, tmp_path_factory.mktemp("choice"), 12)
    paths = sorted(folder.rglob("*.png"))
    return LabelledFiles(paths, ["0" * 64] * len(paths), [path.parent.name for path in paths])


def _classes(val: LabelledFiles) -> tuple[str, ...]:
    return tuple(sorted(set(val.labels)))


def _fitted(val: LabelledFiles) -> torch.nn.Module:
    """A network whose classifier was fitted on these very images: it validates (nearly) perfectly on them."""
    network = build_network("efficientnet_lite0", None, len(_classes(val))).eval()
    batch = torch.from_numpy(to_batch([model_input(path, default_pipeline()) for path in val.paths]))
    with torch.inference_mode():
        pooled = network.forward_head(network.forward_features(batch), pre_logits=True).numpy()
    head = fit_linear_head(pooled, val.labels, 1.0)
    with torch.no_grad():
        classifier_of(network).weight.copy_(torch.from_numpy(head.weight))
        classifier_of(network).bias.copy_(torch.from_numpy(head.bias))
    return network


def _one_class(val: LabelledFiles) -> torch.nn.Module:
    """A network that says the first class whatever it sees."""
    network = build_network("efficientnet_lite0", None, len(_classes(val))).eval()
    with torch.no_grad():
        classifier_of(network).weight.zero_()
        classifier_of(network).bias.copy_(torch.arange(len(_classes(val)), 0, -1, dtype=torch.float32))
    return network


def test_the_probe_is_kept_where_fine_tuning_validates_worse(val: LabelledFiles) -> None:
    data = ValData(_classes(val), val, default_pipeline(), torch.device("cpu"))
    kept = keep_better(Candidate(_one_class(val), "tune", 4), Candidate(_fitted(val), "probe", 0), data)
    assert (kept.candidate.stage, kept.candidate.epoch, kept.chosen_by) == ("probe", 0, "validation")
    assert kept.validation.balanced_accuracy is not None and kept.validation.balanced_accuracy > 0.9
    assert kept.because.startswith("the probe: validation balanced accuracy")
    assert f"against {1 / len(_classes(val)):.3f} for fine-tuned epoch 4" in kept.because


def test_the_fine_tuned_network_is_kept_where_it_validates_better(val: LabelledFiles) -> None:
    data = ValData(_classes(val), val, default_pipeline(), torch.device("cpu"))
    kept = keep_better(Candidate(_fitted(val), "tune", 7), Candidate(_one_class(val), "probe", 0), data)
    assert (kept.candidate.stage, kept.candidate.epoch) == ("tune", 7)
    assert kept.because.startswith(
        f"fine-tuned epoch 7: validation balanced accuracy {kept.validation.balanced_accuracy:.3f}"
    )


def test_without_validation_the_last_epoch_is_kept_else_the_probe(val: LabelledFiles) -> None:
    data = ValData(_classes(val), None, default_pipeline(), torch.device("cpu"))
    tuned, probe = Candidate(_one_class(val), "tune", 3), Candidate(_fitted(val), "probe", 0)
    kept = keep_better(tuned, probe, data)
    assert kept.candidate is tuned and kept.chosen_by == "last" and kept.validation.accuracy is None
    assert keep_better(None, probe, data).candidate is probe


def test_a_time_budget_spent_before_any_epoch_ships_the_probe(tmp_path: Path, fashion_dir: Path) -> None:
    with Project.init(tmp_path / "project") as project:
        project.import_folder(write_fashion_images(fashion_dir, tmp_path / "fashion", 40, start=200))
        project.split(test=0.25, val=0.25)
        report = project.finetune(epochs=3, minutes=0.0)
    head = report.artifact.card.head
    assert isinstance(head, FinetunedHeadCard)
    assert (head.epochs, head.planned_epochs, head.ended_by, head.best_stage) == (0, 3, "time budget", "probe")
    assert [e["stage"] for e in head.history] == ["probe"]
    assert head.kept == "the probe: no fine-tuning epoch ran within the time budget"


def _answers(wrong: list[int], classes: int = 3, per_class: int = 10) -> tuple[np.ndarray, list[str]]:
    """Probabilities of a model that is right on every image but those in ``wrong`` (it says the next class there),
    and the labels: ``per_class`` images of each class, class by class."""
    truth = np.repeat(np.arange(classes), per_class)
    said = truth.copy()
    said[wrong] = (truth[wrong] + 1) % classes
    return np.eye(classes)[said], [f"c{k}" for k in truth]


def _candidates() -> tuple[Candidate, Candidate]:
    return Candidate(torch.nn.Identity(), "tune", 10), Candidate(torch.nn.Identity(), "probe", 0)


def test_a_probe_lead_within_the_noise_keeps_the_fine_tuned_network() -> None:
    """Per class, the probe misses one image and the fine-tuned network two others: the probe leads by a tenth in
    each class's recall, less than the paired standard error (about 0.104) of ten images a class."""
    tuned, probe = _candidates()
    tuned_p, labels = _answers([1, 2, 11, 12, 21, 22])
    probe_p, _ = _answers([0, 10, 20])
    kept = compared(tuned, probe, (tuned_p, probe_p), ("c0", "c1", "c2"), labels)
    assert kept.candidate is tuned and kept.validation.balanced_accuracy == pytest.approx(0.8)
    assert kept.because == (
        "fine-tuned epoch 10: validation balanced accuracy 0.800 against the probe's 0.900 (the probe's lead is "
        "within one standard error of the paired difference (0.104))"
    )


def test_a_probe_lead_beyond_the_noise_keeps_the_probe() -> None:
    """Per class, the probe misses one image and the fine-tuned network three others: a lead of 0.2 against a paired
    standard error of sqrt(3 * 0.4 / 10) / 3 = 0.115."""
    tuned, probe = _candidates()
    tuned_p, labels = _answers([1, 2, 3, 11, 12, 13, 21, 22, 23])
    probe_p, _ = _answers([0, 10, 20])
    kept = compared(tuned, probe, (tuned_p, probe_p), ("c0", "c1", "c2"), labels)
    assert kept.candidate is probe and kept.validation.balanced_accuracy == pytest.approx(0.9)
    assert kept.because.startswith("the probe: validation balanced accuracy 0.900 against 0.700 for fine-tuned epoch")
    assert kept.because.endswith("a lead beyond one standard error of the paired difference (0.115)")


def test_candidates_validated_over_the_shared_lower_graph_get_the_whole_networks_probabilities(
    val: LabelledFiles, tmp_path: Path
) -> None:
    network = _fitted(val)
    whole = ValData(_classes(val), val, default_pipeline(), torch.device("cpu"))
    lower = graph_lower(split_network(network, 3)[0], 224, tmp_path / "lower.onnx")
    shared = ValData(_classes(val), val, default_pipeline(), torch.device("cpu"), lower=lower, cut=3)
    pixels = validation_inputs(val.paths, default_pipeline())
    expected = _probabilities(network, _inputs(pixels, whole), whole)
    found = _probabilities(network, _inputs(pixels, shared), shared)
    assert expected.shape == found.shape == (len(val.paths), len(_classes(val)))
    assert np.abs(found - expected).max() < 1e-4 and expected.max(axis=1).min() < 0.99  # not all certain
    kept = keep_better(Candidate(_one_class(val), "tune", 2), Candidate(network, "probe", 0), shared)
    assert kept.candidate.stage == "probe" and kept.validation.balanced_accuracy is not None
    assert kept.validation.balanced_accuracy > 0.9


def test_the_largest_wise_share_within_the_noise_of_the_best_is_kept() -> None:
    """The best share (0.5: one miss a class) leads the unmixed weights (three misses a class: 0.2, beyond the paired
    standard error of 0.115) but not 0.75 (two misses a class: 0.1, within 0.104), so 0.75 is kept."""
    labels = _answers([])[1]
    found = {
        1.0: _answers([1, 2, 3, 11, 12, 13, 21, 22, 23])[0],
        0.75: _answers([1, 2, 11, 12, 21, 22])[0],
        0.5: _answers([0, 10, 20])[0],
        0.25: _answers([0, 10, 20, 4, 14, 24])[0],
    }
    assert widest_share(found, ("c0", "c1", "c2"), labels) == 0.75
    assert widest_share({1.0: found[0.75], 0.5: found[0.5]}, ("c0", "c1", "c2"), labels) == 1.0


def test_a_wise_share_leading_every_larger_one_beyond_the_noise_is_kept() -> None:
    labels = _answers([])[1]
    worse = _answers([1, 2, 3, 11, 12, 13, 21, 22, 23])[0]
    better = _answers([0, 10, 20])[0]
    found = {1.0: worse, 0.75: worse, 0.5: better, 0.25: better}  # 0.5 and 0.25 tie: the larger share wins
    assert widest_share(found, ("c0", "c1", "c2"), labels) == 0.5
