"""docs/deploy.md's client, run exactly as printed with onnxruntime and Pillow only, classifies real files as
`tetsuban predict` does: transparent emoji, grey fashion-mnist images, a photo, and a photo stored turned."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.conftest import REPO, write_fashion_images
from tetsuban.learn.artifact import Artifact
from tetsuban.learn.predict import predict_files

MARKER = "<!-- client: run by tests/deploy/test_client.py exactly as printed -->"


def printed_client() -> str:
    """The Python block that follows the marker in docs/deploy.md."""
    page = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    found = re.search(re.escape(MARKER) + r"\n```python\n(.*?)```", page, flags=re.S)
    assert found, "docs/deploy.md has no client block after its marker"
    return found.group(1)


def stored_turned(image_file: Path, out: Path) -> Path:
    """``image_file`` saved turned a quarter clockwise as JPEG, with the EXIF orientation (8) that shows it upright."""
    with Image.open(image_file) as image:
        exif = Image.Exif()
        exif[0x0112] = 8
        image.convert("RGB").transpose(Image.Transpose.ROTATE_270).save(out, quality=95, exif=exif.tobytes())
    return out


def with_clear_background(grey_file: Path, out: Path) -> Path:
    """A grey image (garment bright on black) as black ink whose opacity is its brightness: shown on white, the
    garment is dark on white; read without its transparency, the picture is all black."""
    with Image.open(grey_file) as image:
        ink = Image.new("RGBA", image.size, (0, 0, 0, 255))
        ink.putalpha(image.convert("L"))
        ink.save(out)
    return out


def test_the_printed_client_is_short_and_needs_nothing_of_tetsuban() -> None:
    code = printed_client()
    assert len([line for line in code.splitlines() if line.strip()]) <= 20
    imports = set(re.findall(r"^(?:import|from) (\w+)", code, flags=re.M))
    assert imports == {"json", "sys", "numpy", "onnxruntime", "PIL"}


def test_the_printed_client_classifies_as_predict_does(
    model: Artifact, standalone: Path, tmp_path: Path, emoji_dir: Path, fashion_dir: Path, photos_dir: Path
) -> None:
    (tmp_path / "classify.py").write_text(printed_client(), encoding="utf-8")
    files = [*sorted(emoji_dir.glob("1f60*.png"))[:6], photos_dir / "butterfly.jpg", photos_dir / "chelsea.png"]
    fashion = sorted(write_fashion_images(fashion_dir, tmp_path / "fashion", 6, start=900).rglob("*.png"))
    files += fashion
    files += [stored_turned(f, tmp_path / f"turned-{f.stem}.jpg") for f in fashion]
    files += [with_clear_background(f, tmp_path / f"clear-{f.stem}.png") for f in fashion]
    run = subprocess.run(
        [sys.executable, "-I", str(tmp_path / "classify.py"), str(standalone), *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "OMP_WAIT_POLICY": "PASSIVE"},
    )
    printed = [line.split("\t") for line in run.stdout.splitlines()]
    expected = predict_files(model, files, k=len(model.classes))
    assert [row[0] for row in printed] == [str(f) for f in files]
    for row, prediction in zip(printed, expected, strict=True):
        shown = [(cell.rsplit(" ", 1)[0], float(cell.rsplit(" ", 1)[1])) for cell in row[1:]]
        theirs = dict(prediction.top)
        assert len(shown) == 3 and all(abs(p - theirs[c]) < 0.03 for c, p in shown), row
        (first, p1), (second, p2) = prediction.top[:2]
        assert shown[0][0] == first or (shown[0][0] == second and p1 - p2 < 0.03), row  # a near tie may flip
