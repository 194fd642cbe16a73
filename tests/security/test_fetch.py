"""Attack 9: a CSV of URLs that points the import at this machine, a private network or a cloud's metadata
address. Unless the user allows it, no request reaches them, and the reason says only that it was refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tetsuban import Project
from tetsuban.ingest.urls import route


class _Recorder(BaseHTTPRequestHandler):
    """Serves one real photo at /img.jpg and redirects /hop to it; remembers every path asked."""

    photo = b""
    asked: ClassVar[list[str]] = []

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.asked.append(self.path)
        if self.path == "/hop":
            self.send_response(302)
            self.send_header("Location", "/img.jpg")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.photo)))
        self.end_headers()
        self.wfile.write(self.photo)


@pytest.fixture()
def local_site(photos_dir: Path) -> Iterator[tuple[int, list[str]]]:
    _Recorder.photo = (photos_dir / "orange.jpg").read_bytes()
    _Recorder.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], _Recorder.asked
    server.shutdown()
    server.server_close()


def _import(project_dir: Path, urls: list[str], allow_private: bool) -> dict[str, str | None]:
    config = project_dir / "tetsuban.toml"
    config.write_text(
        config.read_text().replace("allow_private = false", f"allow_private = {str(allow_private).lower()}")
    )
    listing = project_dir.parent / "urls.csv"
    listing.write_text("url\n" + "".join(f"{u}\n" for u in urls), encoding="utf-8")
    with Project.open(project_dir) as project:
        report = project.import_csv(listing)
        return {o.item: o.reason for o in project.import_outcomes(report.run_id)}


def test_urls_to_this_machine_and_private_networks_are_refused_unasked(
    tmp_path: Path, local_site: tuple[int, list[str]]
) -> None:
    port, asked = local_site
    urls = [
        f"http://127.0.0.1:{port}/img.jpg",
        f"http://localhost:{port}/img.jpg",
        f"http://2130706433:{port}/img.jpg",  # 127.0.0.1 written as one number
        f"http://[::ffff:127.0.0.1]:{port}/img.jpg",
        f"http://0.0.0.0:{port}/img.jpg",
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "http://10.1.2.3/",
        "http://192.168.0.1/",
    ]
    Project.init(tmp_path / "p").close()
    reasons = _import(tmp_path / "p", urls, allow_private=False)
    assert asked == []  # no request reached this machine
    assert set(reasons) == set(urls)
    assert all(r is not None and r.startswith("refused: the address is this machine") for r in reasons.values())
    assert len(set(reasons.values())) == 1  # one reason for all: nothing is told about what lies there


def test_private_addresses_are_fetched_when_the_user_allows_it(
    tmp_path: Path, local_site: tuple[int, list[str]]
) -> None:
    port, asked = local_site
    Project.init(tmp_path / "p").close()
    reasons = _import(tmp_path / "p", [f"http://127.0.0.1:{port}/hop"], allow_private=True)
    assert list(reasons.values()) == [None] and asked == ["/hop", "/img.jpg"]  # the redirect followed


def test_a_request_goes_to_the_address_that_was_checked() -> None:
    """The connection is made to the checked address, with the name kept for the Host header and TLS, so a DNS
    answer that changes between the check and the connection cannot redirect it."""
    plain = route("http://93.184.215.14:8080/a/b.jpg?size=2", allow_private=False)
    assert (plain.url, plain.headers, plain.extensions) == (
        "http://93.184.215.14:8080/a/b.jpg?size=2",
        {"Host": "93.184.215.14:8080"},
        {},
    )
    secure = route("https://93.184.215.14/b.jpg", allow_private=False)
    assert secure.extensions == {"sni_hostname": "93.184.215.14"}
