"""Hostile connects: a refused, an unreachable and a timed-out connection are different reasons."""

from __future__ import annotations

import errno
import socket
import time

import pytest
import urllib3

from pipeline.fetch import FetchConfig, Fetcher, connect_reason
from pipeline.schema import Reason

FAST = dict(connect_timeout=0.5, read_timeout=0.5, total_timeout=3, retries=0, backoff=0.01)


def _fetch(port: int) -> str:
    fetcher = Fetcher(FetchConfig(allowed_networks=("127.0.0.1/32",), **FAST))
    return fetcher.fetch(f"http://127.0.0.1:{port}/x.jpg").reason


def test_refused_connection_is_connection_refused():
    with socket.socket() as s:  # bound, never listening: the kernel answers RST
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        start = time.monotonic()
        assert _fetch(port) == Reason.CONNECTION_REFUSED
    assert time.monotonic() - start < 2


def test_silent_listener_is_connect_timeout():
    """A listener whose accept queue is full drops SYNs: the connect times out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    held = []
    for _ in range(3):  # fill the accept queue; the connects that time out are what we want
        c = socket.socket()
        c.settimeout(0.3)
        try:
            c.connect(("127.0.0.1", port))
            held.append(c)
        except OSError:
            c.close()
            break
    try:
        assert _fetch(port) == Reason.CONNECT_TIMEOUT
    finally:
        for c in held:
            c.close()
        server.close()


def _new_connection_error(code: int) -> urllib3.exceptions.NewConnectionError:
    """What urllib3 raises when connect() fails with `code` (it chains the OSError)."""
    conn = urllib3.connection.HTTPConnection("127.0.0.1", 9)
    try:
        try:
            raise OSError(code, "connect failed")
        except OSError as cause:
            raise urllib3.exceptions.NewConnectionError(conn, f"failed: {cause}") from cause
    except urllib3.exceptions.NewConnectionError as err:
        return err


@pytest.mark.parametrize(
    "code,reason",
    [
        (errno.ECONNREFUSED, Reason.CONNECTION_REFUSED),
        (errno.ENETUNREACH, Reason.UNREACHABLE),
        (errno.EHOSTUNREACH, Reason.UNREACHABLE),
        (errno.EADDRNOTAVAIL, Reason.CONNECTION_ERROR),
    ],
)
def test_connect_errors_by_errno(code, reason):
    assert connect_reason(_new_connection_error(code)) == reason


def test_timeout_is_still_connect_timeout():
    conn = urllib3.connection.HTTPConnection("127.0.0.1", 9)
    try:
        raise urllib3.exceptions.ConnectTimeoutError(conn, "timed out") from TimeoutError()
    except urllib3.exceptions.ConnectTimeoutError as err:
        assert connect_reason(err) == Reason.CONNECT_TIMEOUT
