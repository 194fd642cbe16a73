"""The public surface is small and deliberate, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import tetsuban

PUBLIC = {
    "Artifact",
    "ConfigError",
    "EmbedReport",
    "ImageError",
    "ImageInfo",
    "ImportReport",
    "PredictReport",
    "Project",
    "ProjectConfig",
    "ProjectError",
    "ProjectStatus",
    "SchemaError",
    "SourceError",
    "TetsubanError",
    "__version__",
    "TrainReport",
    "decode",
    "inspect_image",
    "load_artifact",
    "predict",
}


PROJECT_SURFACE = {
    "accounts": "property",
    "active_data": "(on_progress)",
    "add_class": "(name)",
    "rename_class": "(old, new, author)",
    "merge_classes": "(sources, into, author)",
    "remove_class": "(name, author)",
    "images_labelled": "(name)",
    "add_property": "(name, kind, values, rule)",
    "backbone": "()",
    "class_counts": "()",
    "classes": "()",
    "close": "()",
    "compare": "(a, b, workers)",
    "doctor": "(model, on_progress)",
    "embed": "(on_progress, image_ids)",
    "embeddings": "(image_ids)",
    "evaluate": "(model, out, workers, on_progress)",
    "export_labels": "(out, history)",
    "export_survey": "(out)",
    "finetune": "(seed, epochs, device, on_step, minutes)",
    "holdout_to_label": "(count, seed)",
    "image_path": "(record)",
    "images": "()",
    "import_archive": "(archive, labels_from_folders, on_progress)",
    "import_csv": "(csv_path, copy, on_progress)",
    "import_files": "(files, copy, on_progress)",
    "import_folder": "(folder, copy, labels_from_folders, on_progress)",
    "import_idx": "(images, labels, class_names, on_progress)",
    "import_outcomes": "(run_id, outcome)",
    "import_path": "(source, labels, copy, labels_from_folders, class_names, on_progress)",
    "init": "(path, name, database)",
    "label_history": "(image_id)",
    "label_issues": "(folds, seed)",
    "label_loop": "(strategy, retrain_every, queue_size, background, snapshot_seconds, recording, head)",
    "labelled": "()",
    "labels_since": "(since)",
    "learning_curve": "(seed)",
    "learning_curve_of": "(running, seed)",
    "look_alikes": "(threshold, mutual)",
    "near_duplicates": "()",
    "next_to_label": "(count, strategy, seed, head)",
    "open": "(path)",
    "pipeline": "()",
    "preview": "(out, n, augmented, seed)",
    "properties": "()",
    "property_history": "(name, image_id)",
    "property_values": "(name)",
    "reset_splits": "(author)",
    "retrains": "()",
    "set_labels": "(assignments, source, author, seconds_on_screen)",
    "set_property": "(name, values, author)",
    "set_property_by_path": "(name, values, author)",
    "simulate": "(strategies, budget, step, seeds, out, on_progress, heads, queue)",
    "split": "(test, val, seed, groups, author, by)",
    "split_history": "()",
    "splits": "()",
    "status": "()",
    "suggestions": "()",
    "survey": "(on_progress, on_compare)",
    "survey_report": "(out)",
    "survey_table": "()",
    "train": "(c, search_c, seed, on_progress, head)",
    "using_model": "(backbone, weights)",
    "values_of": "(image_id)",
}
"""Project's public methods with their parameters, in order: the facade that scripts use. Moving a stage out of
project.py must leave this as it is."""


def test_all_is_exactly_the_public_api() -> None:
    assert set(tetsuban.__all__) == PUBLIC
    for name in tetsuban.__all__:
        assert hasattr(tetsuban, name), name


def test_the_project_facade_keeps_its_public_surface() -> None:
    import inspect

    found: dict[str, str] = {}
    for name, member in vars(tetsuban.Project).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            found[name] = "property"
            continue
        function = member.__func__ if isinstance(member, classmethod | staticmethod) else member
        parameters = [p for p in inspect.signature(function).parameters if p not in ("self", "cls")]
        found[name] = f"({', '.join(parameters)})"
    assert found == PROJECT_SURFACE


def test_every_error_derives_from_the_root() -> None:
    for name in PUBLIC:
        value = getattr(tetsuban, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, tetsuban.TetsubanError), name


def test_import_does_not_import_torch() -> None:
    heavy = "('torch', 'timm', 'onnxruntime', 'onnx', 'sklearn', 'ray')"
    code = f"import sys, tetsuban; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
