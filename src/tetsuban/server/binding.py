"""Where the app listens and which names it answers to: the Host header is checked against them (so a page on
another site cannot reach the app through a DNS name rebound to this machine), and forwarded addresses are
believed only from proxies the user named."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from tetsuban.errors import TetsubanError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_WILDCARDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class Binding:
    """``host`` and ``port`` the app is bound to (``port`` None: any, as in tests); ``names``: further host names
    it may be reached by (a proxy's public name, the machine's name); ``trusted_proxies``: addresses whose
    X-Forwarded-For is believed."""

    host: str = "127.0.0.1"
    port: int | None = None
    names: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()

    @property
    def local(self) -> bool:
        """Whether only this machine can connect."""
        return self.host in LOOPBACK_NAMES

    def answers_to(self, host_header: str) -> bool:
        """Whether a request whose Host header is ``host_header`` was meant for this app.

        Bound to a wildcard address without ``names``, every name is accepted (the app needs logins there); else
        only the loopback names, the bound address and ``names``.
        """
        name, port = split_host(host_header)
        if name is None or (self.port is not None and port is not None and port != self.port):
            return False
        if self.host in _WILDCARDS and not self.names:
            return True
        allowed = {*LOOPBACK_NAMES, self.host.lower(), *(n.lower() for n in self.names)}
        return name in allowed


def split_host(value: str) -> tuple[str | None, int | None]:
    """(lower-case name, port) of a Host header; (None, None) when it is not a host name or address."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ("" if not rest else "x")
    else:
        name, _, port_text = value.partition(":")
    if port_text and not port_text.isdigit():
        return None, None
    if not name or not _valid_name(name):
        return None, None
    return name, int(port_text) if port_text else None


def _valid_name(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    labels = name.split(".")
    return len(name) <= 253 and all(
        0 < len(p) <= 63 and p.isascii() and p.replace("-", "").replace("_", "").isalnum() for p in labels
    )


def check_binding(binding: Binding, users_exist: bool) -> None:
    """Refuse to let other machines in while the app has no users: it would be open to them."""
    if not binding.local and not users_exist:
        raise TetsubanError(
            f"Binding {binding.host} lets other machines in, so the app needs logins first: add a user with "
            "tetsuban users add PROJECT NAME --role admin. Or bind 127.0.0.1."
        )


def listen(binding: Binding) -> socket.socket:
    """A socket bound to ``binding``'s address and port, before anything says the app is there: a port that is
    taken is refused here, in one line, instead of after the app has announced its address. Made as TCP by name
    (IPPROTO_TCP, not 0), because asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections of such a
    socket: without it every answer whose body followed its headers waited for the browser's delayed
    acknowledgement, 40 ms each."""
    port = 8000 if binding.port is None else binding.port
    family = socket.AF_INET6 if ":" in binding.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((binding.host, port))
    except OSError as error:
        sock.close()
        raise TetsubanError(
            f"The app cannot listen on {binding.host} port {port}: {error.strerror or error}. Is another tetsuban "
            "serve (or another program) using it? Stop that one, or choose another port with --port."
        ) from None
    return sock
