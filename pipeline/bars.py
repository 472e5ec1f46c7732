"""Progress of long local work: tqdm bars on a terminal, plain lines when logged or piped.

    with bar("images embedded", total=n, unit="img") as b:
        for batch in batches:
            ...
            b.update(len(batch), duplicates=found)

On a terminal (stderr is a TTY, `TERM` is not `dumb`, `WIT_PROGRESS=plain` not set) each
`Bar` is a tqdm bar with count, rate and, when the total is known, ETA. Otherwise it prints a
plain `[wit progress]` line at most every `every` seconds and one when it closes, so logs stay
readable (`WIT_PROGRESS=off`: nothing).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

__all__ = ["Bar", "bar", "interactive"]

_ENV = "WIT_PROGRESS"  # "bars", "plain" or "off"; unset: bars on a terminal, else plain


def interactive(stream: Any = None) -> bool:
    """Whether progress should be drawn as bars on `stream` (stderr by default)."""
    mode = os.environ.get(_ENV, "")
    if mode in ("plain", "off"):
        return False
    stream = stream or sys.stderr
    tty = hasattr(stream, "isatty") and stream.isatty()
    return mode == "bars" or (tty and os.environ.get("TERM") != "dumb")


class Bar:
    """One progress counter: a tqdm bar on a terminal, throttled plain lines otherwise."""

    def __init__(
        self,
        desc: str,
        total: int | None = None,
        unit: str = "it",
        every: float = 10.0,
        position: int | None = None,
        initial: int = 0,
    ) -> None:
        self.desc, self.total, self.unit, self.every = desc, total, unit, every
        self.n, self.initial, self.postfix = initial, initial, ""
        self.start = self.last = time.monotonic()
        self._lock = threading.Lock()
        self._off = os.environ.get(_ENV) == "off"
        self._tqdm = None
        if interactive() and not self._off:
            from tqdm import tqdm

            self._tqdm = tqdm(
                desc=desc,
                total=total,
                unit=unit,
                position=position,
                initial=initial,
                **_width(),
            )

    def update(self, n: int = 1, **postfix: Any) -> None:
        """Count `n` more; `postfix` values (loss=..., dropped=...) are shown beside the count."""
        with self._lock:
            self.n += n
            if postfix:
                self.postfix = ", ".join(f"{k}={_fmt(v)}" for k, v in postfix.items())
            if self._tqdm is not None:
                if postfix:
                    self._tqdm.set_postfix_str(self.postfix, refresh=False)
                self._tqdm.update(n)
                return
            now = time.monotonic()
            if self._off or now - self.last < self.every:
                return
            self.last = now
        print(self.line(), file=sys.stderr, flush=True)

    def line(self) -> str:
        """The plain progress line: count, total, rate, ETA and the postfix."""
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = (self.n - self.initial) / elapsed  # a resumed count's start is not this run's work
        count = f"{self.n:,}" + (f"/{self.total:,}" if self.total else "")
        eta = ""
        if self.total and rate > 0:
            eta = f" | ETA {_clock(max(self.total - self.n, 0) / rate)}"
        tail = f" | {self.postfix}" if self.postfix else ""
        return (
            f"[wit progress] {self.desc}: {count} {self.unit} | {rate:,.1f} {self.unit}/s"
            f" | {_clock(elapsed)}{eta}{tail}"
        )

    def close(self) -> None:
        """Finish the bar (or print the final plain line)."""
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
        elif not self._off and self.n:
            print(self.line(), file=sys.stderr, flush=True)
        self._off = True

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def bar(desc: str, total: int | None = None, unit: str = "it", every: float = 10.0) -> Bar:
    """A `Bar` (use it as a context manager)."""
    return Bar(desc, total, unit, every)


def _width() -> dict[str, Any]:
    """Follow the terminal's width; a fixed one where it reports none (a bare pseudo-terminal)."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError):
        size = os.terminal_size((0, 0))
    if size.columns and size.lines:
        return {"dynamic_ncols": True}
    return {"ncols": 100, "nrows": 40}  # tqdm hides every bar on a screen of 0 rows


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
