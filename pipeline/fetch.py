"""A polite, safe HTTP fetcher: our own DNS and address policy, per-host limits, pooled connections.

Names are resolved here (`pipeline.netpolicy.Resolver`: cached, with `--resolve` overrides),
the address is checked against the policy, and the connection goes to that checked address, so
DNS rebinding cannot slip past; every redirect hop is checked again. Each host gets at most
`per_host_connections` requests in flight and `per_host_rate` requests per second. Bodies are
read in small pieces and capped in size; one total deadline (`pipeline.deadline`) covers
connect, TLS, headers, every redirect hop, retries and the body, so a trickling server cannot
hold a thread past `total_timeout`; `Retry-After` is honoured on 429/503.

    fetcher = Fetcher(FetchConfig(allowed_networks=("127.0.0.0/8",)))
    result = fetcher.fetch("http://127.0.0.1:8000/a.jpg")  # FetchResult(status, body, reason)
"""

from __future__ import annotations

import errno
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, ProtocolError, ReadTimeoutError

from pipeline.consent import tdm_reserved
from pipeline.deadline import (
    WATCHDOG,
    Deadline,
    WatchedHTTPConnection,
    WatchedHTTPSConnection,
    active,
)
from pipeline.netpolicy import (
    DEFAULT_USER_AGENT,
    ResolveError,
    Resolver,
    address_allowed,
    opted_out,
)
from pipeline.schema import Reason

__all__ = ["FetchConfig", "FetchResult", "Fetcher", "HostLimiter", "http_reason", "connect_reason"]


