"""`wit demo`: generate and serve the bundled sample web on 127.0.0.1, build shards, summarise.

    wit demo --out wit-demo [standard Beam options, e.g. --direct_num_workers 2]

It then audits the shards against the sample web's evaluation set (planted altered copies)
with `dedup`, writing OUT/overlap/.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from typing import Any

from pipeline import storage
from pipeline.safetyreport import format_safety
from pipeline.sampleweb import SampleWebConfig, generate
from pipeline.usage import at_least

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
        "--per_host_rate=500",  # our own server on 127.0.0.1: no need to be slow with it
        f"--hash_blocklist={os.path.join(web_dir, 'blocklist.txt')}",  # one planted image
    ]


def run_overlap(out: str, web_dir: str) -> list[dict[str, Any]]:
    """Audit OUT's shards against the sample web's eval set into OUT/overlap (`wit dedup`)."""
    from dedup.evalsets import parse_eval_spec
    from dedup.overlap import DedupConfig, run_dedup

    evals = (parse_eval_spec(f"sample-web={os.path.join(web_dir, 'evalset')}"),)
    cfg = DedupConfig(
        shards=(storage.join(out, "shards"),), evals=evals, out=storage.join(out, "overlap")
    )
    summaries = run_dedup(cfg)
    truth = _planted_keys(web_dir)
    found = _duplicate_keys(storage.join(out, "overlap"))
    for s in summaries:
        s["planted_found"], s["planted"] = len(truth & found), len(truth)
    return summaries


def _planted_keys(web_dir: str) -> set[str]:
    import json

    with open(os.path.join(web_dir, "evalset", "ground_truth.jsonl")) as f:
        return {json.loads(line)["key"] for line in f if line.strip()}


def _duplicate_keys(overlap_dir: str) -> set[str]:
    text = storage.read_bytes(storage.join(overlap_dir, "exclusion", "keys.txt")).decode()
    return {line.strip() for line in text.splitlines() if line.strip()}


def run_demo(
    out: str, beam_args: list[str], seed: int = 0, overlap: bool = True
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Generate and serve the sample web, build OUT, audit it; returns (summary, overlap rows).

    The sample web lives under OUT/sample-web (a temp dir if OUT is s3://).
    """
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
        summary = run(demo_args(web_dir, out, server.resolve_spec()) + beam_args)
        return summary, (run_overlap(out, web_dir) if overlap else [])


def _check(out: str, extra: list[str]) -> None:
    """Refuse Beam options that the demo sets itself, and an output it cannot write."""
    from pipeline.preflight import check_output
    from pipeline.usage import UsageError

    own = {"--input", "--input_format", "--queries", "--output"}  # what the demo builds from/to
    for arg in extra:
        flag = arg.partition("=")[0]
        if flag in own:
            hint = " (the output folder is --out)" if flag == "--output" else ""
            raise UsageError(f"{flag} is set by wit demo itself and cannot be given{hint}")
    check_output(out, "--out")


def _main(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline.accounting import format_summary

    out = args.out.rstrip("/") if storage.is_s3(args.out) else os.path.abspath(args.out)
    _check(out, extra)
    start = time.monotonic()
    summary, overlaps = run_demo(out, extra, args.seed, not args.skip_overlap)
    print(format_summary(summary))
    print(format_safety(summary))
    for s in overlaps:
        print(
            f"overlap with eval set {s['eval_set']!r}: {s['overlap']}/{s['all']} eval images "
            f"({s['overlap_pct']}%) at threshold {s['threshold']:.3f}; "
            f"planted copies found {s['planted_found']}/{s['planted']}"
        )
    print(f"\nbuilt in {time.monotonic() - start:.1f} s")
    print(f"  shards     {out}/shards/  (sizes.json, NNNNN.tar, NNNNN.parquet)")
    print(f"  rejects    {out}/rejects/")
    print(f"  manifest   {out}/manifest.json   summary {out}/summary.json")
    print(f"  card       {out}/report.html")
    if overlaps:
        print(f"  overlap    {out}/overlap/  (report.html, overlap.parquet, exclusion/keys.txt)")
    _print_next(out, bool(overlaps))
    return 0 if summary["balanced"] else 1


def _print_next(out: str, overlaps: bool) -> None:
    """Commands to try next, runnable as printed: this interpreter's and this venv's paths."""
    python, wit = sys.executable, os.path.join(os.path.dirname(sys.executable), "wit")
    runner = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "beam_runner.py"
    )
    shard = f"{out}/shards/00000.tar"
    shard = f"pipe:{python} -m pipeline.s3 {shard}" if storage.is_s3(out) else shard
    print("next:")
    print(
        f'  {python} -c "import webdataset as wds; '
        f"print(next(iter(wds.WebDataset('{shard}', shardshuffle=False))).keys())\""
    )
    print(f"  {python} {runner} --help   # the same build on your own WAT/WARC/URL files")
    if overlaps:
        print(f'  {wit} overlap query {out}/overlap "SELECT eval_set, overlap_pct FROM summary"')
        print(
            f"  {wit} train --shards '{out}/shards/*.tar' "
            f"--exclude {out}/overlap/exclusion/keys.txt --config tiny --out {out}/train"
        )


def register(sub: Any) -> None:
    """Add `wit demo` to the `wit` command."""
    p = sub.add_parser(
        "demo", help="Build a dataset from the bundled sample web (no arguments needed)."
    )
    p.add_argument("--out", default="wit-demo", help="Output directory (local or s3://).")
    p.add_argument("--seed", type=at_least(0), default=0, help="Seed of the sample web.")
    p.add_argument("--skip-overlap", action="store_true", help="Do not audit against the eval set.")
    p.set_defaults(func=_main, accepts_extra=True)
