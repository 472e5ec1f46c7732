"""Soak: 20,000 URLs against local servers, hostile behaviours mixed in, faults injected.

    .venv/bin/python bench/soak.py [--urls 20000] [--hostile-copies 60] [--workers 2]
        [--fail-fraction 0.3] [--clean-too] [--work DIR]

Builds a URL table from a generated sample web (its WAT candidates: captions, junk, duplicate
URLs and images, 404/500, bombs, opted-out images) plus `--hostile-copies` copies of every
pipeline/hostileweb.py route (slow, lying, resetting, redirect-looping servers), runs
beam_runner.py on it in multi_processing mode with seeded faults in five stages, and checks the
accounting exactly: every input row is in exactly one shard or one rejects row, the summary adds
up, the shard folder holds exactly what the manifest lists. `--clean-too` also builds without
faults and compares every output file byte for byte.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pipeline.hostileweb import EXPECTED, HostileServer  # noqa: E402
from pipeline.read import read_wat  # noqa: E402
from pipeline.sampleweb import SampleWebConfig, generate  # noqa: E402
from pipeline.webserver import SampleWebServer  # noqa: E402

FAULT_STAGES = "dedup_url,balance,download,dedup_image,write_shards"


def url_rows(web: str, hostile: dict[str, str], n: int, copies: int) -> list[dict]:
    """`n` rows: the sample web's candidates, then hostile copies (`?copy=i`), interleaved."""
    query = next(q for q in open(f"{web}/queries.txt").read().split("\n") if q and q[0] != "#")
    bad = [
        {"url": f"{url}?copy={i}", "caption": f"a {query} picture, copy {i} of {path}"}
        for i in range(copies)
        for path, url in sorted(hostile.items())
    ]
    web_rows = [
        {"url": r.url, "caption": r.caption}
        for path in sorted(glob.glob(f"{web}/crawl/*.wat.gz"))
        for r in read_wat(path)
        if not r.rejected
    ][: n - len(bad)]
    step = max(1, len(web_rows) // max(1, len(bad)))
    rows = []
    for i, row in enumerate(web_rows):
        rows.append(row)
        if i % step == 0 and bad:
            rows.append(bad.pop())
    return rows + bad


def build(work: str, name: str, resolve: str, workers: int, extra: list[str]) -> tuple[float, str]:
    """Run beam_runner.py on the soak table into WORK/NAME; returns (seconds, stdout)."""
    args = [sys.executable, "beam_runner.py", f"--input={work}/urls.parquet", "--input_format=parquet",
            f"--queries={work}/web/queries.txt", f"--output={work}/{name}", "--max_per_query=1000000",
            "--samples_per_shard=2000", "--allowed_networks=127.0.0.1/32", f"--resolve={resolve}",
            "--timeout=2", "--total_timeout=4", "--retries=1", "--max_image_bytes=2000000",
            "--progress_interval=30", "--per_host_rate=0", f"--direct_num_workers={workers}",
            "--direct_running_mode=multi_processing", *extra]  # fmt: skip
    start = time.monotonic()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-5000:])
    return time.monotonic() - start, proc.stdout


def outcomes(out: str) -> dict[str, list[str]]:
    """URL -> every outcome recorded for it ("kept" or stage/reason)."""
    got: dict[str, list[str]] = collections.defaultdict(list)
    for path in sorted(glob.glob(f"{out}/shards/*.parquet")):
        for url in pq.read_table(path, columns=["url"]).column("url").to_pylist():
            got[url].append("kept")
    for row in pq.read_table(glob.glob(f"{out}/rejects/*.parquet")).to_pylist():
        got[row["url"]].append(f"{row['stage']}/{row['reason']}")
    return got


