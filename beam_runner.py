r"""Beam entry point of a wit-pipeline build.

    python beam_runner.py --input 'crawl/*.warc.wat.gz' --input_format wat \
        --queries queries.parquet --output out/ [--max_per_query 20000] \
        [--samples_per_shard 10000] [--allowed_networks CIDR,...] [standard Beam options]

Any standard Beam option (`--runner=DataflowRunner --project ... --region ...`,
`--direct_num_workers 2 --direct_running_mode multi_processing`) passes straight through.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pipeline.accounting import format_summary
from pipeline.build import run
from pipeline.options import WitOptions


def _print_help() -> None:
    parser = argparse.ArgumentParser(
        prog="beam_runner.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    WitOptions._add_argparse_args(parser)
    parser.print_help()


def main(argv: list[str] | None = None) -> int:
    """Run a build from command-line arguments and print its summary."""
    argv = argv if argv is not None else sys.argv[1:]
    if "-h" in argv or "--help" in argv:
        _print_help()
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    summary = run(argv)
    print(format_summary(summary))
    return 0 if summary["balanced"] else 1


if __name__ == "__main__":
    sys.exit(main())
