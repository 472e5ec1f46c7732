"""The whole job's own cost per candidate, end to end, beside the reader alone and the gunzip floor.

    .venv/bin/python bench/jobcost.py [--pages 2000] [--runs 3] [--before ../main]

Runs `beam_runner.py` (DirectRunner, one process) on the Common Crawl-shaped WAT of
`bench/cc_corpus.py` with a query list that matches nothing, so every candidate is read,
filtered, deduplicated, matched and written to the rejects. CPU (user + sys) of the child
process, median of `--runs`, minus the median CPU of a 10-page run (imports, pipeline
construction, start-up), divided by the extra candidates: µs per candidate. Beside it, in the
same run: `read_wat` alone, plain gunzip of the file, cc2dataset's extraction where the package
is installed, and with `--before DIR` the same job from another checkout (e.g. main).
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.cc_corpus import corpus  # noqa: E402
from pipeline.read import read_wat  # noqa: E402

__all__ = ["job_rates", "job_us_per_candidate"]


def _child_cpu(cmd: list[str], env: dict[str, str]) -> float:
    """User+sys CPU seconds of a child process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def _job_cpu(root: str, wat: str, queries: str, out: str) -> float:
    args = [f"--input={wat}", f"--queries={queries}", f"--output={out}", "--progress_interval=0"]
    env = {**os.environ, "PYTHONPATH": root}
    return _child_cpu([sys.executable, os.path.join(root, "beam_runner.py"), *args], env)


def _cpu_of(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def job_us_per_candidate(root: str, big: str, tiny: str, extra: int, runs: int) -> float:
    """µs of CPU per candidate of `root`'s job beyond start-up (medians of `runs`)."""
    with tempfile.TemporaryDirectory() as tmp:
        queries = os.path.join(tmp, "queries.txt")
        with open(queries, "w") as f:
            f.write("zzqqxx matches nothing\n")
        jobs = [_job_cpu(root, big, queries, f"{tmp}/big{i}") for i in range(runs)]
        start = [_job_cpu(root, tiny, queries, f"{tmp}/tiny{i}") for i in range(runs)]
    return 1e6 * (statistics.median(jobs) - statistics.median(start)) / extra


def _cc2dataset_us(wat: str, n: int) -> dict[str, float]:
    try:
        from cc2dataset.main import process_wat  # type: ignore[import-not-found]
    except ImportError:
        return {}
    cpu = _cpu_of(lambda: sum(1 for _ in process_wat("file://" + wat, "image")))
    return {"cc2dataset_us_per_candidate": 1e6 * cpu / n}


def job_rates(pages: int = 2000, runs: int = 3, before: str = "") -> dict[str, float]:
    """µs per candidate: this checkout's job (and `before`'s), `read_wat`, gunzip, cc2dataset."""
    big, tiny = corpus(pages, 0)[1], corpus(10, 1)[1]
    n, n_tiny = (sum(1 for _ in read_wat(w)) for w in (big, tiny))
    rates = {"job_candidates": float(n), "job_wat_mb": os.path.getsize(big) / 1e6}
    rates["job_us_per_candidate"] = job_us_per_candidate(ROOT, big, tiny, n - n_tiny, runs)
    if before:
        rates["before_us_per_candidate"] = job_us_per_candidate(
            os.path.abspath(before), big, tiny, n - n_tiny, runs
        )
    reader = statistics.median(_cpu_of(lambda: sum(1 for _ in read_wat(big))) for _ in range(runs))
    gunzip = statistics.median(_cpu_of(lambda: len(gzip.open(big).read())) for _ in range(runs))
    rates["reader_us_per_candidate"] = 1e6 * reader / n
    rates["gunzip_us_per_candidate"] = 1e6 * gunzip / n
    rates.update(_cc2dataset_us(big, n))
    return rates


def main() -> None:
    """Measure and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=2000, help="Pages of the bench corpus.")
    ap.add_argument("--runs", type=int, default=3, help="Runs per measurement (median).")
    ap.add_argument("--before", default="", help="Another checkout to measure beside this one.")
    args = ap.parse_args()
    rates = job_rates(args.pages, args.runs, args.before)
    print(f"{rates['job_candidates']:.0f} candidates, {rates['job_wat_mb']:.1f} MB of .wat.gz\n")
    print("| µs of CPU per candidate | value |\n|---|---:|")
    for name, value in rates.items():
        if name.endswith("_us_per_candidate"):
            print(f"| {name.removesuffix('_us_per_candidate')} | {value:,.1f} |")


if __name__ == "__main__":
    main()
