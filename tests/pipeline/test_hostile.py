"""The hostile server suite: every behaviour ends with its expected reason, in bounded time."""

from __future__ import annotations

import glob
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.download import download_record
from pipeline.fetch import FetchConfig, Fetcher
from pipeline.hostileweb import EXPECTED, HostileServer
from pipeline.imaging import ImageConfig
from pipeline.schema import Record
from tests.conftest import ROOT

FAST = dict(
    connect_timeout=1, read_timeout=1, total_timeout=3, max_bytes=2_000_000, retries=1, backoff=0.05
)


@pytest.fixture(scope="module")
def hostile():
    with HostileServer(stall=2.0) as server:
        yield server


def test_every_behaviour_has_its_reason(hostile):
    fetcher = Fetcher(FetchConfig(allowed_networks=("127.0.0.1/32",), **FAST))
    urls = hostile.urls()
    start = time.monotonic()
    with ThreadPoolExecutor(len(urls)) as pool:
        records = pool.map(
            lambda u: download_record(Record(url=u, caption="x"), fetcher, ImageConfig()),
            urls.values(),
        )
        outcomes = {path: (r.reason or "kept") for path, r in zip(urls, records, strict=False)}
    assert outcomes == EXPECTED
    assert time.monotonic() - start < 20
    assert len(EXPECTED) >= 20


def _table(tmp_path, urls):
    rows = [{"url": u, "caption": f"a red circle number {i}"} for i, u in enumerate(urls)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "urls.parquet")
    (tmp_path / "q.txt").write_text("red circle\n")


def _runner(tmp_path, *extra):
    args = [sys.executable, "beam_runner.py", f"--input={tmp_path}/urls.parquet", "--input_format=parquet",
            f"--queries={tmp_path}/q.txt", f"--output={tmp_path}/out", "--timeout=1", "--total_timeout=3",
            "--max_image_bytes=2000000", "--retries=1", *extra]  # fmt: skip
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.load(open(tmp_path / "out" / "summary.json"))


@pytest.mark.slow
def test_pipeline_records_every_hostile_url(hostile, tmp_path):
    urls = hostile.urls()
    _table(tmp_path, urls.values())
    start = time.monotonic()
    summary = _runner(tmp_path, "--allowed_networks=127.0.0.1/32")
    assert time.monotonic() - start < 120
    assert summary["balanced"] and summary["input"] == len(urls)
    rejects = pq.read_table(glob.glob(f"{tmp_path}/out/rejects/*.parquet")).to_pylist()
    got = {r["url"]: r["reason"] for r in rejects}
    for parquet in glob.glob(f"{tmp_path}/out/shards/*.parquet"):
        got.update({url: "kept" for url in pq.read_table(parquet).column("url").to_pylist()})
    assert {path: got[url] for path, url in urls.items()} == EXPECTED


@pytest.mark.slow
def test_no_opt_in_means_no_request(tmp_path):
    with HostileServer() as server:
        _table(tmp_path, server.urls().values())
        summary = _runner(tmp_path)
        assert server.hits == {}
    assert summary["drops"]["download"] == {"blocked_address": len(EXPECTED)}
