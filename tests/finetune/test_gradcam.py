"""Grad-CAM of a fine-tuned network: maps in range, faithful to the network, and in the evaluation report."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tetsuban import Project
from tetsuban.evaluate.gradcam import class_maps, map_and_logits
from tetsuban.finetune.network import build_network, load_network, network_logits
from tetsuban.learn.train import TrainReport
from tetsuban.pipeline.inputs import model_pixels, to_batch


def _test_files(project: Project) -> list[tuple[object, str]]:
    splits, records = project.splits(), {r.id: r for r in project.images()}
    return [(project.image_path(records[i]), label) for i, label in project.labelled().items() if splits[i] == "test"]


def test_maps_lie_in_range_over_the_models_input(tuned: tuple[Project, TrainReport]) -> None:
    project, report = tuned
    network = load_network(report.artifact)
    path, label = _test_files(project)[0]
    maps = class_maps(network, report.artifact, path, [label, "not a class", label])
    assert maps is not None and [m.class_name for m in maps] == [label]
    heat, pixels = maps[0].heat, model_pixels(path, report.artifact.pipeline)
    assert heat.shape == pixels.shape[:2] and heat.min() >= 0 and heat.max() <= 1
    assert maps[0].overlay.shape == pixels.shape and maps[0].overlay.dtype == np.uint8
    assert not np.array_equal(maps[0].overlay, pixels)


def test_hiding_what_the_map_marks_costs_the_class_most(tuned: tuple[Project, TrainReport]) -> None:
    """Occlusion: greying the hottest quarter of the image lowers the class score more than greying the coldest."""
    project, report = tuned
    network, pipeline = load_network(report.artifact), report.artifact.pipeline

    def logits_of(pixels: np.ndarray) -> torch.Tensor:
        with torch.inference_mode():
            batch = torch.from_numpy(to_batch([pipeline.finish(pixels)]))
            return network_logits(network, report.artifact.card.backbone.taps, batch)[0]

    def hidden(pixels: np.ndarray, mask: np.ndarray) -> np.ndarray:
        grey = pixels.copy()
        grey[mask] = 128
        return grey

    drops = []
    for path, _ in _test_files(project):
        pixels = model_pixels(path, pipeline)
        logits = logits_of(pixels)
        column = int(logits.argmax())
        maps = class_maps(network, report.artifact, path, [report.artifact.classes[column]])
        assert maps is not None
        heat = maps[0].heat
        hot, cold = heat >= np.quantile(heat, 0.75), heat <= np.quantile(heat, 0.25)
        drops.append(float(logits_of(hidden(pixels, cold))[column] - logits_of(hidden(pixels, hot))[column]))
    assert np.median(drops) > 0 and np.mean(np.asarray(drops) > 0) > 0.5, drops


def test_the_report_shows_maps_for_the_top_losses(tuned: tuple[Project, TrainReport]) -> None:
    project, report = tuned
    evaluation, path = project.evaluate(report.artifact.folder)
    html = path.read_text()
    misses = int((~np.asarray(evaluation.metrics.correct)).sum())
    assert misses > 0
    assert html.count('alt="Grad-CAM of') >= misses  # the predicted class's map at least, for each miss
    assert "Grad-CAM shows where" in html


@pytest.mark.parametrize("taps", [(), (5,)], ids=["before taps", "block 5 tapped"])
def test_the_map_is_the_last_convolutions_and_the_scores_are_the_networks(taps: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    network = build_network("efficientnet_lite0", None, 3, taps).eval()
    batch = torch.randn(1, 3, 96, 96)
    feature_map, logits = map_and_logits(network, taps, batch)
    with torch.no_grad():
        assert torch.allclose(feature_map, network.forward_features(batch), atol=1e-5)
        assert torch.allclose(logits, network_logits(network, taps, batch), atol=1e-5)
    (gradient,) = torch.autograd.grad(logits[0, 1], feature_map)
    assert gradient.abs().sum() > 0  # the scores depend on the map Grad-CAM draws
