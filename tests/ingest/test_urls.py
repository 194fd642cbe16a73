"""Importing images named by URL, against a local HTTP server that also fails, stalls and lies."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.clock import ManualClock
from tetsuban import Project
from tetsuban.ingest.urls import HostRateLimit


class _Site:
    """What the test server serves, and when each request arrived."""

    def __init__(self, photos: Path) -> None:
        self.photos = photos
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()
        self.released = threading.Event()  # set when the test ends: the "slow" route answers only then


def _handler(site: _Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, kind: str = "image/jpeg", length: bool = True) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                if length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout being tested)

        def do_GET(self) -> None:
            with site.lock:
                site.arrivals[self.path].append(time.monotonic())
                tries = len(site.arrivals[self.path])
            route, _, name = self.path.strip("/").partition("/")
            if route == "img":
                self._send(200, (site.photos / name).read_bytes())
            elif route == "flaky":
                if tries <= 2:
                    self._send(503, b"busy", "text/plain")
                else:
                    self._send(200, (site.photos / name).read_bytes())
            elif route == "broken":
                self._send(500, b"oops", "text/plain")
            elif route == "gone":
                self._send(404, b"no such image", "text/plain")
            elif route == "slow":  # never in time, however long the timeout and however slow this machine
                site.released.wait(60)
                self._send(200, (site.photos / "orange.jpg").read_bytes())
            elif route == "page":
                self._send(200, b"<html><body>not an image</body></html>", "text/html")
            elif route == "huge":
                self._send(200, (site.photos / name).read_bytes())
            elif route == "endless":  # no Content-Length: only counting the body can stop it
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                try:
                    for _ in range(200):
                        self.wfile.write(b"\xff" * 65536)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

    return Handler


@pytest.fixture()
def site(photos_dir: Path) -> Iterator[tuple[str, _Site]]:
    state = _Site(photos_dir)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    state.released.set()
    server.shutdown()
    server.server_close()


def _configure(project: Project, fetch: str) -> Project:
    config = project.root / "tetsuban.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.split("[fetch]")[0] + "[fetch]\n" + fetch, encoding="utf-8")
    project.close()
    return Project.open(project.root)


def test_urls_are_fetched_retried_limited_and_stored(project: Project, site: tuple[str, _Site], tmp_path: Path) -> None:
    base, state = site
    project = _configure(
        project,
        "max_bytes = 400000\ntimeout_s = 2\nretries = 2\nconcurrency = 6\nper_host_per_s = 20\n"
        "allow_private = true\n",  # the test's server is on this machine
    )
    rows = {
        "img/orange.jpg": "fruit",
        "img/apple.jpg": "fruit",
        "img/butterfly.jpg": "animal",
        "flaky/squirrel_cls.jpg": "animal",
        "broken/x.jpg": "",
        "gone/y.jpg": "",
        "slow/z.jpg": "",
        "page/index.html": "",
        "huge/hubble_deep_field.jpg": "",
        "endless/stream.jpg": "",
    }
    listing = tmp_path / "urls.csv"
    listing.write_text(
        "url,label\n" + "".join(f"{base}/{path},{label}\n" for path, label in rows.items()), encoding="utf-8"
    )
    report = project.import_csv(listing)

    assert report.counts["added"] == 4
    reasons = {o.item.removeprefix(base + "/"): o.reason or "" for o in report.skipped}
    assert set(reasons) == {
        "broken/x.jpg",
        "gone/y.jpg",
        "slow/z.jpg",
        "page/index.html",
        "huge/hubble_deep_field.jpg",
        "endless/stream.jpg",
    }
    assert "HTTP 500" in reasons["broken/x.jpg"] and "3 attempt" in reasons["broken/x.jpg"]
    assert "HTTP 404" in reasons["gone/y.jpg"]
    assert "timed out" in reasons["slow/z.jpg"]
    assert "not an image" in reasons["page/index.html"]
    assert "too large" in reasons["huge/hubble_deep_field.jpg"]
    assert "too large" in reasons["endless/stream.jpg"]
    assert len(state.arrivals["/broken/x.jpg"]) == 3  # one try and two retries
    assert len(state.arrivals["/gone/y.jpg"]) == 1  # a 404 is final
    assert len(state.arrivals["/flaky/squirrel_cls.jpg"]) == 3  # succeeded on the third
    assert project.status().per_class == {"animal": 2, "fruit": 2}
    assert all(r.stored and project.image_path(r).is_file() for r in project.images())

    # again: the fetched URLs are not fetched again, the failed ones are tried again
    before = {path: len(times) for path, times in state.arrivals.items()}
    again = project.import_csv(listing)
    assert again.counts["unchanged"] == 4 and again.counts["added"] == 0
    assert len(state.arrivals["/img/orange.jpg"]) == before["/img/orange.jpg"]
    assert len(state.arrivals["/gone/y.jpg"]) == before["/gone/y.jpg"] + 1
    project.close()


def test_requests_to_one_host_wait_for_the_limit(project: Project, site: tuple[str, _Site], tmp_path: Path) -> None:
    """Three images from one host at one request a second take at least two seconds (the limit sleeps; nothing
    here depends on how fast this machine is), though six may run at once."""
    base, _ = site
    project = _configure(project, "concurrency = 6\nper_host_per_s = 1\nallow_private = true\n")
    listing = tmp_path / "urls.csv"
    names = ["orange.jpg", "apple.jpg", "butterfly.jpg"]
    listing.write_text("url\n" + "".join(f"{base}/img/{name}\n" for name in names), encoding="utf-8")
    started = time.monotonic()
    assert project.import_csv(listing).counts["added"] == 3
    assert time.monotonic() - started >= 2.0
    project.close()


def test_the_rate_limit_spaces_starts_per_host_across_threads() -> None:
    """On a clock the test owns: 40 threads asking at once get starts exactly 1/rate apart per host, hosts do not
    hold each other up, and a host idle for long starts at once."""
    clock = ManualClock()
    limit = HostRateLimit(4.0, clock, clock.sleep)
    hosts = ["a.example", "b.example"] * 20
    with ThreadPoolExecutor(8) as pool:
        starts = list(pool.map(limit.wait, hosts))
    for host in set(hosts):
        mine = sorted(s for s, h in zip(starts, hosts, strict=True) if h == host)
        assert mine == [n * 0.25 for n in range(20)]
    assert sorted(clock.slept) == sorted(s for s in starts if s > 0)  # each waited exactly until its start
    clock.now = 100.0
    assert limit.wait("a.example") == 100.0  # no debt carried over from long ago
    assert limit.wait("a.example") == 100.25
