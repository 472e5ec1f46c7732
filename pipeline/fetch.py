"""A polite, safe HTTP fetcher: our own DNS resolution and address policy, pooled connections.

Names are resolved here (with a cache and optional `--resolve` overrides), the address is checked
against the policy (private, loopback, link-local, multicast and cloud-metadata addresses are
refused unless an allowed network covers them), and the connection goes to that checked address,
so DNS rebinding cannot slip past. Redirects are followed by hand (each hop checked), bodies are
capped, `X-Robots-Tag: noai / noimageai` opt-outs are honoured.

    fetcher = Fetcher(FetchConfig(allowed_networks=("127.0.0.0/8",)))
    result = fetcher.fetch("http://127.0.0.1:8000/a.jpg")
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import urllib3

from pipeline.schema import Reason

__all__ = ["FetchConfig", "FetchResult", "Fetcher", "address_allowed", "parse_resolve", "opted_out"]

USER_AGENT_TOKEN = "wit-pipeline"
DEFAULT_USER_AGENT = f"{USER_AGENT_TOKEN}/0.1 (+https://github.com/wit-pipeline/wit-pipeline)"
_METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
}
_OPT_OUT = {"noai", "noimageai", "noindex", "noimageindex"}  # img2dataset's set


@dataclass(frozen=True)
class FetchConfig:
    """Timeouts, limits, identity and address policy of the fetcher."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 20_000_000
    max_redirects: int = 5
    retries: int = 1
    backoff: float = 0.2
    user_agent: str = DEFAULT_USER_AGENT
    pool_size: int = 16  # connections kept per host (match the download threads)
    allowed_networks: tuple[str, ...] = ()
    resolve: tuple[tuple[str, str, int], ...] = ()  # (host glob, ip, port)


@dataclass
class FetchResult:
    """The outcome of one fetch: a body, or a drop reason with detail."""

    url: str
    status: int = 0
    body: bytes = b""
    content_type: str = ""
    reason: str = ""
    detail: str = ""
    headers: dict[str, str] = field(default_factory=dict)


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
    if any(addr in ipaddress.ip_network(net, strict=False) for net in allowed_networks):
        return True
    if addr in _METADATA_ADDRESSES:
        return False
    return not (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    )


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


class _Failure(Exception):
    def __init__(self, reason: str, detail: str = "", status: int = 0) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.status = reason, detail, status


