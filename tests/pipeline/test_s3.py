"""S3 behaviour against a real moto server process: multipart, exactly-once, retries, streaming."""

from __future__ import annotations

import http.client
import logging
import os
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import boto3
import pytest

from pipeline import s3, storage
from pipeline.schema import Record
from pipeline.shards import parquet_bytes, stats_name, tar_bytes, write_shard

MiB = 1 << 20


@pytest.fixture
def bucket(s3_env):
    name = f"t-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def _keys(bucket: str) -> list[str]:
    return sorted(s3.list_keys(bucket, ""))


def _uploads(bucket: str) -> list[dict]:
    return boto3.client("s3").list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_large_object_goes_up_in_parts_with_bounded_memory(bucket):
    s3.configure(part_size=5 * MiB)
    data = os.urandom(12 * MiB + 123)
    with storage.atomic_write(f"s3://{bucket}/big.tar") as f:
        for i in range(0, len(data), MiB):
            f.write(data[i : i + MiB])
            assert len(f._buf) < 5 * MiB  # never more than one part in memory
    assert storage.read_bytes(f"s3://{bucket}/big.tar") == data
    etag = boto3.client("s3").head_object(Bucket=bucket, Key="big.tar")["ETag"]
    assert etag.strip('"').endswith("-3") and not _uploads(bucket)


def test_failed_multipart_write_is_aborted_and_invisible(bucket):
    s3.configure(part_size=5 * MiB)
    with pytest.raises(RuntimeError), storage.atomic_write(f"s3://{bucket}/x.tar") as f:
        f.write(os.urandom(7 * MiB))
        raise RuntimeError("writer died")
    assert _keys(bucket) == [] and _uploads(bucket) == []


def _records(n: int, size: int) -> list[Record]:
    rng = [
        Record(url=f"http://a.test/{i}.jpg", caption=f"c{i}", image=os.urandom(size))
        for i in range(n)
    ]
    return sorted(rng, key=lambda r: r.key)


class _Dies(Record):
    """A record whose tar members cannot be produced: the worker dies mid-shard."""

    def webdataset_members(self):  # type: ignore[override]
        raise RuntimeError("worker lost mid-shard")


def test_retried_bundle_leaves_one_correct_shard(bucket):
    s3.configure(part_size=5 * MiB)
    good = _records(8, MiB)
    dying = good[:7] + [_Dies(url=good[7].url, caption=good[7].caption, image=good[7].image)]
    shards = f"s3://{bucket}/out/shards"
    with pytest.raises(RuntimeError):
        write_shard(shards, 0, dying)  # 7 MiB in: one part uploaded, then the worker dies
    assert not storage.exists(f"{shards}/00000.tar") and _uploads(bucket) == []
    stats, written = write_shard(shards, 0, good)  # Beam retries the bundle
    assert written and _uploads(bucket) == []
    assert _keys(bucket) == [
        f"out/shards/{n}" for n in ("00000.parquet", "00000.tar", stats_name(0))
    ]
    assert storage.read_bytes(f"{shards}/00000.tar") == tar_bytes(good)
    assert storage.read_bytes(f"{shards}/00000.parquet") == parquet_bytes(good)
    assert write_shard(shards, 0, good, resume=True) == (stats, False)


def test_killed_writer_upload_is_cleaned_up(bucket):
    s3.configure(part_size=5 * MiB)
    writer = s3.S3Writer(bucket, "out/shards/00003.tar")
    writer.write(os.urandom(6 * MiB))  # a part is up; the process is killed before commit
    assert len(_uploads(bucket)) == 1 and _keys(bucket) == []
    assert storage.remove_partial(f"s3://{bucket}/out/shards") == 1
    assert _uploads(bucket) == [] and _keys(bucket) == []


