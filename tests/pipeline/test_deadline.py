"""The deadline watchdog: it shuts the watched socket when the deadline passes, not before."""

from __future__ import annotations

import socket
import time

from pipeline.deadline import Watchdog


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


def test_fired_deadline_unblocks_a_waiting_read():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        deadline = Watchdog().arm(time.monotonic() + 0.2)
        deadline.watch(_Conn(ours))
        ours.settimeout(30)  # the server sends nothing: only the deadline ends the wait
        assert ours.recv(1) == b"" and deadline.fired


def test_postponed_and_cancelled_deadlines_leave_the_socket_alone():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        watchdog = Watchdog()
        deadline = watchdog.arm(time.monotonic() + 0.05)
        deadline.watch(_Conn(ours))
        deadline.postpone(0.3)  # time spent in our own per-host queue
        time.sleep(0.15)
        assert not deadline.fired
        assert deadline.detach() is False  # back to a pool: no longer watched
        time.sleep(0.3)
        theirs.sendall(b"x")
        assert ours.recv(1) == b"x" and deadline.fired
        cancelled = watchdog.arm(time.monotonic() + 0.01)
        cancelled.cancel()
        time.sleep(0.1)
        assert not cancelled.fired
