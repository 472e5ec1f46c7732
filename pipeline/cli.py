"""The `wit` command. `wit --help` lists every subcommand.

Each package registers its own subcommands through a `register(subparsers)` function in its
`cli` module (`queries.cli`, `dedup.cli`, `train.cli`), so this file stays a thin table.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "build_parser"]

# Packages whose `cli.register(subparsers)` adds subcommands, in `wit --help` order.
_PLUGINS = ("pipeline.demo", "pipeline.report", "queries.cli", "dedup.cli", "train.cli")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `wit` console script."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return int(args.func(args, extra) or 0)


if __name__ == "__main__":
    sys.exit(main())
