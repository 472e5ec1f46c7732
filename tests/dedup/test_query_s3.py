"""`wit overlap query` on a run stored in S3 (a real moto server; no DuckDB extension needed)."""

import io

import boto3
import pyarrow as pa
import pyarrow.parquet as pq

from dedup.query import query


def _put(bucket: str, key: str, rows: list[dict]) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=buf.getvalue())


def test_overlap_query_over_s3(s3_env):
    boto3.client("s3").create_bucket(Bucket="audit")
    _put("audit", "run/summary.parquet", [{"eval_set": "web", "overlap_pct": 30.0}])
    _put("audit", "run/exclusion/exclusion.parquet", [{"key": "a"}, {"key": "b"}])
    assert query("s3://audit/run", "SELECT eval_set, overlap_pct FROM summary") == (
        ["eval_set", "overlap_pct"],
        [("web", 30.0)],
    )
    assert query("s3://audit/run", "SELECT count(*) AS n FROM exclusion")[1] == [(2,)]
