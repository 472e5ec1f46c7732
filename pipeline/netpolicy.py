"""Network policy of the crawler: which addresses it may reach, how it resolves names, opt-outs.

Pure functions and a small thread-safe resolver; no HTTP here (see `pipeline.fetch`).

    address_allowed("10.0.0.1")                      # False: private
    address_allowed("127.0.0.1", ("127.0.0.0/8",))   # True: explicitly opted in
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
import threading
from collections.abc import Callable

__all__ = [
    "USER_AGENT_TOKEN",
    "DEFAULT_USER_AGENT",
    "address_allowed",
    "parse_resolve",
    "opted_out",
    "Resolver",
    "ResolveError",
]

USER_AGENT_TOKEN = "wit-pipeline"
DEFAULT_USER_AGENT = f"{USER_AGENT_TOKEN}/0.1 (+https://github.com/wit-pipeline/wit-pipeline)"
_METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}
_OPT_OUT = {"noai", "noimageai", "noindex", "noimageindex"}  # img2dataset's set


def parse_resolve(spec: str) -> tuple[tuple[str, str, int], ...]:
    """Parse `HOST=IP:PORT,...` (HOST may be a glob like `*.sample.test`)."""
    entries = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        host, _, target = item.partition("=")
        ip, _, port = target.rpartition(":")
        if not host or not ip or not port.isdigit():
            raise ValueError(f"--resolve entry must be HOST=IP:PORT, got {item!r}")
        entries.append((host.lower(), ip.strip("[]"), int(port)))
    return tuple(entries)


def address_allowed(ip: str, allowed_networks: tuple[str, ...] = ()) -> bool:
    """Whether the crawler may connect to `ip` (public, or inside an explicitly allowed network)."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if addr in _METADATA_ADDRESSES:
        return False
    if any(addr in ipaddress.ip_network(net, strict=False) for net in allowed_networks):
        return True
    return addr.is_global and not addr.is_multicast


def opted_out(header_values: list[str], token: str = USER_AGENT_TOKEN) -> bool:
    """Whether `X-Robots-Tag` values opt this image out of AI use (globally or for `token`)."""
    for value in header_values:
        scope = ""
        for part in value.split(","):
            part = part.strip().lower()
            if ":" in part:
                scope, _, part = part.partition(":")
                scope, part = scope.strip(), part.strip()
            if part in _OPT_OUT and scope in ("", token, "*"):
                return True
    return False


class ResolveError(Exception):
    """A name could not be resolved."""


def _system_resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:
        raise ResolveError(str(err)) from err
    return [str(info[4][0]) for info in infos]


class Resolver:
    """Resolve names once per worker (cached), with `--resolve` overrides and a test seam."""

    def __init__(
        self,
        overrides: tuple[tuple[str, str, int], ...] = (),
        lookup: Callable[[str, int], list[str]] = _system_resolve,
    ) -> None:
        self.overrides, self.lookup = overrides, lookup
        self._cache: dict[tuple[str, int], tuple[str, int] | ResolveError] = {}
        self._lock = threading.Lock()

    def resolve(self, host: str, port: int) -> tuple[str, int]:
        """(ip, port) to connect to for `host:port`; raises `ResolveError`."""
        for pattern, ip, target_port in self.overrides:
            if fnmatch.fnmatchcase(host, pattern):
                return ip, target_port
        try:
            ipaddress.ip_address(host)
            return host, port  # already an address
        except ValueError:
            pass
        with self._lock:
            cached = self._cache.get((host, port))
        if cached is None:
            try:
                cached = (self.lookup(host, port)[0], port)
            except (ResolveError, IndexError) as err:
                cached = err if isinstance(err, ResolveError) else ResolveError("no address")
            with self._lock:
                self._cache[(host, port)] = cached
        if isinstance(cached, ResolveError):
            raise cached
        return cached
