"""The S3 writer's bound on parts in flight, seen from the store's side of the wire.

A slow proxy in front of the moto server counts part uploads in progress and completed. The
writer must never upload more than `max_concurrency` parts at once (boto3's TransferConfig), and
never run ahead of the store by more than `max_concurrency + 2` parts (that is what bounds its memory).
"""

from __future__ import annotations

import http.client
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import boto3
import pytest

from pipeline import s3, storage

MiB = 1 << 20
PART = 5 * MiB  # S3's smallest part


class _CountingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, delay: float) -> None:
        self.upstream, self.delay, self.lock = upstream, delay, threading.Lock()
        self.active = self.peak = self.done = 0
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _handle(self) -> None:
        proxy: _CountingProxy = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        part = self.command == "PUT" and "partNumber=" in self.path
        if part:
            with proxy.lock:
                proxy.active += 1
                proxy.peak = max(proxy.peak, proxy.active)
            time.sleep(proxy.delay)  # a slow store: parts pile up unless the writer waits
        status, headers, data = self._forward(proxy.upstream, body)
        if part:
            with proxy.lock:
                proxy.active -= 1
                proxy.done += status == 200
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data if self.command != "HEAD" else b"")

    def _forward(self, upstream: str, body: bytes) -> tuple[int, list, bytes]:
        conn = http.client.HTTPConnection(urlsplit(upstream).netloc, timeout=60)
        conn.request(self.command, self.path, body=body, headers=dict(self.headers))
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


@pytest.fixture
def proxy(s3_env):
    server = _CountingProxy(s3_env, delay=0.4)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("in_flight", [1, 2])
def test_parts_in_flight_are_bounded(proxy, in_flight):
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    s3.configure(endpoint_url=f"http://127.0.0.1:{proxy.server_port}")
    s3.configure(part_size=PART, max_concurrency=in_flight)
    parts = [os.urandom(PART) for _ in range(5)]
    ahead = []
    with storage.atomic_write(f"s3://{bucket}/big.tar") as f:
        for written, part in enumerate(parts, 1):
            f.write(part)
            with proxy.lock:
                ahead.append(written - proxy.done)
    assert storage.read_bytes(f"s3://{bucket}/big.tar") == b"".join(parts)
    assert proxy.done == 5
    assert proxy.peak <= in_flight, proxy.peak  # never more parts uploading than configured
    # The writer waits for the store: one part buffered, one in the pipe, `in_flight` uploading.
    assert max(ahead) <= in_flight + 2, ahead
    if in_flight > 1:
        assert proxy.peak > 1  # and the parts do go up concurrently
