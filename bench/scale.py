"""Per-core rates of every stage on this machine, and the cost of the full job built from them.

    .venv/bin/python bench/scale.py [--entries 500000] [--images 600] [--json out.json]

Each stage's own code runs in this one process on inputs made here (the generated sample web's
WAT files, 500k synthetic query entries as in bench/queries.py, real photos from
../shared/data/imagenet-samples served by a separate `http.server` process on 127.0.0.1).
Rates are per CPU-second of this process (`time.process_time`), so they are per core. First of
all, the whole job: `beam_runner.py` on a Common Crawl-shaped WAT in a child process
(`bench/jobcost.py`), µs per candidate beside the reader alone and the gunzip floor
(`--job_only`: just that).
The cost model (`bench/scalemodel.py`) turns them into core-hours, workers and money for the full job.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("WIT_PROGRESS_INTERVAL", "0")

from bench.jobcost import job_rates  # noqa: E402
from bench.scalemodel import print_model  # noqa: E402
from pipeline.download import download_record  # noqa: E402
from pipeline.fetch import FetchConfig, Fetcher  # noqa: E402
from pipeline.imaging import ImageConfig  # noqa: E402
from pipeline.read import read_wat  # noqa: E402
from pipeline.sampleweb import SampleWebConfig, generate  # noqa: E402
from pipeline.schema import Record  # noqa: E402
from pipeline.shards import write_shard  # noqa: E402
from pipeline.text import TextConfig, filter_record  # noqa: E402

PHOTOS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "imagenet-samples")


def _rss_mb() -> float:
    """Current resident set size of this process (MB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def _per_cpu_second(fn: Callable[[], int], min_seconds: float = 1.0) -> float:
    """Items per CPU-second of this process: repeat `fn` (returns items done) for `min_seconds`."""
    items, start = 0, time.process_time()
    while time.process_time() - start < min_seconds:
        items += fn()
    return items / (time.process_time() - start)


def wat_rates(web: str) -> dict[str, float]:
    """WAT parsing: candidates and compressed MB per CPU-second."""
    files = sorted(glob.glob(f"{web}/crawl/*.warc.wat.gz"))
    mb = sum(os.path.getsize(f) for f in files) / 1e6
    cands = sum(1 for f in files for _ in read_wat(f))
    rate = _per_cpu_second(lambda: sum(1 for f in files for _ in read_wat(f)))
    return {"wat_candidates_per_s": rate, "wat_mb_per_s": rate * mb / cands}


def text_rate(records: list[Record]) -> float:
    """Caption and URL filters: candidates per CPU-second."""
    cfg = TextConfig()
    return _per_cpu_second(lambda: sum(1 for r in records if filter_record(r, cfg)[1] or True))


def match_rates(entries: int) -> dict[str, float]:
    """Aho-Corasick matching against `entries` queries: captions/s, build s, RSS growth."""
    from bench.queries import make_captions, make_entries
    from queries.matcher import QueryMatcher

    words = make_entries(entries)
    captions = make_captions(20000, words)
    before, start = _rss_mb(), time.process_time()
    matcher = QueryMatcher(words)
    build = time.process_time() - start
    rate = _per_cpu_second(lambda: sum(1 for c in captions if matcher.match(c) or True))
    return {
        "match_captions_per_s": rate,
        "match_build_s": build,
        "match_rss_mb": _rss_mb() - before,
    }


def language_rate(records: list[Record]) -> float:
    """Language identification (the pipeline's default backend): captions per CPU-second."""
    try:
        from pipeline.langid import make_detector

        detect = make_detector()
    except Exception:  # backend missing: the langdetect fallback of older trees
        from langdetect import detect_langs

        def detect(text: str) -> object:
            return detect_langs(text)

    captions = [r.caption for r in records if r.caption]
    return _per_cpu_second(lambda: sum(1 for c in captions if detect(c) or True))


def _serve(folder: str) -> tuple[subprocess.Popen, int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", folder]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return proc, port


def download_rates(n: int, threads: int = 16) -> dict[str, float]:
    """Fetch + validate + resize real photos from a local server: images per CPU-second and wall."""
    names = sorted(os.listdir(PHOTOS))
    names = [x for x in names if x.lower().endswith((".jpeg", ".jpg"))][:n]
    proc, port = _serve(PHOTOS)
    try:
        fetcher = Fetcher(
            FetchConfig(allowed_networks=("127.0.0.0/8",), pool_size=threads, per_host_rate=0)
        )
        urls = [f"http://127.0.0.1:{port}/{x}" for x in names]
        cfg = ImageConfig()
        with ThreadPoolExecutor(threads) as pool:
            t0, c0 = time.perf_counter(), time.process_time()
            out = list(pool.map(lambda u: download_record(Record(u, "x"), fetcher, cfg), urls))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        proc.terminate()
        proc.wait(10)
    kept = [r for r in out if not r.rejected]
    in_mb = sum(os.path.getsize(os.path.join(PHOTOS, x)) for x in names) / 1e6
    return {
        "download_images_per_cpu_s": len(kept) / cpu,
        "download_images_per_wall_s": len(kept) / wall,
        "download_kept_fraction": len(kept) / len(names),
        "download_in_kb": 1000 * in_mb / len(names),
        "sample_kb": sum(len(r.image or b"") for r in kept) / max(1, len(kept)) / 1000,
        "_samples": kept,  # type: ignore[dict-item]
    }


def shard_rate(samples: list[Record]) -> float:
    """Shard writing (tar + parquet + sidecar, local disk): output MB per CPU-second."""
    records = sorted((s for s in samples * 4), key=lambda r: r.key)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.process_time()
        stats, _ = write_shard(tmp, 0, records)
        cpu = time.process_time() - start
    return (stats["bytes"] + stats["parquet_bytes"]) / 1e6 / cpu


def embed_rate(samples: list[Record]) -> float:
    """Dedup's default descriptor (decode 256-px JPEG + describe): images per CPU-second."""
    from dedup.descriptor import decode
    from dedup.embed import ClassicalEmbedder

    emb = ClassicalEmbedder()
    data = [s.image for s in samples[:200]]
    return _per_cpu_second(lambda: len(emb.embed([decode(d, 128) for d in data])), 2.0)


def measure(entries: int, images: int) -> dict[str, float]:
    """Every rate, with the sizes they were measured at."""
    with tempfile.TemporaryDirectory() as tmp:
        web = generate(tmp, SampleWebConfig(seed=0))
        rates = wat_rates(web)
        records = [r for f in sorted(glob.glob(f"{web}/crawl/*.wat.gz")) for r in read_wat(f)]
    rates["text_candidates_per_s"] = text_rate(records)
    rates["language_captions_per_s"] = language_rate(records)
    rates.update(download_rates(images))
    samples = rates.pop("_samples")  # type: ignore[assignment]
    rates["shard_mb_per_s"] = shard_rate(samples)  # type: ignore[arg-type]
    rates["embed_images_per_s"] = embed_rate(samples)  # type: ignore[arg-type]
    rates.update(match_rates(entries))
    rates["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return rates


def main() -> None:
    """Measure, print the rates and the cost model."""
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=500_000, help="Query entries of the automaton.")
    ap.add_argument(
        "--images", type=int, default=600, help="Photos downloaded from the local server."
    )
    ap.add_argument("--json", help="Also write the rates to this JSON file.")
    ap.add_argument("--job_pages", type=int, default=2000, help="Pages of the end-to-end WAT.")
    ap.add_argument("--job_only", action="store_true", help="Measure only the end-to-end job.")
    args = ap.parse_args()
    rates = job_rates(args.job_pages)  # bench/jobcost.py
    if not args.job_only:
        rates.update(measure(args.entries, args.images))
    print("| measured on this machine (per core) | value |\n|---|---:|")
    for name, value in rates.items():
        print(f"| {name} | {value:,.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rates, f, indent=1)
    print()
    print_model(rates)


if __name__ == "__main__":
    main()