class _FlakyProxy(ThreadingHTTPServer):
    """An HTTP proxy in front of the S3 server that answers 503 SlowDown to the first N requests."""

    def __init__(self, upstream: str, failures: int) -> None:
        self.upstream, self.failures, self.refused, self.lock = (
            upstream,
            failures,
            0,
            threading.Lock(),
        )
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _handle(self) -> None:
        server: _FlakyProxy = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with server.lock:
            refuse = server.refused < server.failures
            server.refused += refuse
        if refuse:
            msg = (
                b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
            )
            self.send_response(503)
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        up = http.client.HTTPConnection(urlsplit(server.upstream).netloc, timeout=30)
        up.request(self.command, self.path, body=body, headers=dict(self.headers))
        resp = up.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in (
                "content-length",
                "transfer-encoding",
                "connection",
                "server",
                "date",
            ):
                self.send_header(k, v)
        # A HEAD answer has no body but the object's length (head_object reads it from there).
        length = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        self.wfile.write(data if self.command != "HEAD" else b"")

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


def test_slowdown_and_503_are_retried_through(bucket, s3_env, caplog):
    proxy = _FlakyProxy(s3_env, failures=3)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        s3.configure(endpoint_url=f"http://127.0.0.1:{proxy.server_port}", max_attempts=2)
        s3.configure(retry_base_s=0.05, part_size=5 * MiB)
        data = os.urandom(6 * MiB)
        with caplog.at_level(logging.DEBUG):
            storage.write_bytes(f"s3://{bucket}/shards/00000.tar", data)
            assert storage.read_bytes(f"s3://{bucket}/shards/00000.tar") == data
        assert proxy.refused == 3
        assert "testing-secret-never-logged" not in caplog.text
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_credentials_never_in_errors_or_logs(s3_env, caplog):
    with caplog.at_level(logging.DEBUG, logger="pipeline"), pytest.raises(Exception) as err:
        storage.write_bytes("s3://no-such-bucket-here/x", b"x")
    assert "testing-secret-never-logged" not in caplog.text + str(err.value)


def test_build_writes_to_s3_and_shards_stream_back(bucket, small_web, web_server):
    import io
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq
    import webdataset as wds

    from pipeline.build import run

    out = f"s3://{bucket}/build"
    summary = run(
        [
            f"--input={small_web}/crawl/*.wat.gz",
            f"--queries={small_web}/queries.txt",
            f"--output={out}",
            "--samples_per_shard=64",
            "--allowed_networks=127.0.0.0/8",
            f"--resolve={web_server.resolve_spec()}",
        ]
    )
    assert summary["balanced"] and summary["kept"] > 100
    sizes = json.loads(storage.read_bytes(f"{out}/shards/sizes.json"))
    manifest = json.loads(storage.read_bytes(f"{out}/manifest.json"))
    assert [s["shard"] for s in manifest["shards"]] == sorted(sizes) and not _uploads(bucket)
    assert b"<img" in storage.read_bytes(f"{out}/report.html")

    storage.register_webdataset_s3()  # webdataset opens s3:// through our storage layer
    urls = [f"{out}/shards/{name}" for name in sorted(sizes)]
    samples = list(wds.WebDataset(urls, shardshuffle=False))
    assert len(samples) == sum(sizes.values()) == summary["kept"]
    assert all({"jpg", "txt", "json"} <= set(s) for s in samples)  # what OpenCLIP reads
    piped = list(
        wds.WebDataset(f"pipe:{sys.executable} -m pipeline.s3 {urls[0]}", shardshuffle=False)
    )
    assert [s["__key__"] for s in piped] == [s["__key__"] for s in samples[: sizes["00000.tar"]]]

    table = pq.read_table(io.BytesIO(storage.read_bytes(f"{out}/shards/00000.parquet")))
    types = {f.name: f.type for f in table.schema}
    for col in ("url", "caption", "key", "status", "error_message", "sha256"):
        assert types[col] == pa.string(), col
    for col in ("width", "height", "original_width", "original_height"):
        assert types[col] == pa.int64(), col
    assert {"query_ids", "language", "page_url"} <= set(types)
    assert table.column("key").to_pylist() == [s["__key__"] for s in piped]
    everything = b"".join(storage.read_bytes(p) for p in storage.glob(f"{out}/**"))
    assert b"testing-secret-never-logged" not in everything and b"testing-key-id" not in everything
