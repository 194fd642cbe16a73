"""An ASGI middleware in front of every route: requests for another host name are refused (DNS rebinding), bodies
over the limit are refused before they are read, state changes sent from another site's page are refused, and every
answer carries a strict Content-Security-Policy (scripts only from the app's own files, never inline) and says not
to sniff types or be framed."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tetsuban.server.binding import Binding

_UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"referrer-policy", b"same-origin"),
]


class Guard:
    """``limits``: the largest body per path (``default`` elsewhere); ``binding``: the host names to answer."""

    def __init__(self, app: ASGIApp, default: int, limits: dict[str, int], binding: Binding) -> None:
        self.app = app
        self.default = default
        self.limits = limits
        self.binding = binding

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if not self.binding.answers_to(headers.get("host", "")):
            await _refuse(send, 421, "This app does not answer to that host name. Open it at the address it printed.")
            return
        limit = self.limits.get(scope["path"], self.default)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _refuse(send, 413, f"A request body here may hold at most {limit} bytes.")
            return
        origin = headers.get("origin")
        if scope["method"] in _UNSAFE_METHODS and origin is not None and not _same(origin, headers.get("host", "")):
            await _refuse(send, 403, "State changes are accepted from this app's own pages only.")
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        received = 0

        async def receive_within_limit() -> Message:
            """The body as it comes, refused once it passes the limit (a chunked body has no length to check)."""
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"A request body here may hold at most {limit} bytes.")
            return message

        await self.app(scope, receive_within_limit, send_with_headers)


def _same(origin: str, host: str) -> bool:
    """Whether the page that sent the request (its Origin) is this app (the Host it asked)."""
    return origin.split("://", 1)[-1] == host


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
