"""The project's pipeline: configured in tetsuban.toml, fitted on its images once, previewed as a PNG."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import write_fashion_images
from tests.run_cli import tetsuban
from tetsuban import ConfigError, Project
from tetsuban.imaging.decode import decode
from tetsuban.pipeline import Pipeline, default_pipeline
from tetsuban.pipeline.fitted import FIT_DECODE_SIDE, FIT_FILE, fitted_pipeline

WHITENED = """
[pipeline]
preprocess = [
    { step = "resize", size = 64 },
    { step = "center_crop", size = 48 },
    { step = "whiten" },
]
augment = [{ step = "hflip", p = 0.5, never = ["people"] }]
"""


def _whitened() -> Pipeline:
    """The pipeline of WHITENED, unfitted."""
    return Pipeline.from_dict(tomllib.loads(WHITENED)["pipeline"])


def _with_pipeline(project: Project, table: str) -> Project:
    config = project.root / "tetsuban.toml"
    config.write_text(config.read_text(encoding="utf-8").split("# preprocess:")[0] + table, encoding="utf-8")
    project.close()
    return Project.open(project.root)


def test_a_new_project_uses_the_default_pipeline(project: Project) -> None:
    assert project.config.pipeline == default_pipeline()
    assert project.pipeline() == default_pipeline()  # nothing to fit


def test_whitening_is_fitted_on_the_project_images_once(project: Project, emoji_sample: Path) -> None:
    project.import_folder(emoji_sample)
    project = _with_pipeline(project, WHITENED)
    assert project.config.pipeline.needs_fit
    fitted = project.pipeline()
    assert not fitted.needs_fit
    stored = json.loads((project.root / FIT_FILE).read_text())
    assert stored["images"] == 40 and stored["spec"] == project.config.pipeline.preprocess_hash()
    before = (project.root / FIT_FILE).stat().st_mtime_ns
    assert project.pipeline() == fitted  # reused, not refitted
    assert (project.root / FIT_FILE).stat().st_mtime_ns == before
    out = fitted(np.asarray(Image.open(project.image_path(project.images()[0])).convert("RGB")))
    assert out.shape == (48, 48, 3) and out.dtype == np.float32
    project.close()


@pytest.mark.parametrize("damaged", ["{ half written", "[1, 2]", '{"spec": "SPEC", "images": 40}'])
def test_a_damaged_fit_file_is_fitted_again(tmp_path: Path, emoji_sample: Path, damaged: str) -> None:
    """A fit file that is not JSON, not an object, or has the right spec but no pipeline is fitted again and
    rewritten, never trusted nor failed on."""
    pipeline = _whitened()
    files = sorted(emoji_sample.rglob("*.png"))
    expected = fitted_pipeline(tmp_path / "fresh", pipeline, lambda: files)
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / FIT_FILE).write_text(damaged.replace("SPEC", pipeline.preprocess_hash()), encoding="utf-8")
    assert fitted_pipeline(tmp_path / "damaged", pipeline, lambda: files) == expected
    stored = json.loads((tmp_path / "damaged" / FIT_FILE).read_text(encoding="utf-8"))
    assert Pipeline.from_dict(stored["pipeline"]) == expected


def test_a_fit_on_more_images_than_it_samples_is_the_same_every_time(tmp_path: Path, fashion_dir: Path) -> None:
    """Past 256 images the fit samples 256 of them by its seed: fitting again (another machine, a deleted fit file)
    gives the same whitening, and so the same embeddings' key."""
    pipeline = _whitened()
    files = sorted(write_fashion_images(fashion_dir, tmp_path / "images", 300).rglob("*.png"))
    first = fitted_pipeline(tmp_path / "first", pipeline, lambda: files)
    assert json.loads((tmp_path / "first" / FIT_FILE).read_text(encoding="utf-8"))["images"] == 256
    assert fitted_pipeline(tmp_path / "again", pipeline, lambda: files) == first
    assert fitted_pipeline(tmp_path / "other", pipeline, lambda: files, seed=1) != first  # the sample matters


def test_a_fit_on_fewer_images_than_it_samples_sees_each_once(tmp_path: Path, emoji_sample: Path) -> None:
    """Up to 256 images the fit takes them all, each once (no image counted twice), and samples their pixels by
    the same seed every time (80 x 80 crops: more pixels than the 4,096 it samples of each)."""
    steps = [{"step": "resize", "size": 96}, {"step": "center_crop", "size": 80}, {"step": "whiten"}]
    pipeline = Pipeline.from_dict({"preprocess": steps})
    files = sorted(emoji_sample.rglob("*.png"))
    images = [decode(f) for f in files]
    expected = pipeline.fit(images, seed=0)
    assert fitted_pipeline(tmp_path / "default", pipeline, lambda: files) == expected
    seeded = pipeline.fit(images, seed=3)
    assert seeded != expected
    assert fitted_pipeline(tmp_path / "seeded", pipeline, lambda: files, seed=3) == seeded  # the seed reaches the fit
    assert json.loads((tmp_path / "seeded" / FIT_FILE).read_text(encoding="utf-8"))["seed"] == 3  # and its record


def test_a_fit_decodes_large_photos_reduced(tmp_path: Path, photos_dir: Path) -> None:
    """The fit decodes each image at most FIT_DECODE_SIDE pixels on its longer side, so that 256 camera photos do not
    all sit in memory at full size; with these photos that changes the fit, so the test can tell."""
    files = [photos_dir / name for name in ("building.jpg", "hubble_deep_field.jpg", "starry_night.jpg", "coffee.png")]
    for file in files:
        with Image.open(file) as image:
            assert max(image.size) > FIT_DECODE_SIDE
    pipeline = _whitened()
    reduced = pipeline.fit([decode(f, max_side=FIT_DECODE_SIDE) for f in files], seed=0)
    assert reduced != pipeline.fit([decode(f) for f in files], seed=0)
    assert fitted_pipeline(tmp_path, pipeline, lambda: files) == reduced


def test_a_bad_pipeline_in_the_config_is_a_clear_error(project: Project) -> None:
    with pytest.raises(ConfigError, match="Unknown pipeline step 'sharpen'"):
        _with_pipeline(project, '[pipeline]\npreprocess = [{ step = "sharpen" }]\n')


def test_preview_writes_a_contact_sheet(project: Project, emoji_sample: Path, tmp_path: Path) -> None:
    project.import_folder(emoji_sample)
    out = project.preview(tmp_path / "aug.png", n=7, augmented=4, seed=3)
    with Image.open(out) as sheet:
        assert sheet.format == "PNG"
        assert sheet.size == (592, 816)  # 7 rows of 5 cells, 112 pixels square, 4 apart (8 more after the first)
        rows = np.asarray(sheet.convert("RGB"))
    again = project.preview(tmp_path / "again.png", n=7, augmented=4, seed=3)
    assert np.array_equal(np.asarray(Image.open(again).convert("RGB")), rows)  # the same seed, the same sheet


def test_cli_pipeline_show_prints_the_resolved_pipeline_as_toml(tmp_path: Path, emoji_sample: Path) -> None:
    project = tmp_path / "p"
    tetsuban("init", project)
    shown = tetsuban("pipeline", "show", project).stdout
    parsed = tomllib.loads(shown)["pipeline"]
    assert parsed == json.loads(json.dumps(default_pipeline().to_dict()))
    assert default_pipeline().preprocess_hash() in shown
    tetsuban("import", project, emoji_sample)
    result = tetsuban("preview", project, "--n", "4", "-o", tmp_path / "sheet.png")
    assert "Wrote" in result.stdout and (tmp_path / "sheet.png").is_file()
