"""A store that loses objects mid-run: Finalize fails with no manifest, `--resume` repairs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import boto3
import pytest

from tests.conftest import ROOT
from tests.pipeline.test_s3 import _FlakyProxy, _ProxyHandler, bucket  # noqa: F401

LOST = "/build/shards/00001.tar"


class _LosingHandler(_ProxyHandler):
    """Answers 200 to the PUT of one shard and stores nothing, as a store that lost it would."""

    def _lose_or_forward(self) -> None:
        if not (self.command == "PUT" and self.path.split("?")[0].endswith(LOST)):
            return self._handle()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("ETag", '"d41d8cd98f00b204e9800998ecf8427e"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _lose_or_forward


def _build(small_web, web_server, out, *extra, endpoint):
    args = [sys.executable, "beam_runner.py", f"--input={small_web}/crawl/*.wat.gz",
            f"--queries={small_web}/queries.txt", f"--output={out}", "--samples_per_shard=64",
            "--allowed_networks=127.0.0.0/8", f"--resolve={web_server.resolve_spec()}", *extra]  # fmt: skip
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_lost_shard_fails_finalize_and_resume_repairs(bucket, s3_env, small_web, web_server):  # noqa: F811
    proxy = _FlakyProxy(s3_env, failures=0)
    proxy.RequestHandlerClass = _LosingHandler
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    out, client = f"s3://{bucket}/build", boto3.client("s3")
    try:
        lost = _build(small_web, web_server, out, endpoint=f"http://127.0.0.1:{proxy.server_port}")
    finally:
        proxy.shutdown()
        proxy.server_close()
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert lost.returncode != 0 and "build/manifest.json" not in keys
    assert "00001.tar: missing" in lost.stderr and "build/shards/00000.tar" in keys

    repaired = _build(small_web, web_server, out, "--resume", endpoint=s3_env)
    assert repaired.returncode == 0, repaired.stderr[-3000:]
    manifest = json.loads(
        client.get_object(Bucket=bucket, Key="build/manifest.json")["Body"].read()
    )
    listed = {f"build/shards/{s['shard']}" for s in manifest["shards"]}
    listed |= {f"build/rejects/{r['file']}" for r in manifest["rejects"]}
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert "build/shards/00001.tar" in listed and listed <= keys
    assert all("sha256" in r for r in manifest["rejects"] + manifest["tables"])
