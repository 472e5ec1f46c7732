"""S3-compatible stores that implement less than S3: optional operations never fail a build.

A proxy in front of the moto server answers 501 NotImplemented to ListMultipartUploads and 405
to AbortMultipartUpload, as several self-hosted S3-compatible stores do.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading

import boto3
import pytest

from pipeline import s3
from tests.conftest import ROOT
from tests.pipeline.test_s3 import _FlakyProxy, _ProxyHandler, _uploads, bucket  # noqa: F401


class _RefusingHandler(_ProxyHandler):
    def _refusal(self) -> tuple[int, bytes] | None:
        query = self.path.partition("?")[2]
        lists = self.server.refuse_list  # type: ignore[attr-defined]
        if self.command == "GET" and "uploads" in query.split("&") and lists:
            return 501, b"<Error><Code>NotImplemented</Code><Message>no</Message></Error>"
        if self.command == "DELETE" and "uploadId=" in query:
            return 405, b"<Error><Code>MethodNotAllowed</Code><Message>no</Message></Error>"
        return None

    def _refuse_or_forward(self) -> None:
        refusal = self._refusal()
        if refusal is None:
            return self._handle()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(refusal[0])
        self.send_header("Content-Length", str(len(refusal[1])))
        self.end_headers()
        self.wfile.write(refusal[1])

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _refuse_or_forward


@pytest.fixture
def lesser_store(s3_env):
    """The endpoint URL of a store without ListMultipartUploads / AbortMultipartUpload."""
    proxy = _FlakyProxy(s3_env, failures=0)
    proxy.RequestHandlerClass = _RefusingHandler
    proxy.refuse_list = True  # type: ignore[attr-defined]
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def _plant_upload(name: str, key: str) -> None:
    boto3.client("s3").create_multipart_upload(Bucket=name, Key=key)  # straight to moto


def test_abort_uploads_is_best_effort(bucket, lesser_store, caplog):  # noqa: F811
    _plant_upload(bucket, "out/shards/00000.tar")
    s3.configure(endpoint_url=f"http://127.0.0.1:{lesser_store.server_port}", retry_base_s=0.01)
    with caplog.at_level(logging.WARNING):
        assert s3.abort_uploads(bucket, "out/shards/") == 0  # listing refused: 501
        lesser_store.refuse_list = False
        assert s3.abort_uploads(bucket, "out/shards/") == 0  # listed; aborting refused: 405
    assert "cannot list multipart uploads" in caplog.text
    assert "cannot abort upload" in caplog.text
    assert len(_uploads(bucket)) == 1  # left in place, said so


@pytest.mark.slow
def test_build_on_a_store_without_optional_operations(
    bucket,  # noqa: F811
    lesser_store,
    small_web,
    web_server,
    monkeypatch,
):
    _plant_upload(bucket, "build/shards/00009.tar")  # what a killed writer leaves
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{lesser_store.server_port}")
    out = f"s3://{bucket}/build"
    args = [sys.executable, "beam_runner.py", f"--input={small_web}/crawl/*.wat.gz",
            f"--queries={small_web}/queries.txt", f"--output={out}", "--samples_per_shard=64",
            "--allowed_networks=127.0.0.0/8", f"--resolve={web_server.resolve_spec()}"]  # fmt: skip
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cannot list multipart uploads" in proc.stderr
    client = boto3.client("s3", endpoint_url=lesser_store.upstream)
    manifest = json.loads(
        client.get_object(Bucket=bucket, Key="build/manifest.json")["Body"].read()
    )
    assert manifest["summary"]["balanced"] and manifest["summary"]["kept"] > 100
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {"build/summary.json", "build/shards/sizes.json", "build/report.html"} <= keys
