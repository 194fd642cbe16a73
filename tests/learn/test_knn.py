"""The kNN head: its votes by hand, the same probabilities from the ONNX graph as from numpy, and a model trained,
evaluated and used for prediction like the probe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import embedded_project
from tests.run_cli import tetsuban
from tetsuban import ConfigError, Project
from tetsuban.backbones.onnx_export import EMBEDDING_NAME
from tetsuban.infer import InferenceJob, infer
from tetsuban.learn.artifact import PROBABILITIES_NAME, load_artifact
from tetsuban.learn.knn import fit_knn_head
from tetsuban.learn.predict import predict_files


def test_the_nearest_neighbours_vote_with_their_similarity() -> None:
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.2, 0.8]])
    head = fit_knn_head(x, ["east", "east", "north", "north", "north"], k=3)
    probabilities = head.probabilities(np.array([[5.0, 0.2], [0.0, 3.0]]))  # the length does not matter
    assert probabilities.shape == (2, 2) and np.allclose(probabilities.sum(axis=1), 1)
    assert probabilities[0].argmax() == head.classes.index("east")  # two of three neighbours, the closest ones
    assert probabilities[1, head.classes.index("north")] == pytest.approx(1.0)  # all three are north
    assert fit_knn_head(x, ["east"] * 2 + ["north"] * 3, k=50).k == 5  # never more than there are


def test_neighbours_equally_similar_vote_in_training_order_as_the_graphs_topk_does() -> None:
    """ONNX TopK keeps the lower index of two equal values: numpy must pick the same neighbours, or the app's
    suggestions and the shipped model's answers part on ties (exact duplicates, which real folders have)."""
    x = np.array([[1.0, 0.0] if i % 2 == 0 else [0.0, 1.0] for i in range(40)])  # twenty tied rows, interleaved
    labels = ["early" if i < 10 else "late" for i in range(40)]
    head = fit_knn_head(x, labels, k=5)
    probabilities = head.probabilities(np.array([[1.0, 0.0]]))
    assert probabilities[0, head.classes.index("early")] == pytest.approx(1.0)  # rows 0, 2, 4, 6, 8


@pytest.mark.parametrize(("k", "allowed"), [(0, False), (1, True), (1000, True), (1001, False)])
def test_k_is_checked_by_name(k: int, allowed: bool) -> None:
    x = np.eye(3)
    if allowed:
        assert fit_knn_head(x, ["a", "b", "c"], k=k).k == min(k, 3)
    else:
        with pytest.raises(ConfigError, match=r"The 'k' parameter must be an int in \[1, 1000\]"):
            fit_knn_head(x, ["a", "b", "c"], k=k)


def test_an_knn_model_predicts_through_its_graph_as_numpy_does(fashion_dir: Path, tmp_path: Path) -> None:
    root = embedded_project(fashion_dir, tmp_path, 120, 0, test=0.25, val=0.2)
    printed = tetsuban("train", root, "--head", "knn").stdout
    assert "knn, k = 10" in printed
    (model,) = (root / "models").iterdir()
    card = json.loads((model / "card.json").read_text(encoding="utf-8"))
    assert card["head"]["kind"] == "knn" and card["head"]["neighbours"] == card["data"]["images"]
    artifact = load_artifact(model)
    with Project.open(root) as project:
        splits, labels = project.splits(), project.labelled()
        train = [i for i in labels if splits[i] == "train"]
        test = [i for i in labels if splits[i] == "test"]
        vectors = project.embeddings(train)
        paths = {r.id: project.image_path(r) for r in project.images()}
        evaluation, report = project.evaluate(model)
    head = fit_knn_head(np.stack([vectors[i] for i in train]), [labels[i] for i in train])
    job = InferenceJob(artifact.model_path, artifact.pipeline.to_dict(), (PROBABILITIES_NAME, EMBEDDING_NAME))
    outputs = [r.outputs for batch in infer(job, list(enumerate(paths[i] for i in test)), 1) for r in batch]
    graph = np.stack([o[PROBABILITIES_NAME] for o in outputs if o is not None])
    embeddings = np.stack([o[EMBEDDING_NAME] for o in outputs if o is not None])
    assert np.allclose(graph, head.probabilities(embeddings), atol=1e-4)
    predicted = predict_files(artifact, [paths[i] for i in test], k=1)
    assert [p.top[0][0] for p in predicted] == [head.classes[k] for k in graph.argmax(axis=1)]
    assert evaluation.metrics.accuracy > 0.5 and report.is_file()
    refused = tetsuban("train", root, "--head", "knn", "--c", "1", check=False)
    assert refused.returncode == 1 and "no C" in refused.stderr
