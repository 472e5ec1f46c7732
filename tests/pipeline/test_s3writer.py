"""The managed-transfer writer against the moto server: part sizes, and close without commit."""

from __future__ import annotations

import os

import boto3
import pytest

from pipeline import s3
from tests.pipeline import test_s3

MiB = 1 << 20
bucket = test_s3.bucket  # the fixture: a fresh bucket on the moto server


@pytest.mark.timeout(120)
def test_a_writer_part_size_other_than_the_settings(bucket):
    s3.configure(part_size=8 * MiB)
    data = os.urandom(11 * MiB)
    with s3.S3Writer(bucket, "x.tar", part_size=5 * MiB) as w:
        w.write(data)
    store = boto3.client("s3")
    etag = store.head_object(Bucket=bucket, Key="x.tar")["ETag"]
    assert etag.strip('"').endswith("-3")  # 5 + 5 + 1 MiB: the writer's parts, not the settings'
    assert store.get_object(Bucket=bucket, Key="x.tar")["Body"].read() == data


def test_closing_without_commit_discards_the_upload(bucket):
    s3.configure(part_size=5 * MiB)
    w = s3.S3Writer(bucket, "y.tar")
    w.write(os.urandom(6 * MiB))  # a multipart upload is open now
    store = boto3.client("s3")
    assert len(store.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    w.close()  # (also what garbage collection does): nothing committed, nothing left
    assert store.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert store.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