@dataclass(frozen=True)
class FetchConfig:
    """Timeouts, limits, identity and address policy of the fetcher."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 20_000_000
    max_redirects: int = 5
    retries: int = 2
    backoff: float = 0.5
    max_retry_after: float = 10.0
    user_agent: str = DEFAULT_USER_AGENT
    pool_size: int = 16
    per_host_connections: int = 16
    per_host_rate: float = 20.0  # requests started per second per host; 0 means unlimited
    allowed_networks: tuple[str, ...] = ()
    resolve: tuple[tuple[str, str, int], ...] = ()  # (host glob, ip, port)
    respect_tdmrep: bool = True  # refuse responses carrying `tdm-reservation: 1`


@dataclass
class FetchResult:
    """The outcome of one fetch: a body, or a drop reason with detail."""

    url: str
    status: int = 0
    body: bytes = b""
    content_type: str = ""
    reason: str = ""
    detail: str = ""
    final_url: str = ""
    elapsed: float = 0.0  # seconds from the first attempt to the outcome, less per-host queueing


def http_reason(status: int) -> str:
    """The drop reason of an HTTP status: `http_404`, `http_429`, ..., or `http_5xx`."""
    return Reason.HTTP_5XX if status >= 500 else f"http_{status}"


class _Failure(Exception):
    def __init__(
        self, reason: str, detail: str = "", status: int = 0, retry_after: float = 0
    ) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.status, self.retry_after = (
            reason,
            detail,
            status,
            retry_after,
        )

    @property
    def retryable(self) -> bool:
        transient = (Reason.CONNECT_TIMEOUT, Reason.READ_TIMEOUT, Reason.CONNECTION_ERROR)
        transient += (Reason.CONNECTION_REFUSED, Reason.UNREACHABLE)  # a restart, a route flap
        return self.reason in transient or self.status == 429 or self.status >= 500


def connect_reason(err: BaseException) -> str:
    """Why a connection was not made: refused, unreachable, timed out, or another error.

    urllib3 raises `NewConnectionError` (a `ConnectTimeoutError` subclass) for every OSError of
    `connect()`; the errno of the error it wraps tells them apart.
    """
    cause = err.__cause__ or err.__context__
    code = getattr(cause, "errno", None)
    if code == errno.ECONNREFUSED:
        return Reason.CONNECTION_REFUSED
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return Reason.UNREACHABLE
    if isinstance(err, urllib3.exceptions.NewConnectionError) and not isinstance(
        cause, TimeoutError
    ):
        return Reason.CONNECTION_ERROR
    return Reason.CONNECT_TIMEOUT


class HostLimiter:
    """Per-host concurrency (a semaphore) and rate (a minimum interval between request starts)."""

    def __init__(self, connections: int, rate: float) -> None:
        self.connections, self.interval = connections, (1.0 / rate if rate > 0 else 0.0)
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    def acquire(self, host: str) -> threading.BoundedSemaphore:
        """Block until `host` has a free slot and its rate allows a start; returns the slot."""
        with self._lock:
            slot = self._slots.setdefault(host, threading.BoundedSemaphore(self.connections))
        slot.acquire()
        if self.interval:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + self.interval
            time.sleep(max(0.0, start - now))
        return slot


def _retry_after(resp: urllib3.BaseHTTPResponse) -> float:
    value = resp.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else 0.0


class Fetcher:
    """Thread-safe fetcher; create one per worker (in `DoFn.setup`)."""

    def __init__(self, cfg: FetchConfig, resolver: Resolver | None = None) -> None:
        self.cfg = cfg
        self.resolver = resolver or Resolver(cfg.resolve)
        self.limiter = HostLimiter(cfg.per_host_connections, cfg.per_host_rate)
        self._lock = threading.Lock()
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}

    def fetch(self, url: str, accept: str = "image/*,*/*;q=0.5") -> FetchResult:
        """GET `url` following up to `max_redirects` checked redirects, with retries and backoff.

        `total_timeout` bounds everything from the first attempt: connects, TLS, headers, every
        redirect hop, retries and the body.
        """
        start = time.monotonic()
        deadline = WATCHDOG.arm(start + self.cfg.total_timeout)
        try:
            result = self._attempts(url, accept, deadline)
        finally:
            deadline.cancel()
        queued = deadline.at - (start + self.cfg.total_timeout)
        result.elapsed = round(time.monotonic() - start - queued, 3)
        return result

    def _attempts(self, url: str, accept: str, deadline: Deadline) -> FetchResult:
        for attempt in range(self.cfg.retries + 1):
            try:
                return self._fetch_following(url, accept, deadline)
            except _Failure as fail:
                if deadline.passed():
                    fail = self._overdue(fail.status)
                wait = fail.retry_after or self.cfg.backoff * 2**attempt
                wait = min(wait, self.cfg.max_retry_after)
                last = attempt == self.cfg.retries or wait >= deadline.remaining()
                if not fail.retryable or last:
                    return FetchResult(url, fail.status, reason=fail.reason, detail=fail.detail)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _overdue(self, status: int = 0) -> _Failure:
        return _Failure(Reason.TOTAL_TIMEOUT, f"over {self.cfg.total_timeout} s", status)

    def _fetch_following(self, url: str, accept: str, deadline: Deadline) -> FetchResult:
        current = url
        for _ in range(self.cfg.max_redirects + 1):
            if deadline.passed():
                raise self._overdue()
            host = (urlsplit(current).hostname or "").lower()
            queued = time.monotonic()
            slot = self.limiter.acquire(host)
            deadline.postpone(time.monotonic() - queued)  # our politeness is not the server's delay
            try:
                with active(deadline):
                    resp = self._request(current, accept, deadline)
                if deadline.fired:  # the head was cut short: its status and headers are partial
                    resp.close()
                    raise self._overdue()
                if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                    resp.close()
                    current = urljoin(current, resp.headers["Location"].strip())
                    continue
                with active(deadline):
                    result = self._read(url, resp, deadline)
                result.final_url = current
                return result
            finally:
                slot.release()
        raise _Failure(Reason.TOO_MANY_REDIRECTS, f"more than {self.cfg.max_redirects}")

    def _pool(self, scheme: str, ip: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
        key = (scheme, ip, port, host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                timeout = urllib3.Timeout(
                    connect=self.cfg.connect_timeout, read=self.cfg.read_timeout
                )
                kw = {"timeout": timeout, "maxsize": self.cfg.pool_size, "block": False}
                if scheme == "https":
                    pool = urllib3.HTTPSConnectionPool(
                        ip, port, server_hostname=host, assert_hostname=host, **kw
                    )
                else:
                    pool = urllib3.HTTPConnectionPool(ip, port, **kw)
                pool.ConnectionCls = (  # type: ignore[misc]
                    WatchedHTTPSConnection if scheme == "https" else WatchedHTTPConnection
                )
                self._pools[key] = pool
            return pool

    def _request(self, url: str, accept: str, deadline: Deadline) -> urllib3.BaseHTTPResponse:
        parts = urlsplit(url)
        scheme, host = parts.scheme, (parts.hostname or "").lower()
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as err:
            raise _Failure(Reason.BAD_URL, str(err)) from err
        if scheme not in ("http", "https") or not host:
            raise _Failure(Reason.BAD_URL, url[:200])
        try:
            ip, conn_port = self.resolver.resolve(host, port)
        except ResolveError as err:
            raise _Failure(Reason.DNS_FAILURE, str(err)) from err
        if not address_allowed(ip, self.cfg.allowed_networks):
            raise _Failure(Reason.BLOCKED_ADDRESS, f"{host} -> {ip}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {
            "Host": host if parts.port is None else f"{host}:{parts.port}",
            "User-Agent": self.cfg.user_agent,
            "Accept": accept,
            "Accept-Encoding": "identity",  # no transfer compression: no gzip bombs to inflate
        }
        left = max(deadline.remaining(), 0.001)
        timeout = urllib3.Timeout(
            connect=min(self.cfg.connect_timeout, left), read=min(self.cfg.read_timeout, left)
        )
        try:
            return self._pool(scheme, ip, conn_port, host).urlopen(
                "GET", path, headers=headers, redirect=False, retries=False,
                preload_content=False, decode_content=False, timeout=timeout,
            )  # fmt: skip
        except ConnectTimeoutError as err:  # NewConnectionError too: it subclasses it
            raise _Failure(connect_reason(err), str(err)) from err
        except (TimeoutError, ReadTimeoutError) as err:
            raise _Failure(Reason.READ_TIMEOUT, str(err)) from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise _Failure(Reason.CONNECTION_ERROR, f"{type(err).__name__}: {err}") from err

    def _read(self, url: str, resp: urllib3.BaseHTTPResponse, deadline: Deadline) -> FetchResult:
        complete = False
        try:
            if resp.status != 200:
                raise _Failure(
                    http_reason(resp.status), f"HTTP {resp.status}", resp.status, _retry_after(resp)
                )
            if opted_out(resp.headers.getlist("X-Robots-Tag")):
                raise _Failure(Reason.OPTED_OUT, "X-Robots-Tag", resp.status)
            if self.cfg.respect_tdmrep and tdm_reserved(resp.headers.getlist("tdm-reservation")):
                raise _Failure(Reason.TDM_RESERVATION, "tdm-reservation: 1", resp.status)
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.cfg.max_bytes:
                raise _Failure(Reason.TOO_LARGE, f"Content-Length {declared}", resp.status)
            body = self._read_capped(resp, deadline)
            if deadline.fired:  # the body was cut short by the deadline
                raise self._overdue(resp.status)
            complete = True
            return FetchResult(url, resp.status, body, resp.headers.get("Content-Type", ""))
        except (TimeoutError, ReadTimeoutError) as err:
            raise _Failure(Reason.READ_TIMEOUT, str(err), resp.status) from err
        except ProtocolError as err:
            raise _Failure(
                Reason.INCOMPLETE_BODY, f"{type(err).__name__}: {err}", resp.status
            ) from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise _Failure(
                Reason.CONNECTION_ERROR, f"{type(err).__name__}: {err}", resp.status
            ) from err
        finally:
            if deadline.detach() or not complete:  # never pool a half-read or shut connection
                resp.close()
            resp.release_conn()

    def _read_capped(self, resp: urllib3.BaseHTTPResponse, deadline: Deadline) -> bytes:
        chunks, size = [], 0
        while True:
            chunk = resp.read1(64 * 1024)  # returns what has arrived: deadline checks stay frequent
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.cfg.max_bytes:
                raise _Failure(Reason.TOO_LARGE, f"over {self.cfg.max_bytes} bytes", resp.status)
            if deadline.passed():
                raise self._overdue(resp.status)
            chunks.append(chunk)
