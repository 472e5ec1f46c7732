"""`--downloader img2dataset`: the address policy before img2dataset connects, reasons, a build."""

import glob
import io
import json
import subprocess
import sys
import threading
import types
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipeline.fetch import FetchConfig
from pipeline.i2d import i2d_reason, install_policy
from pipeline.safety import SafetyConfig
from pipeline.schema import Reason
from pipeline.usage import UsageError
from tests.conftest import ROOT


class _Redirect(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.hits.append(self.path)
        self.send_response(302)
        self.send_header("Location", f"http://127.0.0.2:{self.server.server_port}/inner")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirecting_server():
    server = ThreadingHTTPServer(("0.0.0.0", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Redirect.hits = []
    yield server.server_port
    server.shutdown()
    urllib.request.install_opener(None)  # type: ignore[arg-type]


def _get(url: str) -> str:
    try:
        urllib.request.urlopen(url, timeout=5).read()
    except urllib.error.URLError as err:
        return str(err)
    return "fetched"


def test_policy_is_enforced_before_urllib_connects(redirecting_server):
    port = redirecting_server
    install_policy(FetchConfig())  # no --allowed_networks: loopback is refused
    assert "blocked_address" in _get(f"http://127.0.0.1:{port}/a")
    assert _Redirect.hits == []  # refused before any connection was made
    install_policy(FetchConfig(allowed_networks=("127.0.0.1/32",)))
    error = _get(f"http://127.0.0.1:{port}/b")
    assert "blocked_address" in error and "127.0.0.2" in error  # the redirect is checked too
    assert _Redirect.hits == ["/b"]


def test_img2dataset_errors_get_our_reasons():
    assert i2d_reason("HTTP Error 404: Not Found") == "http_404"
    assert i2d_reason("HTTP Error 503: Service Unavailable") == "http_5xx"
    assert i2d_reason("<urlopen error blocked_address: a.test -> 10.0.0.1>") == "blocked_address"
    assert i2d_reason("Use of image disallowed by X-Robots-Tag directive") == "opted_out"
    assert i2d_reason("<urlopen error timed out>") == "read_timeout"
    assert i2d_reason("too_large: over 10 bytes") == "too_large"
    assert i2d_reason("something else") == "connection_error"


def test_beam_runner_with_img2dataset_builds_the_sample_web(web_server, small_web, tmp_path):
    pytest.importorskip("img2dataset")
    out = tmp_path / "out"
    cmd = [sys.executable, "beam_runner.py", f"--input={small_web}/crawl/*.wat.gz",
           f"--queries={small_web}/queries.txt", f"--output={out}", "--samples_per_shard=50",
           "--allowed_networks=127.0.0.0/8", f"--resolve={web_server.resolve_spec()}",
           "--downloader=img2dataset", "--max_per_query=1000", "--unsafe_policy=off",
           "--detect_faces=false", "--blur_faces=false"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.load(open(out / "summary.json"))
    rejects = pq.read_table(glob.glob(f"{out}/rejects/*.parquet")).to_pylist()
    assert summary["kept"] > 50 and summary["input"] == summary["kept"] + len(rejects)
    download = {r["reason"] for r in rejects if r["stage"] in ("download", "image")}
    known = {v for k, v in vars(Reason).items() if k.isupper()}
    assert download and all(x in known or x.startswith("http_") for x in download), download
    import webdataset as wds

    for tar in sorted(glob.glob(f"{out}/shards/*.tar")):
        for sample in wds.WebDataset(tar, shardshuffle=False):
            img, meta = Image.open(io.BytesIO(sample["jpg"])), json.loads(sample["json"])
            assert min(img.size) <= 256 and meta["width"] == img.size[0]  # keep_ratio
            assert len(meta["sha256"]) == 64 and meta["caption"] == sample["txt"].decode()


def test_downloader_img2dataset_fails_loud_when_missing(monkeypatch):
    from pipeline import options

    monkeypatch.setitem(sys.modules, "img2dataset", None)  # as if not installed
    with pytest.raises(UsageError, match="img2dataset is not installed"):
        options._backend("img2dataset", SafetyConfig())


def test_downloader_img2dataset_refuses_the_image_checks(monkeypatch):
    """img2dataset stores its own images: the safety checks cannot run, so they must be off."""
    from pipeline import options

    monkeypatch.setitem(sys.modules, "img2dataset", types.ModuleType("img2dataset"))
    with pytest.raises(UsageError, match="image checks cannot run"):
        options._backend("img2dataset", SafetyConfig())
    off = SafetyConfig(unsafe_policy="off", detect_faces=False, blur_faces=False)
    assert options._backend("img2dataset", off) == "img2dataset"
