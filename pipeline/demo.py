"""`wit demo`: generate and serve the bundled sample web on 127.0.0.1, build shards, summarise.

wit demo --out wit-demo [standard Beam options, e.g. --direct_num_workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from typing import Any

from pipeline import storage
from pipeline.accounting import format_summary
from pipeline.sampleweb import SampleWebConfig, generate

__all__ = ["register", "demo_args", "run_demo"]

DEMO_MAX_PER_QUERY = 100
DEMO_SAMPLES_PER_SHARD = 256


def demo_args(web_dir: str, out: str, resolve: str) -> list[str]:
    """The `beam_runner.py` arguments of the demo build."""
    return [
        f"--input={os.path.join(web_dir, 'crawl', '*.warc.wat.gz')}",
        "--input_format=wat",
        f"--queries={os.path.join(web_dir, 'queries.txt')}",
        f"--output={out}",
        f"--max_per_query={DEMO_MAX_PER_QUERY}",
        f"--samples_per_shard={DEMO_SAMPLES_PER_SHARD}",
        "--allowed_networks=127.0.0.0/8",
        f"--resolve={resolve}",
        "--timeout=5",
    ]


def run_demo(out: str, beam_args: list[str], seed: int = 0) -> dict[str, Any]:
    """Generate the sample web under OUT/sample-web (a temp dir if OUT is s3://), serve it, build OUT."""
    from pipeline.build import run
    from pipeline.webserver import SampleWebServer

    with contextlib.ExitStack() as stack:
        web_root = os.path.join(out, "sample-web")
        if storage.is_s3(out):  # the sample web is served from local disk, never from S3
            web_root = stack.enter_context(tempfile.TemporaryDirectory(prefix="wit-sample-web-"))
        web_dir = generate(web_root, SampleWebConfig(seed=seed))
        server = stack.enter_context(SampleWebServer(web_dir))
        print(
            f"sample web: {web_dir} served at http://127.0.0.1:{server.port}/ (hosts *.sample.test)"
        )
        return run(demo_args(web_dir, out, server.resolve_spec()) + beam_args)


def _main(args: argparse.Namespace, extra: list[str]) -> int:
    out = args.out.rstrip("/") if storage.is_s3(args.out) else os.path.abspath(args.out)
    start = time.monotonic()
    summary = run_demo(out, extra, args.seed)
    print(format_summary(summary))
    print(f"\nbuilt in {time.monotonic() - start:.1f} s")
    print(f"  shards     {out}/shards/  (sizes.json, NNNNN.tar, NNNNN.parquet)")
    print(f"  rejects    {out}/rejects/")
    print(f"  manifest   {out}/manifest.json   summary {out}/summary.json")
    print(f"  card       {out}/report.html")
    print("next:")
    shard = f"{out}/shards/00000.tar"
    shard = f"pipe:python -m pipeline.s3 {shard}" if storage.is_s3(out) else shard
    print(
        f"  python -c \"import webdataset as wds; print(next(iter(wds.WebDataset('{shard}'))).keys())\""
    )
    print("  python beam_runner.py --help   # the same build on your own WAT/WARC/URL files")
    return 0 if summary["balanced"] else 1


def register(sub: Any) -> None:
    """Add `wit demo` to the `wit` command."""
    p = sub.add_parser(
        "demo", help="Build a dataset from the bundled sample web (no arguments needed)."
    )
    p.add_argument("--out", default="wit-demo", help="Output directory (default: ./wit-demo).")
    p.add_argument("--seed", type=int, default=0, help="Seed of the sample web.")
    p.set_defaults(func=_main, accepts_extra=True)
