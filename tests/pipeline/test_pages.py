"""Page lists: pages fetched live from the sample web, robots.txt honoured."""

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq

from pipeline.fetch import FetchConfig, Fetcher
from pipeline.netpolicy import parse_resolve
from pipeline.pages import RobotsCache, read_page
from tests.conftest import ROOT


def _fetcher(server):
    return Fetcher(
        FetchConfig(allowed_networks=("127.0.0.0/8",), resolve=parse_resolve(server.resolve_spec()))
    )


def test_read_page_and_robots(web_server, small_web):
    fetcher = _fetcher(web_server)
    robots = RobotsCache(fetcher)
    records = list(read_page("http://www.sample.test/pages/0000.html", fetcher, robots))
    assert len(records) >= 10 and all(not r.rejected for r in records)
    assert all(r.url.startswith(("http://", "data:")) for r in records)
    private = list(read_page("http://www.sample.test/private/0000.html", fetcher, robots))
    assert [r.reason for r in private] == ["robots_disallowed"]
    assert [
        r.reason for r in read_page("http://www.sample.test/pages/missing.html", fetcher, robots)
    ] == ["page_http_404"]
    image = sorted(os.listdir(f"{small_web}/web/www.sample.test/img"))[0]
    not_html = read_page(f"http://www.sample.test/img/{image}", fetcher, robots)
    assert [r.reason for r in not_html] == ["page_not_html"]


def test_beam_runner_with_page_list(web_server, small_web, tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "beam_runner.py", f"--input={small_web}/pages.txt", "--input_format=pages",
            f"--queries={small_web}/queries.txt", f"--output={out}", "--allowed_networks=127.0.0.0/8",
            f"--resolve={web_server.resolve_spec()}", "--max_per_query=1000", "--samples_per_shard=100"]  # fmt: skip
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.load(open(out / "summary.json"))
    assert summary["balanced"] and summary["kept"] > 100
    assert summary["drops"]["read"]["robots_disallowed"] == 1
    assert summary["drops"]["read"]["page_http_404"] == 1
    rejects = pq.read_table(str(out / "rejects")).to_pylist()
    assert {r["url"] for r in rejects if r["reason"] == "robots_disallowed"} == {
        "http://www.sample.test/private/0000.html"
    }
