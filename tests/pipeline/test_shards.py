import io
import json
import tarfile

import apache_beam as beam
import pyarrow.parquet as pq
import webdataset as wds
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.schema import Record
from pipeline.shards import (
    BUCKET_CHARS,
    WriteShards,
    assign_shards,
    parquet_bytes,
    shard_of,
    shard_starts,
    tar_bytes,
)


def _records(n):
    return [
        Record(
            url=f"http://a.example/{i}.jpg",
            caption=f"caption {i} <b>&",
            image=b"\xff\xd8jpeg%d" % i,
            width=10,
            height=10,
            query_ids=(i % 3,),
            queries=(f"q{i % 3}",),
        )
        for i in range(n)
    ]


def test_tar_is_deterministic_and_webdataset_readable(tmp_path):
    records = sorted(_records(5), key=lambda r: r.key)
    data = tar_bytes(records)
    assert data == tar_bytes(records)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        infos = tar.getmembers()
        assert {i.mtime for i in infos} == {0} and {i.uname for i in infos} == {""}
        assert [i.name for i in infos[:3]] == [
            f"{records[0].key}.{ext}" for ext in ("jpg", "txt", "json")
        ]
    (tmp_path / "s.tar").write_bytes(data)
    samples = list(wds.WebDataset(str(tmp_path / "s.tar"), shardshuffle=False))
    assert [s["__key__"] for s in samples] == [r.key for r in records]
    assert json.loads(samples[0]["json"])["caption"] == records[0].caption


def test_parquet_has_img2dataset_columns():
    table = pq.read_table(io.BytesIO(parquet_bytes(_records(3))))
    for col in (
        "url",
        "caption",
        "key",
        "status",
        "error_message",
        "width",
        "height",
        "original_width",
        "original_height",
        "sha256",
        "query_ids",
        "language",
        "page_url",
    ):
        assert col in table.column_names
    assert table.column("status").to_pylist() == ["success"] * 3


def test_assign_shards_equals_global_sort():
    keys = [r.key for r in _records(200)]
    buckets = {}
    for k in keys:
        buckets.setdefault(k[:BUCKET_CHARS], []).append(k)
    sizes = {b: len(v) for b, v in buckets.items()}
    assigned = dict(kv for b, ks in buckets.items() for kv in assign_shards(b, ks, sizes, 64))
    expected = {k: i // 64 for i, k in enumerate(sorted(keys))}
    assert assigned == expected
    starts = sorted(s for b, ks in buckets.items() for s in shard_starts(b, ks, sizes, 64))
    assert len(starts) == 4 and {k: shard_of(k, starts) for k in keys} == expected


def test_write_shards_transform(tmp_path):
    records = _records(70)
    with BeamTestPipeline() as p:
        stats = p | beam.Create(records) | WriteShards(str(tmp_path), 32)
        assert_that(
            stats | beam.Map(lambda s: (s["shard"], s["count"])),
            equal_to([("00000.tar", 32), ("00001.tar", 32), ("00002.tar", 6)]),
        )
    keys = []
    for name in ("00000", "00001", "00002"):
        keys += [
            s["__key__"] for s in wds.WebDataset(str(tmp_path / f"{name}.tar"), shardshuffle=False)
        ]
    assert keys == sorted(r.key for r in records)


def test_sidecar_marks_commit_and_resume_skips_only_verified_shards(tmp_path):
    from pipeline.shards import is_committed, stats_name, write_shard

    records = sorted(_records(6), key=lambda r: r.key)
    stats, written = write_shard(str(tmp_path), 0, records)
    assert written and json.loads((tmp_path / stats_name(0)).read_text()) == stats
    assert stats["bytes"] == len(tar_bytes(records)) and stats["count"] == 6
    assert is_committed(str(tmp_path), 0, stats)
    assert write_shard(str(tmp_path), 0, records, resume=True) == (stats, False)
    tar = tmp_path / "00000.tar"
    tar.write_bytes(tar.read_bytes()[:-1] + b"x")  # same size, different bytes
    assert not is_committed(str(tmp_path), 0, stats)
    assert write_shard(str(tmp_path), 0, records, resume=True) == (stats, True)
    assert tar.read_bytes() == tar_bytes(records)
    assert write_shard(str(tmp_path), 0, records[:5], resume=True)[1]  # other content: rewritten