class Fetcher:
    """Thread-safe fetcher; create one per worker (in `DoFn.setup`)."""

    def __init__(self, cfg: FetchConfig) -> None:
        self.cfg = cfg
        self._lock = threading.Lock()
        self._dns: dict[tuple[str, int], tuple[str, int]] = {}
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}

    def fetch(self, url: str) -> FetchResult:
        """GET `url` following up to `max_redirects` checked redirects, with retries."""
        attempt = 0
        while True:
            try:
                return self._fetch_following(url)
            except _Failure as fail:
                retryable = fail.reason in (Reason.TIMEOUT, Reason.CONNECTION_ERROR) or (
                    fail.reason == Reason.HTTP_ERROR and (fail.status == 429 or fail.status >= 500)
                )
                if not retryable or attempt >= self.cfg.retries:
                    return FetchResult(url, fail.status, reason=fail.reason, detail=fail.detail)
                attempt += 1
                time.sleep(self.cfg.backoff * 2 ** (attempt - 1))

    def _fetch_following(self, url: str) -> FetchResult:
        deadline = time.monotonic() + self.cfg.total_timeout
        current = url
        for _ in range(self.cfg.max_redirects + 1):
            resp = self._request(current)
            if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                resp.drain_conn()
                resp.release_conn()
                current = urljoin(current, resp.headers["Location"])
                continue
            return self._read(url, resp, deadline)
        raise _Failure(Reason.TOO_MANY_REDIRECTS, f"more than {self.cfg.max_redirects}")

    def _resolve(self, host: str, port: int) -> tuple[str, int]:
        for pattern, ip, target_port in self.cfg.resolve:
            if fnmatch.fnmatchcase(host, pattern):
                return ip, target_port
        with self._lock:
            cached = self._dns.get((host, port))
        if cached:
            return cached
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as err:
            raise _Failure(Reason.DNS_FAILURE, str(err)) from err
        result = (str(infos[0][4][0]), port)
        with self._lock:
            self._dns[(host, port)] = result
        return result

    def _pool(self, scheme: str, ip: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
        key = (scheme, ip, port, host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                timeout = urllib3.Timeout(
                    connect=self.cfg.connect_timeout, read=self.cfg.read_timeout
                )
                if scheme == "https":
                    pool = urllib3.HTTPSConnectionPool(
                        ip,
                        port,
                        timeout=timeout,
                        maxsize=self.cfg.pool_size,
                        server_hostname=host,
                        assert_hostname=host,
                    )
                else:
                    pool = urllib3.HTTPConnectionPool(
                        ip, port, timeout=timeout, maxsize=self.cfg.pool_size
                    )
                self._pools[key] = pool
            return pool

    def _request(self, url: str) -> urllib3.BaseHTTPResponse:
        parts = urlsplit(url)
        scheme, host = parts.scheme, (parts.hostname or "").lower()
        if scheme not in ("http", "https") or not host:
            raise _Failure(Reason.BAD_URL, url[:200])
        port = parts.port or (443 if scheme == "https" else 80)
        ip, conn_port = self._resolve(host, port)
        if not address_allowed(ip, self.cfg.allowed_networks):
            raise _Failure(Reason.BLOCKED_ADDRESS, f"{host} -> {ip}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = host if parts.port is None else f"{host}:{parts.port}"
        headers = {"Host": host_header, "User-Agent": self.cfg.user_agent, "Accept": "image/*"}
        try:
            return self._pool(scheme, ip, conn_port, host).urlopen(
                "GET", path, headers=headers, redirect=False, retries=False, preload_content=False
            )
        except (TimeoutError, urllib3.exceptions.TimeoutError) as err:
            raise _Failure(Reason.TIMEOUT, str(err)) from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise _Failure(Reason.CONNECTION_ERROR, f"{type(err).__name__}: {err}") from err

    def _read(self, url: str, resp: urllib3.BaseHTTPResponse, deadline: float) -> FetchResult:
        complete = False
        try:
            if resp.status != 200:
                raise _Failure(Reason.HTTP_ERROR, f"HTTP {resp.status}", resp.status)
            if opted_out(resp.headers.getlist("X-Robots-Tag")):
                raise _Failure(Reason.OPTED_OUT, "X-Robots-Tag", resp.status)
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.cfg.max_bytes:
                raise _Failure(Reason.TOO_LARGE, f"Content-Length {declared}", resp.status)
            body = self._read_capped(resp, deadline)
            complete = True
            return FetchResult(url, resp.status, body, resp.headers.get("Content-Type", ""))
        except (TimeoutError, urllib3.exceptions.TimeoutError) as err:
            raise _Failure(Reason.TIMEOUT, str(err)) from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise _Failure(Reason.CONNECTION_ERROR, f"{type(err).__name__}: {err}") from err
        finally:
            if not complete:  # never hand a half-read connection back to the pool
                resp.close()
            resp.release_conn()

    def _read_capped(self, resp: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
        chunks, size = [], 0
        for chunk in resp.stream(64 * 1024):
            size += len(chunk)
            if size > self.cfg.max_bytes:
                raise _Failure(Reason.TOO_LARGE, f"over {self.cfg.max_bytes} bytes", resp.status)
            if time.monotonic() > deadline:
                raise _Failure(Reason.TIMEOUT, "total timeout", resp.status)
            chunks.append(chunk)
        return b"".join(chunks)
