"""`wit demo` on a terminal draws progress bars (piped, it prints plain lines: tests/test_e2e.py)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
WIT = os.path.join(os.path.dirname(sys.executable), "wit")


def _in_terminal(args: list[str]) -> tuple[int, str]:
    """Run `args` with stdout and stderr on a fresh 120x40 pseudo-terminal; (status, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "WIT_PROGRESS"}
    env["TERM"] = "xterm"
    proc = subprocess.Popen(
        args, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_demo_on_a_terminal_shows_progress_bars(tmp_path):
    status, out = _in_terminal([WIT, "demo", "--out", str(tmp_path / "demo")])
    assert status == 0, out[-3000:]
    for name, unit in (("candidates read", "cand"), ("images downloaded", "img")):
        assert re.search(rf"\r{name}: [1-9]\d*{unit} \[\d\d:\d\d, +[\d.]+{unit}/s", out), name
    assert re.search(r"shards written: [1-9]\d*shard \[", out)
    done = re.search(r"images embedded: 100%\|█+\| (\d+)/\1 \[\d\d:\d\d<00:00, +[\d.]+img/s", out)
    assert done and "[wit progress]" not in out  # a bar with ETA, no plain lines
    assert "kept samples" in out and "adds up" in out
