"""A total deadline for HTTP requests: connect, TLS, headers, every redirect hop and the body.

Socket timeouts bound each `recv`, not a request: a server that sends its status line and
headers one byte a second never trips a 10 s read timeout. Here one watchdog thread per process
holds the deadlines in a heap; when one passes it shuts down the socket of the connection the
request is using, so the blocked read returns at once and the fetcher records `total_timeout`.
urllib3 connections learn their request's deadline from a thread-local (`active`), which the
fetcher sets around each request; `WatchedHTTPConnection` / `WatchedHTTPSConnection` register
themselves when they connect or send.

    deadline = WATCHDOG.arm(time.monotonic() + 30)
    with active(deadline):
        pool.urlopen(...)          # pool.ConnectionCls = WatchedHTTPConnection
    deadline.cancel()
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection

__all__ = [
    "Deadline",
    "Watchdog",
    "WATCHDOG",
    "active",
    "WatchedHTTPConnection",
    "WatchedHTTPSConnection",
]

_local = threading.local()


class Deadline:
    """One request's deadline; shuts the socket of the connection it watches when it passes."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.fired = False
        self._done = False
        self._conn: Any = None
        self._lock = threading.Lock()

    def remaining(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self.at - time.monotonic())

    def postpone(self, seconds: float) -> None:
        """Move the deadline later (time spent waiting on this crawler's own limits)."""
        with self._lock:
            self.at += seconds

    def passed(self) -> bool:
        """Whether the deadline has passed (fired, or due)."""
        return self.fired or time.monotonic() >= self.at

    def watch(self, conn: Any) -> None:
        """Watch `conn` (the connection now in use); shut it at once if already fired."""
        with self._lock:
            if self._done:
                return
            self._conn = conn
            if self.fired:
                _shut(conn)

    def detach(self) -> bool:
        """Stop watching the connection (before it goes back to a pool); True if it fired."""
        with self._lock:
            self._conn = None
            return self.fired

    def fire(self) -> None:
        """Called by the watchdog when the deadline passes."""
        with self._lock:
            if self._done:
                return
            self.fired = True
            if self._conn is not None:
                _shut(self._conn)

    def cancel(self) -> None:
        """The request is over: never touch its connection again."""
        with self._lock:
            self._done, self._conn = True, None


def _shut(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class Watchdog:
    """One daemon thread that fires deadlines in order (started on first use)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, at: float) -> Deadline:
        """A new deadline at monotonic time `at`."""
        deadline = Deadline(at)
        with self._cond:
            heapq.heappush(self._heap, (at, next(self._seq), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="wit-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
        return deadline

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                _, _, deadline = heapq.heappop(self._heap)
                if deadline.at > time.monotonic():  # postponed: wait again
                    heapq.heappush(self._heap, (deadline.at, next(self._seq), deadline))
                    continue
            deadline.fire()


WATCHDOG = Watchdog()


@contextlib.contextmanager
def active(deadline: Deadline) -> Iterator[None]:
    """Make `deadline` the one that connections opened or used in this thread register with."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = previous


def _register(conn: Any) -> None:
    deadline = getattr(_local, "deadline", None)
    if deadline is not None:
        deadline.watch(conn)


class _Watched:
    """Register with the active deadline on connect (TCP and TLS) and on every request."""

    def connect(self) -> None:
        _register(self)
        super().connect()  # type: ignore[misc]
        _register(self)  # the socket exists now: shut it if the deadline fired meanwhile

    def request(self, *args: Any, **kw: Any) -> None:
        _register(self)
        super().request(*args, **kw)  # type: ignore[misc]


class WatchedHTTPConnection(_Watched, HTTPConnection):
    """An urllib3 connection that the active deadline can shut down."""


class WatchedHTTPSConnection(_Watched, HTTPSConnection):
    """`WatchedHTTPConnection` over TLS (the handshake is covered too)."""
