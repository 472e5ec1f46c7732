"""Shard write throughput (MB/s): our writer to local disk and to a local S3 server, vs boto3.

    python bench/shards.py [--mb 64] [--runs 5] [--part_mb 16]

Builds one shard-sized tar in memory (random bytes as images: incompressible, like JPEGs), then
times, for each target, the median of `--runs` writes of the same bytes:
  - `atomic_write`: `storage.atomic_write` streaming the bytes (local: temp + fsync + rename;
    S3: our multipart writer, one part in memory at a time),
  - `write_shard`: the whole commit (hash pass, parquet, tar, `_stats.json` sidecar),
  - baseline: local `open().write()` with no fsync / `boto3 upload_file` of the same file
    (boto3's transfer manager: 8 MiB parts, 10 threads).
Rounds alternate the three writers so that load from other processes hits all of them alike.
The S3 server is the standalone moto server, started here as its own process on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pipeline import s3, storage  # noqa: E402
from pipeline.schema import Record  # noqa: E402
from pipeline.shards import tar_bytes, write_shard  # noqa: E402


def _records(mb: int) -> list[Record]:
    n = mb * 10  # ~100 KB per image, like a 256px JPEG with room to spare
    rng = [
        Record(url=f"http://bench.test/{i}.jpg", caption=f"caption {i}", image=os.urandom(100_000))
        for i in range(n)
    ]
    return sorted(rng, key=lambda r: r.key)


def _interleaved(fns: dict[str, Callable[[int], None]], size: int, runs: int) -> dict[str, float]:
    """MB/s of each writer, median over `runs` rounds; rounds alternate the writers (less bias)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(i)
            times[name].append(time.perf_counter() - start)
    return {name: size / 1e6 / statistics.median(t) for name, t in times.items()}


def _stream(path: str, data: bytes) -> None:
    with storage.atomic_write(path) as f:
        for i in range(0, len(data), 1 << 20):
            f.write(data[i : i + (1 << 20)])


def _plain(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _start_moto() -> tuple[subprocess.Popen, str]:
    port = 47000 + os.getpid() % 1000
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start")


def _writers(base: str, records: list[Record], data: bytes) -> dict[str, Callable[[int], None]]:
    shards = storage.join(base, "shards")
    return {
        "atomic_write": lambda i: _stream(storage.join(base, "stream.tar"), data),
        "write_shard": lambda i: write_shard(shards, 0, records) and None,
    }


def main() -> int:
    """Run the benchmark and print a table."""
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=64)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--part_mb", type=int, default=16)
    args = ap.parse_args()
    records = _records(args.mb)
    data = tar_bytes(records)
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        src = os.path.join(tmp, "src.tar")
        _plain(src, data)
        local = {"baseline": lambda i: _plain(os.path.join(tmp, "plain.tar"), data)}
        local.update(_writers(tmp, records, data))
        rows["local disk"] = _interleaved(local, len(data), args.runs)
        proc, endpoint = _start_moto()
        try:
            os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
            os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
            s3.configure(endpoint_url=endpoint, part_size=args.part_mb << 20)
            bucket = f"bench-{uuid.uuid4().hex[:8]}"
            s3.client().create_bucket(Bucket=bucket)
            remote = _writers(f"s3://{bucket}/w", records, data)
            remote["baseline"] = lambda i: s3.client().upload_file(src, bucket, f"b/{i}.tar")
            rows["S3 (moto)"] = _interleaved(remote, len(data), args.runs)
        finally:
            proc.terminate()
            proc.wait(10)
    _print(rows, len(data), args)
    return 0


def _print(rows: dict[str, dict[str, float]], size: int, args: argparse.Namespace) -> None:
    print(
        f"shard of {size / 1e6:.1f} MB, median of {args.runs} runs, S3 part size {args.part_mb} MiB"
    )
    print(f"{'target':<12} {'atomic_write':>13} {'write_shard':>12} {'baseline':>9}   (MB/s)")
    for target, r in rows.items():
        print(
            f"{target:<12} {r['atomic_write']:>13.0f} {r['write_shard']:>12.0f} {r['baseline']:>9.0f}"
        )
    print("baseline: local open().write() without fsync; S3 boto3 upload_file (10 threads)")


if __name__ == "__main__":
    sys.exit(main())
