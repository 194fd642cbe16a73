"""A real fine-tuning run on fashion images: what it writes, and that the artifact is the network it trained."""

from __future__ import annotations

import numpy as np

from tetsuban import Project
from tetsuban.backbones.onnx_export import EMBEDDING_NAME
from tetsuban.finetune.network import load_network, network_embeddings
from tetsuban.infer import InferenceJob, infer
from tetsuban.learn.card import FinetunedHeadCard
from tetsuban.learn.predict import predict_files
from tetsuban.learn.train import TrainReport, labels_sha256


def _finetuned(report: TrainReport) -> FinetunedHeadCard:
    head = report.artifact.card.head
    assert isinstance(head, FinetunedHeadCard)
    return head


def _val(project: Project) -> list[tuple[int, str]]:
    splits = project.splits()
    return [(i, label) for i, label in project.labelled().items() if splits[i] == "val"]


def test_the_run_writes_the_probes_artifact_with_the_network_beside_it(tuned: tuple[Project, TrainReport]) -> None:
    project, report = tuned
    names = {p.name for p in report.artifact.folder.iterdir()}
    assert {"model.onnx", "card.json", "network.safetensors"} <= names
    card = report.artifact.card
    head = _finetuned(report)
    assert (head.head_epochs, head.body_epochs, head.planned_epochs) == (2, 2, 4)
    assert [(e["stage"], e["epoch"]) for e in head.history] == [("head", 1), ("head", 2), ("body", 1), ("body", 2)]
    assert head.recipe["batch_size"] == 8 and head.device == "cpu"
    assert card.backbone.finetuned_from == project.backbone().key != card.backbone.key
    assert card.data.images == 30 and card.data.validation_images == 15
    shas = {r.id: r.sha256 for r in project.images()}
    val = _val(project)  # the val images by content, not by count: the test split has 15 too
    assert card.data.validation_labels_sha256 == labels_sha256([shas[i] for i, _ in val], [c for _, c in val])
    assert not list((project.root / ".cache" / "finetune").glob("*.pt"))  # the checkpoint goes once the model is out


def test_training_lowers_the_loss(tuned: tuple[Project, TrainReport]) -> None:
    history = _finetuned(tuned[1]).history
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 0.1


def test_the_card_keeps_the_epoch_that_validated_best(tuned: tuple[Project, TrainReport]) -> None:
    head = _finetuned(tuned[1])
    scores = [(e["val_balanced_accuracy"], -e["val_loss"]) for e in head.history]
    best = head.history[scores.index(max(scores))]
    assert (head.best_stage, head.best_epoch, head.chosen_by) == (best["stage"], best["epoch"], "validation")
    assert tuned[1].validation.balanced_accuracy == best["val_balanced_accuracy"]


def test_the_artifact_predicts_the_validation_the_card_reports(tuned: tuple[Project, TrainReport]) -> None:
    project, report = tuned
    val = _val(project)
    records = {r.id: r for r in project.images()}
    predictions = predict_files(
        report.artifact, [project.image_path(records[i]) for i, _ in val], len(report.artifact.classes), 1
    )
    predicted = [p.top[0][0] for p in predictions]
    accuracy = float(np.mean([name == label for name, (_, label) in zip(predicted, val, strict=True)]))
    assert accuracy == report.validation.accuracy


def test_the_exported_graph_is_the_trained_network_and_the_body_learnt(tuned: tuple[Project, TrainReport]) -> None:
    project, report = tuned
    records = {r.id: r for r in project.images()}
    files = [project.image_path(records[i]) for i, _ in _val(project)][:6]
    torch_side = network_embeddings(load_network(report.artifact), report.artifact, files)
    job = InferenceJob(report.artifact.model_path, report.artifact.pipeline.to_dict(), (EMBEDDING_NAME,))
    onnx_side = {r.key: r.outputs[EMBEDDING_NAME] for batch in infer(job, list(enumerate(files)), 1) for r in batch}
    project.embed(image_ids=[i for i, _ in _val(project)][:6])
    base = project.embeddings([i for i, _ in _val(project)][:6])
    for row, image_id in enumerate(i for i, _ in _val(project)[:6]):
        assert np.allclose(onnx_side[row], torch_side[row], atol=1e-3, rtol=1e-3)
        assert not np.allclose(onnx_side[row], base[image_id], atol=1e-2)  # the body moved: new embeddings


def test_the_doctor_checks_a_finetuned_model_against_its_network(tuned: tuple[Project, TrainReport]) -> None:
    project, report = tuned
    findings = {f.check: f for f in project.doctor(model=report.artifact.folder)}
    assert findings["preprocessing"].status == "pass", findings["preprocessing"].message
    assert findings["overfit"].status == "pass"
