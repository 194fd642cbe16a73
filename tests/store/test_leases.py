"""Leases in the store: one holder per image until it expires or is released (then no one's for a few seconds),
on both databases, and two claimers at once never both get one image."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from tests.conftest import write_fashion_images
from tetsuban import Project
from tetsuban.server.leases import SETTLE_SECONDS, StoredLeases as Leases


def _ids(project: Project, fashion_dir: Path, tmp_path: Path, count: int) -> list[int]:
    project.import_folder(write_fashion_images(fashion_dir, tmp_path / "images", count), labels_from_folders=False)
    return sorted(r.id for r in project.images())


def test_a_lease_keeps_an_image_from_others_until_it_expires_or_is_released(
    project: Project, fashion_dir: Path, tmp_path: Path
) -> None:
    ids = _ids(project, fashion_dir, tmp_path, 10)
    leases = Leases(project.workspace.engine, seconds=60)
    assert leases.claim("ann", ids, 3, now=0) == ids[:3]
    assert leases.claim("bob", ids, 3, now=1) == ids[3:6]
    assert leases.claim("ann", ids, 3, now=2) == ids[:3]  # hers again, renewed
    leases.release(ids[1], now=3)  # labelled: no one's while the other app processes learn of the label
    assert leases.holder(ids[1], now=3) is None
    assert leases.claim("bob", ids, 2, now=3) == ids[3:5]
    assert leases.claim("bob", ids, 2, now=3 + SETTLE_SECONDS) == [ids[1], ids[3]]
    assert leases.claim("bob", ids, 3, now=70) == ids[:3]  # ann's expired at 62
    assert leases.holder(ids[0], now=70) == "bob" and leases.holder(ids[0], now=200) is None
    assert Leases(project.workspace.engine).claim("cy", iter(ids), 20, now=75) == ids[3:]  # bob's others expired


def test_claimers_at_once_never_share_an_image(project: Project, fashion_dir: Path, tmp_path: Path) -> None:
    """Eight annotators ask at the same moment, each in its own thread and connection, for the same queue, again
    and again: every image goes to one of them."""
    ids = _ids(project, fashion_dir, tmp_path, 60)
    start = threading.Barrier(8)
    got: dict[str, set[int]] = {}

    def annotate(name: str) -> None:
        leases = Leases(project.workspace.engine, seconds=600)
        start.wait()
        mine: set[int] = set()
        for _ in range(5):
            mine.update(leases.claim(name, ids, 3, now=1000.0))
        got[name] = mine

    threads = [threading.Thread(target=annotate, args=(f"annotator{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    held = Counter(image_id for mine in got.values() for image_id in mine)
    assert len(got) == 8 and all(len(mine) >= 3 for mine in got.values())
    assert max(held.values()) == 1  # no image went to two
    leases = Leases(project.workspace.engine)
    assert all(leases.holder(i, now=1000.0) == name for name, mine in got.items() for i in mine)
