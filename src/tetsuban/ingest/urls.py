"""Images named by URL: fetched concurrently, with retries, a size limit and a per-host rate limit.

A URL is someone else's word, so unless ``[fetch] allow_private`` is set, each request (and each redirect it
leads to) goes only to public addresses: the host is resolved here, every address it resolves to must be public,
and the connection is made to the address that was checked (so a name cannot resolve to a public address for the
check and to 127.0.0.1 for the connection). A refused URL's reason says only that it was refused.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from tetsuban.config import FetchConfig
from tetsuban.ingest.prepare import PrepareContext, Prepared, prepare_bytes
from tetsuban.ingest.table import UrlItem

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_REDIRECTS = 5
_CHUNK = 64
_REFUSED = (
    "refused: the address is this machine, a private network or link-local, which URLs from a CSV may not reach "
    "(set [fetch] allow_private = true in tetsuban.toml to allow it)"
)


class FetchError(Exception):
    """A URL could not be fetched; the message is the reason to record."""


class HostRateLimit:
    """Spaces request starts to the same host at least ``1 / per_second`` seconds apart, across threads.

    ``clock`` and ``sleep`` are a steady clock and its sleep (a test passes its own)."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / per_second
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep

    def wait(self, host: str) -> float:
        """Block until a request to ``host`` may start; returns the start it was given (on ``clock``)."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + self._interval
        if start > now:
            self._sleep(start - now)
        return start


def fetch(client: httpx.Client, url: str, cfg: FetchConfig, limit: HostRateLimit) -> bytes:
    """The body of ``url``; retries timeouts, connection errors and 408/429/5xx with exponential backoff."""
    host = urlsplit(url).netloc
    last = "no attempt made"
    for attempt in range(cfg.retries + 1):
        if attempt:
            time.sleep(min(5.0, 0.2 * 2 ** (attempt - 1)))
        limit.wait(host)
        try:
            return _get(client, url, cfg)
        except _Retry as exc:
            last = str(exc)
        except httpx.TimeoutException:
            last = f"timed out after {cfg.timeout_s:g} s"
        except httpx.TransportError as exc:
            last = f"connection failed: {type(exc).__name__}: {exc}"
    raise FetchError(f"gave up after {cfg.retries + 1} attempt(s); last: {last}")


class _Retry(Exception):
    pass


@dataclass(frozen=True)
class Hop:
    """One request: the URL to connect to (the checked address in place of the name), the Host header, and the
    name for TLS (SNI and certificate checks)."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, object]


def route(url: str, allow_private: bool) -> Hop:
    """How to request ``url``: as it is when private addresses are allowed, else pinned to a public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL with a host: {url[:200]!r}")
    if allow_private:
        return Hop(url, {}, {})
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = public_address(parts.hostname, port)
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    extensions: dict[str, object] = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return Hop(pinned, {"Host": parts.netloc.rpartition("@")[2]}, extensions)


def public_address(host: str, port: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address of ``host`` to connect to; FetchError unless every address it resolves to is public."""
    try:
        found = {ipaddress.ip_address(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError, ValueError):
        raise FetchError(f"cannot resolve the host {host[:100]!r}") from None
    if not found or any(not a.is_global or a.is_multicast for a in found):
        raise FetchError(_REFUSED)
    return sorted(found, key=lambda a: (a.version, int(a)))[0]


def _get(client: httpx.Client, url: str, cfg: FetchConfig) -> bytes:
    """The body at ``url``, following at most MAX_REDIRECTS redirects, each hop checked as the first."""
    deadline = time.monotonic() + cfg.timeout_s
    for _ in range(MAX_REDIRECTS + 1):
        hop = route(url, cfg.allow_private)
        with client.stream(
            "GET", hop.url, headers=hop.headers, extensions=hop.extensions, timeout=cfg.timeout_s
        ) as response:
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            return _body(response, cfg, deadline)
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _body(response: httpx.Response, cfg: FetchConfig, deadline: float) -> bytes:
    if response.status_code in RETRY_STATUS:
        raise _Retry(f"HTTP {response.status_code} {response.reason_phrase}")
    if response.status_code >= 400:
        raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cfg.max_bytes:
        raise FetchError(
            f"too large: {int(declared):,} bytes declared, the limit is {cfg.max_bytes:,} (fetch.max_bytes)"
        )
    body = bytearray()
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > cfg.max_bytes:
            raise FetchError(f"too large: more than {cfg.max_bytes:,} bytes (fetch.max_bytes)")
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("body too slow", request=response.request)
    return bytes(body)


def fetch_prepared(ctx: PrepareContext, cfg: FetchConfig, items: list[UrlItem]) -> Iterator[list[Prepared]]:
    """Fetch and prepare ``items`` in threads; yields results in the order of ``items``, a chunk at a time."""
    limit = HostRateLimit(cfg.per_host_per_s)
    headers = {"User-Agent": "tetsuban (image import)"}
    with (
        httpx.Client(follow_redirects=False, headers=headers) as client,
        ThreadPoolExecutor(max_workers=cfg.concurrency) as pool,
    ):

        def one(item: UrlItem) -> Prepared:
            try:
                data = fetch(client, item.url, cfg, limit)
            except FetchError as exc:
                return Prepared(item.url, item.label, reason=str(exc))
            except httpx.HTTPError as exc:  # an invalid URL and the like
                return Prepared(item.url, item.label, reason=f"cannot fetch: {type(exc).__name__}: {exc}")
            return prepare_bytes(ctx, item.url, item.label, data)

        for start in range(0, len(items), _CHUNK):
            yield list(pool.map(one, items[start : start + _CHUNK]))
