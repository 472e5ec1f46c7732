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
    "embedded_ipv4",
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


# IPv6 ranges of the IANA special-purpose registry (and the deprecated site-local fec0::/10)
# that a crawler has no business reaching; forms embedding an IPv4 address are judged by it.
_SPECIAL_V6 = tuple(
    ipaddress.ip_network(net)
    for net in (
        "::/96",  # unspecified, loopback, IPv4-compatible (RFC 4291, deprecated)
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT, RFC 7915)
        "64:ff9b::/96",  # NAT64 well-known prefix (RFC 6052)
        "64:ff9b:1::/48",  # NAT64 local-use prefix (RFC 8215)
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, benchmarking, ORCHID, ...)
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_EMBEDS_V4 = (ipaddress.ip_network("::/96"), ipaddress.ip_network("::ffff:0:0:0/96"),
              ipaddress.ip_network("64:ff9b::/96"))  # fmt: skip


def embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, SIIT, NAT64, 6to4), if any."""
    if addr.ipv4_mapped or addr.sixtofour:
        return addr.ipv4_mapped or addr.sixtofour
    if any(addr in net for net in _EMBEDS_V4) and int(addr) & 0xFFFFFFFF > 1:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def _public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if addr in _METADATA_ADDRESSES or addr.is_multicast:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and any(addr in net for net in _SPECIAL_V6):
        return False
    return addr.is_global


def address_allowed(ip: str, allowed_networks: tuple[str, ...] = ()) -> bool:
    """Whether the crawler may connect to `ip` (public, or inside an explicitly allowed network).

    An IPv6 form that embeds an IPv4 address is judged by that address (an IPv4-mapped one is
    the IPv4 address itself); other special-purpose IPv6 ranges are refused unless allowed.
    """
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if addr in _METADATA_ADDRESSES:
        return False
    if any(addr in ipaddress.ip_network(net, strict=False) for net in allowed_networks):
        return True
    if isinstance(addr, ipaddress.IPv6Address) and (v4 := embedded_ipv4(addr)) is not None:
        return _public(v4)
    return _public(addr)


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
