"""The `wit` command. `wit --help` lists every subcommand.

Each package registers its own subcommands through a `register(subparsers)` function in its
`cli` module (`queries.cli`, `dedup.cli`, `train.cli`), so this file stays a thin table.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pipeline.usage import Parser, quiet_logging, run_cli

__all__ = ["main", "build_parser"]

# Packages whose `cli.register(subparsers)` adds subcommands, in `wit --help` order.
_PLUGINS = ("pipeline.demo", "pipeline.report", "queries.cli", "dedup.cli", "train.cli")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = Parser(
        prog="wit", description="Build, audit and train on WIT-style image-text datasets."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # the plugin itself is not there yet
                continue
            raise
        module.register(sub)
    return parser


def _dispatch(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:  # options for Beam: the ones PipelineOptions knows, and nothing else
        from pipeline.launch import check_beam_args

        extra = check_beam_args(extra, own=_leaf(parser, argv or [])._option_string_actions)
    return int(args.func(args, extra) or 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `wit` console script; a user mistake exits 2 with one line."""
    quiet_logging()  # before the plugins import Beam
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    return run_cli(lambda: _dispatch(parser, argv), _leaf(parser, argv).prog)


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: p for a in actions for name, p in a.choices.items()}


def _leaf(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The (sub)parser that handles the options of `argv` (`wit queries count` -> count's)."""
    for arg in argv:
        if arg.startswith("-"):
            continue
        parser = _commands(parser).get(arg, parser)
    return parser


if __name__ == "__main__":
    sys.exit(main())
