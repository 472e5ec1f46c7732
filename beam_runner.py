r"""Beam entry point of a wit-pipeline build.

    .venv/bin/python beam_runner.py --input 'crawl/*.warc.wat.gz' --input_format wat \
        --queries queries.parquet --output out/ [--max_per_query 20000] \
        [--samples_per_shard 10000] [--allowed_networks CIDR,...] [standard Beam options]

Any standard Beam option (`--runner=DataflowRunner --project ... --region ...`,
`--direct_num_workers 2 --direct_running_mode multi_processing`) passes straight through; a flag
that neither this build nor Beam knows is an error. Options use underscores (Beam's spelling);
`--max-per-query` is accepted for `--max_per_query`. A mistake (a path that matches nothing, a
value out of range) is reported in one line before any work starts, with exit status 2.
"""

from __future__ import annotations

import sys

from pipeline.usage import Parser, quiet_logging, run_cli

quiet_logging()  # before Beam is imported: it logs noise about optional clients at import


def _print_help() -> None:
    from pipeline.options import WitOptions

    parser = Parser(prog="beam_runner.py", description=__doc__)
    WitOptions._add_argparse_args(parser)
    parser.print_help()


def _build(argv: list[str]) -> int:
    from pipeline.accounting import format_summary
    from pipeline.build import run
    from pipeline.usage import UsageError

    summary = run(argv)
    print(format_summary(summary))
    if not summary["input"]:  # files that hold nothing of the format asked for: not a dataset
        raise UsageError("no candidate read from --input: its files hold no record of that format")
    return 0 if summary["balanced"] else 1


def main(argv: list[str] | None = None) -> int:
    """Run a build from command-line arguments and print its summary."""
    argv = argv if argv is not None else sys.argv[1:]
    if "-h" in argv or "--help" in argv:
        _print_help()
        return 0
    return run_cli(lambda: _build(argv), "beam_runner.py")


if __name__ == "__main__":
    sys.exit(main())
