"""Rejects that scale: hash buckets sized by a combiner, one sorted file each, from every worker."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from pipeline.rejects import bucket_chunk, chunk_of, files_for, rejects_parquet
from pipeline.schema import Record, reject
from tests.conftest import ROOT


def _rejects(n: int) -> list[Record]:
    return [
        reject(Record(url=f"http://h/{i}.jpg", caption=f"c {i % 7}", source=f"f#{i}"), "s", "r")
        for i in range(n)
    ]


def test_bucket_chunk_splits_by_key_hash_and_keeps_every_row():
    chunk = chunk_of(_rejects(500))
    parts = dict(bucket_chunk(chunk, 7))
    assert sorted(parts) == list(range(7))
    assert sorted(k for part in parts.values() for k in part[0]) == sorted(chunk[0])
    for bucket, part in parts.items():
        assert {int(k[:8], 16) % 7 for k in part[0]} == {bucket}
        assert all(len(column) == len(part[0]) for column in part)


def test_file_count_grows_with_row_bytes():
    assert files_for(0, 256) == 1 and files_for(256_000_000, 256) == 1
    assert files_for(256_000_001, 256) == 2 and files_for(10**12, 256) == 3907


def test_rejects_file_is_sorted_whatever_the_arrival_order():
    records = _rejects(300)
    data = rejects_parquet(records)
    assert data == rejects_parquet(list(reversed(records)))
    rows = pq.read_table(__import__("io").BytesIO(data)).to_pylist()
    keys = [(r["stage"], r["reason"], r["key"], r["source"]) for r in rows]
    assert keys == sorted(keys) and len(rows) == 300


def _alt(i: int, j: int) -> str:
    return (f"zq{i}x yv{j}w", "", "image", f"kq{i} rr{j} tt")[(i * j) % 4]


MULTI = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def _build(web: str, extra: str, server, out: str, *more: str) -> str:
    from pipeline.demo import demo_args

    args = [a for a in demo_args(web, out, server.resolve_spec()) if not a.startswith("--input=")]
    wats = os.path.join(web, "crawl", "*.warc.wat.gz") + "," + extra
    cmd = [sys.executable, "beam_runner.py", f"--input={wats}", *args, "--progress_interval=0"]
    cmd += ["--reject_file_mb=0.3", *more]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _files(out: str) -> dict[str, bytes]:
    paths = glob.glob(f"{out}/rejects/*") + glob.glob(f"{out}/shards/*") + [f"{out}/summary.json"]
    return {os.path.relpath(p, out): open(p, "rb").read() for p in paths}


def _writers(output: str) -> set[str]:
    """The worker processes that logged writing a rejects file (workers log at INFO)."""
    return {
        ln.split("written by ")[1].split()[0] for ln in output.splitlines() if "written by" in ln
    }


@pytest.mark.slow
def test_rejects_100_to_1_written_by_every_worker_and_byte_identical(
    small_web, web_server, tmp_path
):
    from pipeline.webarchive import write_crawl

    pages = [  # ~20k candidates that no query matches (some dropped earlier, by text filters)
        (f"http://p{i}.invalid/", b"", [(f"/i/{i}-{j}.jpg", _alt(i, j)) for j in range(20)])
        for i in range(1000)
    ]  # fmt: skip
    extra = write_crawl(str(tmp_path / "extra"), pages, files=1)[0]
    _build(small_web, extra, web_server, str(tmp_path / "one"))
    multi = _build(small_web, extra, web_server, str(tmp_path / "multi"), *MULTI)
    retried = _build(
        small_web, extra, web_server, str(tmp_path / "retried"), *MULTI,
        "--fail_stages=write_rejects,filter_text", "--fail_fraction=0.5", "--fault_seed=2",
    )  # fmt: skip
    summary = json.load(open(tmp_path / "one" / "summary.json"))
    assert summary["balanced"] and summary["kept"] >= 10
    assert summary["dropped"] >= 100 * summary["kept"]
    base = _files(str(tmp_path / "one"))
    assert len([n for n in base if n.startswith("rejects/")]) >= 4
    assert len(_writers(multi)) >= 2, multi[-3000:]
    for out in ("multi", "retried"):
        got = _files(str(tmp_path / out))
        assert sorted(got) == sorted(base)
        assert [n for n in got if got[n] != base[n]] == []
    assert "faults" in retried