def check(out: str, rows: list[dict]) -> dict:
    """Exact accounting: each input row once, summary adds up, no stray or missing file."""
    summary = json.load(open(f"{out}/summary.json"))
    manifest = json.load(open(f"{out}/manifest.json"))
    got = outcomes(out)
    wanted = collections.Counter(r["url"] for r in rows)
    recorded = collections.Counter({url: len(v) for url, v in got.items()})
    listed = {f"shards/{s[k]}" for s in manifest["shards"] for k in ("shard", "parquet")}
    listed |= {f"shards/{s['shard'][:-4]}_stats.json" for s in manifest["shards"]}
    listed |= {"shards/sizes.json"} | {f"rejects/{r['file']}" for r in manifest["rejects"]}
    present = {
        os.path.relpath(p, out)
        for p in glob.glob(f"{out}/shards/*") + glob.glob(f"{out}/rejects/*")
    }
    hidden = [p for p in glob.glob(f"{out}/**/.*", recursive=True)]
    return {
        "input_rows": len(rows),
        "summary_input": summary["input"],
        "kept": summary["kept"],
        "dropped": summary["dropped"],
        "balanced": summary["balanced"],
        "rows_missing": sum((wanted - recorded).values()),
        "rows_extra": sum((recorded - wanted).values()),
        "kept_twice": sum(1 for v in got.values() if v.count("kept") > 1),
        "stray_files": sorted(present - listed) + hidden,
        "missing_files": sorted(listed - present),
        "exact": False,
    }


def hostile_report(got: dict[str, list[str]], hostile: dict[str, str]) -> dict[str, dict]:
    """Per hostile route: the reasons recorded across its copies, and whether they are expected."""
    report = {}
    for path, url in sorted(hostile.items()):
        reasons = collections.Counter(
            o.split("/")[-1] for u, outs in got.items() if u.split("?")[0] == url for o in outs
        )
        allowed = (
            {EXPECTED[path], "duplicate_image"} if EXPECTED[path] == "kept" else {EXPECTED[path]}
        )
        report[path] = {"reasons": dict(reasons), "as_expected": set(reasons) <= allowed}
    return report


def identical(a: str, b: str) -> list[str]:
    """Output files that differ between builds A and B (shards, rejects, summary)."""
    names = sorted(
        os.path.relpath(p, a) for p in glob.glob(f"{a}/shards/*") + glob.glob(f"{a}/rejects/*")
    )
    names.append("summary.json")
    return [n for n in names if open(f"{a}/{n}", "rb").read() != open(f"{b}/{n}", "rb").read()]


def main() -> int:
    """Generate, serve, build with faults, check; print a JSON report."""
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--urls", type=int, default=20000)
    ap.add_argument("--hostile-copies", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fail-fraction", type=float, default=0.3)
    ap.add_argument(
        "--clean-too", action="store_true", help="Also build without faults and compare bytes."
    )
    ap.add_argument("--work", help="Working folder (default: a temporary one).")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="wit-soak-")
    t0 = time.monotonic()
    web = generate(f"{work}/web", SampleWebConfig(seed=7, pages=args.urls // 10 + 10))
    gen_s = time.monotonic() - t0
    faults = [
        f"--fail_stages={FAULT_STAGES}",
        f"--fail_fraction={args.fail_fraction}",
        "--fault_seed=1",
    ]
    with SampleWebServer(web) as server, HostileServer(stall=3.0) as hostile_server:
        hostile = hostile_server.urls()
        rows = url_rows(web, hostile, args.urls, args.hostile_copies)
        pq.write_table(pa.Table.from_pylist(rows), f"{work}/urls.parquet")
        seconds, stdout = build(work, "faulty", server.resolve_spec(), args.workers, faults)
        clean_s = (
            build(work, "clean", server.resolve_spec(), args.workers, [])[0]
            if args.clean_too
            else None
        )
    report = check(f"{work}/faulty", rows)
    report["exact"] = not (report["rows_missing"] or report["rows_extra"] or report["kept_twice"]
                           or report["stray_files"] or report["missing_files"]) and report["balanced"]  # fmt: skip
    report.update(
        generate_s=round(gen_s, 1),
        build_s=round(seconds, 1),
        rows_per_s=round(len(rows) / seconds, 1),
    )
    report["counters"] = next(
        (ln for ln in stdout.splitlines() if ln.strip().startswith("faults ")), ""
    )
    routes = hostile_report(outcomes(f"{work}/faulty"), hostile)
    report["hostile_as_expected"] = (
        f"{sum(r['as_expected'] for r in routes.values())}/{len(routes)}"
    )
    report["hostile_unexpected"] = {
        p: r["reasons"] for p, r in routes.items() if not r["as_expected"]
    }
    if clean_s is not None:
        report.update(
            clean_build_s=round(clean_s, 1),
            differing_files=identical(f"{work}/faulty", f"{work}/clean"),
        )
    print(json.dumps(report, indent=1))
    print(stdout)
    return 0 if report["exact"] and not report.get("differing_files") else 1


if __name__ == "__main__":
    sys.exit(main())
