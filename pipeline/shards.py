"""Write WebDataset shards: deterministic membership, order and bytes; atomic commit.

Shard membership is a pure function of the set of keys: all samples sorted by key, cut into
shards of `samples_per_shard`. At scale this is computed without a global sort: keys are
bucketed by their first hex digits, bucket sizes are summed into offsets (a side input), and each
key's global rank is its bucket offset plus its rank within the bucket.

Each shard is `shards/NNNNN.tar` (`KEY.jpg`, `KEY.txt`, `KEY.json`, tar headers with fixed
mtime/owner so reruns are byte-identical) and `shards/NNNNN.parquet` (one row per sample,
img2dataset's columns plus ours).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterable, Iterator, Sequence

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import storage
from pipeline.schema import Record

__all__ = [
    "tar_bytes",
    "parquet_bytes",
    "shard_name",
    "assign_shards",
    "WriteShards",
    "BUCKET_CHARS",
]

BUCKET_CHARS = 3  # 4096 key buckets
_PARQUET_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("url", pa.string()),
        ("caption", pa.string()),
        ("status", pa.string()),
        ("error_message", pa.string()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("original_width", pa.int64()),
        ("original_height", pa.int64()),
        ("sha256", pa.string()),
        ("mime", pa.string()),
        ("page_url", pa.string()),
        ("source", pa.string()),
        ("query_ids", pa.list_(pa.int64())),
        ("queries", pa.list_(pa.string())),
        ("language", pa.string()),
        ("language_score", pa.float64()),
    ]
)


def shard_name(index: int) -> str:
    """The base name of shard `index` (`00012`)."""
    return f"{index:05d}"


def tar_bytes(records: Sequence[Record]) -> bytes:
    """A deterministic WebDataset tar of `records` (in the given order)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for record in records:
            for name, data in record.webdataset_members():
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), 0, 0o444
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def parquet_bytes(records: Sequence[Record]) -> bytes:
    """The per-shard parquet table (one row per sample)."""
    rows = [r.to_sample_json() for r in records]
    table = pa.Table.from_pylist(rows, schema=_PARQUET_SCHEMA)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def assign_shards(
    bucket: str, keys: Iterable[str], bucket_sizes: dict[str, int], samples_per_shard: int
) -> Iterator[tuple[str, int]]:
    """(key, shard index) for the keys of one bucket, given every bucket's size."""
    offset = sum(size for b, size in bucket_sizes.items() if b < bucket)
    for rank, key in enumerate(sorted(keys), start=offset):
        yield key, rank // samples_per_shard


def _bucket_of(key: str) -> tuple[str, str]:
    return key[:BUCKET_CHARS], key


def _bucket_size(item: tuple[str, Iterable[str]]) -> tuple[str, int]:
    return item[0], sum(1 for _ in item[1])


def _assign(
    item: tuple[str, Iterable[str]], sizes: dict[str, int], n: int
) -> Iterator[tuple[str, int]]:
    return assign_shards(item[0], item[1], sizes, n)


def _to_shard(item: tuple[str, dict[str, list]]) -> Iterator[tuple[int, Record]]:
    for shard in item[1]["shard"]:
        for record in item[1]["record"]:
            yield shard, record


class _WriteShardFn(beam.DoFn):
    def __init__(self, shards_dir: str) -> None:
        self.shards_dir = shards_dir

    def process(self, item: tuple[int, Iterable[Record]]) -> Iterator[dict]:
        index, records = item[0], sorted(item[1], key=lambda r: r.key)
        name = shard_name(index)
        tar = tar_bytes(records)
        storage.write_bytes(
            storage.join(self.shards_dir, f"{name}.parquet"), parquet_bytes(records)
        )
        storage.write_bytes(storage.join(self.shards_dir, f"{name}.tar"), tar)
        yield {
            "shard": f"{name}.tar",
            "parquet": f"{name}.parquet",
            "count": len(records),
            "bytes": len(tar),
            "sha256": hashlib.sha256(tar).hexdigest(),
        }


def _key(record: Record) -> str:
    return record.key


def _keyed(record: Record) -> tuple[str, Record]:
    return record.key, record


class WriteShards(beam.PTransform):
    """Write samples into `OUTPUT/shards/`; outputs one stats dict per committed shard."""

    def __init__(self, shards_dir: str, samples_per_shard: int) -> None:
        super().__init__()
        self.shards_dir, self.samples_per_shard = shards_dir, samples_per_shard

    def expand(self, samples: beam.PCollection) -> beam.PCollection:
        buckets = (
            samples
            | "Keys" >> beam.Map(_key)
            | "KeyBuckets" >> beam.Map(_bucket_of)
            | "GroupBuckets" >> beam.GroupByKey()
        )
        sizes = buckets | "BucketSizes" >> beam.Map(_bucket_size)
        positions = buckets | "RankKeys" >> beam.FlatMap(
            _assign, beam.pvalue.AsDict(sizes), self.samples_per_shard
        )
        joined = {"shard": positions, "record": samples | "KeySamples" >> beam.Map(_keyed)}
        return (
            joined
            | "JoinShardIndex" >> beam.CoGroupByKey()
            | "ToShard" >> beam.FlatMap(_to_shard)
            | "GroupShards" >> beam.GroupByKey()
            | "WriteTarAndParquet" >> beam.ParDo(_WriteShardFn(self.shards_dir))
        )
