"""User mistakes fail loud: one line on stderr, a non-zero exit, no traceback.

Every entry point (`wit`, `beam_runner.py`, `python -m pipeline.s3`, `python -m train`) runs its
body through `run_cli`, which turns a `UsageError` into `PROG: error: MESSAGE` and exit status 2.
Any other exception is a bug and keeps its traceback. Options are checked where they are parsed:
`Parser` (no prefix matching, defaults and allowed ranges in `--help`, one-line errors, either
spelling of a flag accepted) and the argparse `type=` checkers below (`at_least`, `cidr_list`,
`resolve_spec`).
"""

from __future__ import annotations

import argparse
import difflib
import ipaddress
import logging
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "UsageError",
    "Parser",
    "HelpFormatter",
    "at_least",
    "cidr_list",
    "resolve_spec",
    "respell",
    "unknown_flag_message",
    "run_cli",
    "quiet_logging",
]


_FLAG = re.compile(r"--[A-Za-z][\w-]*")  # what a long option looks like (not SQL's `-- comment`)


class UsageError(ValueError):
    """A mistake in what the user asked for (a path, a flag, a value): reported in one line."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """`--help` shows every option's default and keeps the description's layout."""


class Bounded:
    """An argparse `type=`: a number of `kind` within [lo, hi]; its `describe()` goes in --help."""

    def __init__(self, kind: type, lo: float | None = None, hi: float | None = None, **kw: Any):
        self.kind, self.lo, self.hi = kind, lo, hi
        self.above = kw.get("above")  # strict lower bound (e.g. a timeout > 0)
        self.__name__ = kind.__name__  # argparse names the type in its messages

    def describe(self) -> str:
        """The allowed range, e.g. 'an integer >= 1'."""
        parts = [f">= {self.lo}"] if self.lo is not None else []
        parts += [f"> {self.above}"] if self.above is not None else []
        parts += [f"<= {self.hi}"] if self.hi is not None else []
        noun = "an integer" if self.kind is int else "a number"
        return f"{noun} {' and '.join(parts)}".strip()

    def __call__(self, text: str) -> Any:
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")) or not self._inside(value):
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text!r}")
        return value

    def _inside(self, value: float) -> bool:
        low_ok = (self.lo is None or value >= self.lo) and (
            self.above is None or value > self.above
        )
        return low_ok and (self.hi is None or value <= self.hi)


def at_least(lo: float, kind: type = int, hi: float | None = None) -> Bounded:
    """A `type=` accepting numbers of `kind` >= lo (and <= hi)."""
    return Bounded(kind, lo, hi)


def above(lo: float, kind: type = float) -> Bounded:
    """A `type=` accepting numbers of `kind` > lo."""
    return Bounded(kind, above=lo)


def cidr_list(text: str) -> str:
    """A `type=` for comma-separated CIDRs (`127.0.0.0/8,10.0.0.0/8`); returns the text."""
    for item in filter(None, (s.strip() for s in text.split(","))):
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not a network in CIDR form (e.g. 127.0.0.0/8)"
            ) from None
    return text


def resolve_spec(text: str) -> str:
    """A `type=` for `HOST=IP:PORT,...` DNS overrides; returns the text."""
    from pipeline.netpolicy import parse_resolve

    try:
        for _host, ip, port in parse_resolve(text):
            ipaddress.ip_address(ip)
            if not 0 < port < 65536:
                raise ValueError(f"port {port} is out of range in {text!r}")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def with_range(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`add_argument` keyword arguments with the allowed range of a `Bounded` type in the help."""
    kind = kwargs.get("type")
    help_text = kwargs.get("help") or ""
    if (
        isinstance(kind, Bounded)
        and help_text is not argparse.SUPPRESS
        and "Allowed:" not in help_text
    ):
        text = help_text.rstrip()
        text += "" if not text or text.endswith(".") else "."
        kwargs["help"] = f"{text} Allowed: {kind.describe()}.".strip()
    if "help" not in kwargs and kwargs.get("default") not in (None, False):
        kwargs["help"] = "(default: %(default)s)"
    return kwargs


def respell(args: Sequence[str], known: Iterable[str]) -> list[str]:
    """`--a-b` as `--a_b` (or the reverse) where only the other spelling is a known flag."""
    known = set(known)
    out = []
    for arg in args:
        if arg == "--":
            out.extend(args[len(out) :])
            break
        flag, eq, value = arg.partition("=")
        if flag.startswith("--") and flag not in known:
            for other in (flag[:2] + flag[2:].replace("-", "_"), flag.replace("_", "-")):
                if other in known:
                    arg = other + eq + value
                    break
        out.append(arg)
    return out


def unknown_flag_message(flag: str, known: Iterable[str]) -> str:
    """`unknown option --inptu (did you mean --input?)`."""
    name = flag.partition("=")[0]
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown option {name}{hint}"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser for user-facing commands.

    No prefix matching (`--shard` is not `--shards`), defaults and allowed ranges in `--help`,
    errors in one line, and `--a_b` accepted for `--a-b` (and the reverse).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:  # type: ignore[override]
        """As argparse's, with the allowed range and the default shown in `--help`."""
        if args and str(args[0]).startswith("-"):
            kwargs = with_range(kwargs)
        return super().add_argument(*args, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        """Parse with either spelling of every long flag accepted."""
        args = respell(sys.argv[1:] if args is None else list(args), self._option_string_actions)
        if not self._defaults.get("accepts_extra") and not self._subparsers:
            self._refuse_unknown(args)  # before argparse's "required" check hides a typo
        return super().parse_known_args(args, namespace)

    def _refuse_unknown(self, args: list[str]) -> None:
        for arg in args:
            if arg == "--":
                return
            flag = arg.partition("=")[0]
            if _FLAG.fullmatch(flag) and flag not in self._option_string_actions:
                self.error(unknown_flag_message(flag, self._option_string_actions))

    def error(self, message: str) -> Any:  # type: ignore[override]
        """One line: `PROG: error: MESSAGE (see PROG --help)`, exit status 2."""
        if message.startswith("unrecognized arguments:"):
            flag = message.split(":", 1)[1].split()[0]
            message = unknown_flag_message(flag, self._option_string_actions)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _DropNoise(logging.Filter):
    """Drops Beam's import-time warning about its optional GCP client (not installed here)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("apitools not found")


def quiet_logging(level: int = logging.WARNING) -> None:
    """Log warnings as `LEVEL name: message`, without Beam's optional-dependency noise.

    Call it before importing apache_beam: the noise is logged at import time.
    """
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropNoise())


def run_cli(body: Callable[[], int | None], prog: str) -> int:
    """Run an entry point's body; a `UsageError` becomes one stderr line and exit status 2."""
    try:
        return int(body() or 0)
    except UsageError as err:
        message = " ".join(str(err).split())
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
