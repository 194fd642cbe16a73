"""Images named by URL: fetched concurrently, with retries, a size limit and a per-host rate limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx

from tetsuban.config import FetchConfig
from tetsuban.ingest.prepare import PrepareContext, Prepared, prepare_bytes
from tetsuban.ingest.table import UrlItem

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_CHUNK = 64


class FetchError(Exception):
    """A URL could not be fetched; the message is the reason to record."""


class HostRateLimit:
    """Spaces request starts to the same host at least ``1 / per_second`` seconds apart, across threads."""

    def __init__(self, per_second: float) -> None:
        self._interval = 1.0 / per_second
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + self._interval
        if start > now:
            time.sleep(start - now)


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


def _get(client: httpx.Client, url: str, cfg: FetchConfig) -> bytes:
    deadline = time.monotonic() + cfg.timeout_s
    with client.stream("GET", url, timeout=cfg.timeout_s) as response:
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
        httpx.Client(follow_redirects=True, headers=headers) as client,
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
