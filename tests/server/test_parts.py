"""The app's parts on their own: leases, the login limiter, agreement, the labels-to-target estimate, the words."""

from __future__ import annotations

import asyncio
import socket

import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from tests.server.conftest import LOCAL
from tetsuban.agreement import agreement
from tetsuban.server.binding import Binding, listen
from tetsuban.server.guard import Guard
from tetsuban.server.i18n import MESSAGES
from tetsuban.server.leases import MemoryLeases, leases_for
from tetsuban.server.security import LoginLimiter
from tetsuban.server.uploads import safe_name
from tetsuban.store.labels import LabelEvent


def test_a_lease_in_memory_keeps_an_image_from_others_until_it_expires_or_is_released() -> None:
    """A SQLite project's app (one process) keeps its leases in memory, with the store's rules."""
    leases = MemoryLeases(seconds=60)
    assert leases.claim("ann", range(10), 3, now=0) == [0, 1, 2]
    assert leases.claim("bob", range(10), 3, now=1) == [3, 4, 5]
    assert leases.claim("ann", range(10), 3, now=2) == [0, 1, 2]  # hers again, renewed
    leases.release(1)
    assert leases.claim("bob", range(10), 2, now=3) == [1, 3]
    assert leases.claim("bob", range(10), 3, now=70) == [0, 1, 2]  # ann's expired at 62
    assert leases.holder(0, now=70) == "bob" and leases.holder(0, now=200) is None
    assert isinstance(leases_for(sa.create_engine("sqlite://")), MemoryLeases)


def test_the_limiter_counts_attempts_per_key_in_a_sliding_window() -> None:
    limiter = LoginLimiter(failures=3, window=100)
    for now in (0, 10, 20):
        assert limiter.begin(["name:a", "address:x"], now=now) == 0  # counted as it begins
    assert limiter.begin(["name:a", "address:y"], now=30) == pytest.approx(70)
    assert limiter.begin(["name:b", "address:x"], now=30) == pytest.approx(70)  # the address is limited too
    assert limiter.begin(["name:a", "address:z"], now=101) == 0  # the first attempt left the window
    limiter.succeeded(["name:a", "address:z"])
    assert limiter.begin(["name:a", "address:z"], now=102) == 0  # a right password clears the name


def _event(n: int, image_id: int, label: str | None, author: str, source: str = "human") -> LabelEvent:
    return LabelEvent(n, image_id, label, source, author, float(n), None)


def test_agreement_uses_each_persons_latest_label_and_cohens_kappa() -> None:
    events = [
        _event(1, 1, "cat", "ann"),
        _event(2, 1, "cat", "bob"),
        _event(3, 2, "dog", "ann"),
        _event(4, 2, "cat", "bob"),
        _event(5, 2, "dog", "bob"),  # bob changed his mind: his latest counts
        _event(6, 3, "dog", "ann"),
        _event(7, 3, "cat", "bob"),
        _event(8, 4, "cat", "ann"),
        _event(9, 4, "dog", "importer", "import"),  # an import is nobody's judgement
        _event(10, 5, "cat", "ann"),
        _event(11, 5, "dog", "bob"),
        _event(12, 5, None, "bob"),  # bob took his back
    ]
    found = agreement(events)
    assert (found.images, found.unanimous, found.disputed) == (3, 2, (3,))
    (pair,) = found.pairs
    assert (pair.first, pair.second, pair.images, pair.agreed) == ("ann", "bob", 3, 2)
    # ann: cat, dog, dog; bob: cat, dog, cat. p_o = 2/3, p_e = (1*2 + 2*1) / 9 = 4/9
    assert pair.kappa == pytest.approx((2 / 3 - 4 / 9) / (1 - 4 / 9))


def test_both_languages_have_every_message() -> None:
    assert MESSAGES["en"].keys() == MESSAGES["ja"].keys()
    for key, text in MESSAGES["en"].items():
        assert sorted(_fields(text)) == sorted(_fields(MESSAGES["ja"][key])), key


def _fields(text: str) -> list[str]:
    import re

    return re.findall(r"\{(\w+)\}", text)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("cat.jpg", "000-cat.jpg"),
        ("../../etc/passwd", "000-passwd"),
        ("..\\..\\windows\\evil.png", "000-evil.png"),
        ("写真 1.jpeg", "000-1.jpeg"),
        ("", "000-upload"),
        ("...", "000-upload"),
    ],
)
def test_upload_names_never_leave_their_folder(given: str, expected: str) -> None:
    assert safe_name(0, given) == expected


def _echo_app(limit: int) -> TestClient:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    app.add_middleware(Guard, default=limit, limits={}, binding=Binding())
    return TestClient(app, base_url=LOCAL)


def test_the_guard_refuses_a_body_past_the_limit_even_without_a_length() -> None:
    client = _echo_app(1000)
    assert client.post("/echo", content=b"x" * 1000).json() == {"bytes": 1000}
    assert client.post("/echo", content=b"x" * 1001).status_code == 413  # by its Content-Length
    chunked = client.post("/echo", content=iter([b"x" * 600, b"x" * 600]))  # no length: counted as it comes
    assert chunked.status_code == 413
    assert chunked.headers["x-content-type-options"] == "nosniff"
    assert client.post("/echo", content=b"{}", headers={"Origin": "http://evil.example"}).status_code == 403


def test_the_apps_connections_send_at_once_without_waiting_for_acknowledgements() -> None:
    """The socket `tetsuban serve` listens on gives connections with Nagle's algorithm off, as asyncio (and so
    uvicorn) accepts them: with it on, an answer's body written after its headers waited 40 ms for the client's
    delayed acknowledgement, on every request."""
    sock = listen(Binding(port=0))
    sock.listen()

    async def accepted_nodelay() -> int:
        loop = asyncio.get_running_loop()
        made: asyncio.Future[asyncio.BaseTransport] = loop.create_future()

        class Accept(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                made.set_result(transport)

        server = await loop.create_server(Accept, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        transport = await asyncio.wait_for(made, 10)
        nodelay = int(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()
        server.close()
        await server.wait_closed()
        return nodelay

    assert asyncio.run(accepted_nodelay()) == 1
