"""Worker processes start cleanly even when the calling process has busy library threads."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tetsuban import Project


@pytest.mark.timeout(120)
def test_import_after_opencv_ran_threads_in_this_process(project: Project, emoji_sample: Path) -> None:
    # OpenCV's thread pool, left with its locks in some state: a plain fork of this process could deadlock.
    cv2.setNumThreads(2)
    big = np.random.default_rng(0).integers(0, 255, (1500, 1500, 3), dtype=np.uint8)
    for _ in range(10):
        cv2.GaussianBlur(big, (0, 0), 5)
    report = project.import_folder(emoji_sample)  # 40 files: prepared in worker processes
    assert report.counts["added"] == 40
