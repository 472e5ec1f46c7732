"""The storage layer, local and over S3 (a moto server process on 127.0.0.1)."""

from __future__ import annotations

import os
import uuid

import boto3
import pytest

from pipeline import storage


def test_local_atomic_write_commits_or_leaves_nothing(tmp_path):
    path = str(tmp_path / "a" / "x.bin")
    storage.write_bytes(path, b"hello")
    assert storage.read_bytes(path) == b"hello" and storage.size(path) == 5
    with pytest.raises(RuntimeError), storage.atomic_write(path) as f:
        f.write(b"half of a new ver")
        raise RuntimeError("writer died")
    assert storage.read_bytes(path) == b"hello"
    assert os.listdir(tmp_path / "a") == ["x.bin"]


def test_local_remove_partial_deletes_temp_files_only(tmp_path):
    (tmp_path / "00000.tar").write_bytes(b"t")
    (tmp_path / ".tmp-abc").write_bytes(b"half")
    assert storage.remove_partial(str(tmp_path)) == 1
    assert os.listdir(tmp_path) == ["00000.tar"]
    assert storage.size(str(tmp_path / "missing")) is None


@pytest.fixture
def bucket(s3_env):
    name = f"t-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def test_s3_round_trip(bucket):
    base = f"s3://{bucket}/out"
    storage.write_bytes(storage.join(base, "shards", "00000.tar"), b"abc")
    storage.write_bytes(storage.join(base, "shards", "00001.tar"), b"defg")
    storage.write_bytes(storage.join(base, "manifest.json"), b"{}")
    assert storage.glob(f"{base}/shards/*.tar") == [
        f"{base}/shards/00000.tar",
        f"{base}/shards/00001.tar",
    ]
    assert storage.read_bytes(f"{base}/shards/00001.tar") == b"defg"
    assert storage.size(f"{base}/shards/00001.tar") == 4 and storage.exists(f"{base}/manifest.json")
    storage.remove(f"{base}/shards/00000.tar")
    assert not storage.exists(f"{base}/shards/00000.tar")
    assert storage.size(f"{base}/shards/00000.tar") is None
    with pytest.raises(FileNotFoundError):
        storage.read_bytes(f"{base}/nothing")


def test_s3_endpoint_option_overrides_environment(bucket, s3_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    storage.set_s3_endpoint(s3_env)
    storage.write_bytes(f"s3://{bucket}/k", b"v")
    assert storage.read_bytes(f"s3://{bucket}/k") == b"v"
