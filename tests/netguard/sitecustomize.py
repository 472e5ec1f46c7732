"""A socket guard loaded into every Python process started with this folder on PYTHONPATH.

With `WIT_SOCKET_GUARD=ADDR,...` set, a connection or name lookup to any other address is
refused and appended to `WIT_SOCKET_GUARD_LOG` (one line per attempt, with the process id), so
a test can assert that a local build (launcher and worker processes) reached nothing else.
Loopback names the runner uses for its own worker channels are always allowed.
"""

from __future__ import annotations

import ipaddress
import os
import socket

_LOCAL = {"127.0.0.1", "localhost", "::1", "", "0.0.0.0", "::"}


def _literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True  # an address, not a name: no lookup; `connect` judges it


def _install(allowed: set[str], log_path: str) -> None:
    real_connect, real_connect_ex, real_lookup = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
    )

    def note(kind: str, target: object) -> None:
        with open(log_path, "a") as log:
            log.write(f"{os.getpid()} {kind} {target!r}\n")

    def outside(address: object) -> bool:
        host = address[0] if isinstance(address, tuple) else None
        return isinstance(host, str) and host not in allowed

    def connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and outside(address):
            note("connect", address)
            raise ConnectionRefusedError(f"socket guard: {address!r} not allowed")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6) and outside(address):
            note("connect", address)
            return 111  # ECONNREFUSED
        return real_connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kw: object) -> list:
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name not in allowed and not _literal(name):
            note("resolve", name)
            raise socket.gaierror(socket.EAI_NONAME, f"socket guard: {name!r} not allowed")
        return real_lookup(host, *args, **kw)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]


if os.environ.get("WIT_SOCKET_GUARD") is not None:
    _install(
        _LOCAL | set(filter(None, os.environ["WIT_SOCKET_GUARD"].split(","))),
        os.environ.get("WIT_SOCKET_GUARD_LOG", os.devnull),
    )
