"""Write WebDataset shards: deterministic membership, order and bytes; atomic commit.

Shard membership is a pure function of the set of keys: all samples sorted by key, cut into
shards of `samples_per_shard`. At scale this is computed without a global sort: keys are
bucketed by their first hex digits, bucket sizes are summed into offsets (a side input), and each
key's global rank is its bucket offset plus its rank within the bucket. Only the keys of
global rank 0, n, 2n, ... (the first key of every shard) reach the records, as one sorted side
input, so each record finds its shard by bisection and the image bytes cross a single shuffle
(grouping by shard), not a join with the ranks and then a grouping.

Each shard is `shards/NNNNN.tar` (`KEY.jpg`, `KEY.txt`, `KEY.json`, tar headers with fixed
mtime/owner so reruns are byte-identical), `shards/NNNNN.parquet` (one row per sample,
img2dataset's columns plus ours) and, written last, `shards/NNNNN_stats.json` (count, bytes and
sha256 of both files), the sidecar that marks the shard committed.

Exactly once: every file is written atomically (`storage.atomic_write`), the sidecar is deleted
before and written after its shard, so a bundle retried after writing half a shard leaves one
correct shard. With `resume`, a shard whose sidecar matches the bytes this run would write, and
whose files still have that size and sha256, is not written again.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import storage
from pipeline.safetyreport import shard_safety
from pipeline.schema import Record
from pipeline.tario import write_members

__all__ = [
    "tar_bytes",
    "write_tar",
    "parquet_bytes",
    "shard_stats",
    "stats_name",
    "is_committed",
    "write_shard",
    "shard_name",
    "assign_shards",
    "shard_starts",
    "shard_of",
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
        ("exif", pa.string()),
        ("sha256", pa.string()),
        ("mime", pa.string()),
        ("page_url", pa.string()),
        ("source", pa.string()),
        ("query_ids", pa.list_(pa.int64())),
        ("queries", pa.list_(pa.string())),
        ("language", pa.string()),
        ("language_score", pa.float64()),
        ("punsafe", pa.float64()),
        ("faces", pa.list_(pa.list_(pa.int64()))),
        ("faces_blurred", pa.bool_()),
    ]
)


def shard_name(index: int) -> str:
    """The base name of shard `index` (`00012`)."""
    return f"{index:05d}"


class _Sink:
    """A write-only stream that counts and hashes what passes through to `target` (if any)."""

    def __init__(self, target: IO[bytes] | None = None) -> None:
        self.target, self.size, self.hash = target, 0, hashlib.sha256()

    def write(self, data: bytes) -> int:
        if self.target is not None:
            self.target.write(data)
        self.hash.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size


def write_tar(records: Iterable[Record], fileobj: Any) -> None:
    """Stream a deterministic WebDataset tar of `records` (in the given order) into `fileobj`."""
    write_members((m for record in records for m in record.webdataset_members()), fileobj)


def tar_bytes(records: Sequence[Record]) -> bytes:
    """A deterministic WebDataset tar of `records` (in the given order)."""
    buf = io.BytesIO()
    write_tar(records, buf)
    return buf.getvalue()


def parquet_bytes(records: Sequence[Record]) -> bytes:
    """The per-shard parquet table (one row per sample)."""
    rows = [r.to_sample_json() for r in records]
    table = pa.Table.from_pylist(rows, schema=_PARQUET_SCHEMA)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _ranked(
    bucket: str, keys: Iterable[str], bucket_sizes: dict[str, int]
) -> Iterator[tuple[int, str]]:
    """(global rank, key) for the keys of one bucket: its offset plus the rank within it."""
    offset = sum(size for b, size in bucket_sizes.items() if b < bucket)
    return enumerate(sorted(keys), start=offset)


def assign_shards(
    bucket: str, keys: Iterable[str], bucket_sizes: dict[str, int], samples_per_shard: int
) -> Iterator[tuple[str, int]]:
    """(key, shard index) for the keys of one bucket, given every bucket's size."""
    for rank, key in _ranked(bucket, keys, bucket_sizes):
        yield key, rank // samples_per_shard


def shard_starts(
    bucket: str, keys: Iterable[str], bucket_sizes: dict[str, int], samples_per_shard: int
) -> Iterator[str]:
    """The keys of one bucket that open a shard (global rank a multiple of `samples_per_shard`).

    With every bucket's starts sorted, a key's shard is `shard_of(key, starts)`: the same
    assignment as `assign_shards`, but the records need no join with their ranks.
    """
    for rank, key in _ranked(bucket, keys, bucket_sizes):
        if rank % samples_per_shard == 0:
            yield key


def shard_of(key: str, starts: Sequence[str]) -> int:
    """The index of the shard holding `key`, given the sorted first keys of all shards."""
    return bisect.bisect_right(starts, key) - 1


def _bucket_of(key: str) -> tuple[str, str]:
    return key[:BUCKET_CHARS], key


def _bucket_size(item: tuple[str, Iterable[str]]) -> tuple[str, int]:
    return item[0], sum(1 for _ in item[1])


def _starts(item: tuple[str, Iterable[str]], sizes: dict[str, int], n: int) -> Iterator[str]:
    return shard_starts(item[0], item[1], sizes, n)


def _sorted_tuple(keys: list[str]) -> tuple[str, ...]:
    return tuple(sorted(keys))


def _to_shard(record: Record, starts: Sequence[str]) -> tuple[int, Record]:
    return shard_of(record.key, starts), record


def stats_name(index: int) -> str:
    """The sidecar of shard `index` (`00012_stats.json`, as img2dataset names it)."""
    return f"{shard_name(index)}_stats.json"


def shard_stats(index: int, records: Sequence[Record], parquet: bytes) -> dict[str, Any]:
    """What the sidecar and the manifest record of a shard: counts, sizes, checksums, key range."""
    sink = _Sink()
    write_tar(records, sink)
    return _stats(index, records, parquet, sink)


def _stats(index: int, records: Sequence[Record], parquet: bytes, tar: _Sink) -> dict[str, Any]:
    name = shard_name(index)
    return {
        "shard": f"{name}.tar",
        "parquet": f"{name}.parquet",
        "count": len(records),
        "bytes": tar.size,
        "sha256": tar.hash.hexdigest(),
        "parquet_bytes": len(parquet),
        "parquet_sha256": hashlib.sha256(parquet).hexdigest(),
        "first_key": records[0].key if records else "",
        "last_key": records[-1].key if records else "",
        "safety": shard_safety(records),
    }


def _file_matches(path: str, size: int, sha256: str) -> bool:
    if storage.size(path) != size:
        return False
    sink = _Sink()
    with contextlib.closing(storage.open_read(path)) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sink.write(chunk)
    return sink.hash.hexdigest() == sha256


def is_committed(shards_dir: str, index: int, stats: dict[str, Any]) -> bool:
    """Whether shard `index` is committed with exactly `stats`: sidecar, sizes and sha256 agree."""
    sidecar = storage.join(shards_dir, stats_name(index))
    try:
        if json.loads(storage.read_bytes(sidecar)) != stats:
            return False
    except (FileNotFoundError, ValueError):
        return False
    return _file_matches(
        storage.join(shards_dir, stats["shard"]), stats["bytes"], stats["sha256"]
    ) and _file_matches(
        storage.join(shards_dir, stats["parquet"]), stats["parquet_bytes"], stats["parquet_sha256"]
    )


def write_shard(
    shards_dir: str, index: int, records: Sequence[Record], resume: bool = False
) -> tuple[dict[str, Any], bool]:
    """Commit shard `index` (parquet, tar, then the sidecar); returns (stats, whether written).

    With `resume`, a shard already committed with the same bytes is verified and left alone.
    """
    parquet = parquet_bytes(records)
    if resume:
        expected = shard_stats(index, records, parquet)
        if is_committed(shards_dir, index, expected):
            return expected, False
    sidecar = storage.join(shards_dir, stats_name(index))
    storage.remove(sidecar)  # the shard is uncommitted until the new sidecar is written
    storage.write_bytes(storage.join(shards_dir, f"{shard_name(index)}.parquet"), parquet)
    with storage.atomic_write(storage.join(shards_dir, f"{shard_name(index)}.tar")) as f:
        sink = _Sink(f)
        write_tar(records, sink)  # streamed: the tar is never held in memory as a whole
    stats = _stats(index, records, parquet, sink)
    storage.write_json(sidecar, stats)
    return stats, True


class _WriteShardFn(beam.DoFn):
    def __init__(self, shards_dir: str, resume: bool, s3_endpoint_url: str) -> None:
        self.shards_dir, self.resume, self.endpoint = shards_dir, resume, s3_endpoint_url
        self.written = beam.metrics.Metrics.counter("shards", "shards_written")
        self.skipped = beam.metrics.Metrics.counter("shards", "shards_skipped_committed")

    def setup(self) -> None:
        if self.endpoint:
            storage.set_s3_endpoint(self.endpoint)

    def process(self, item: tuple[int, Iterable[Record]]) -> Iterator[dict]:
        records = sorted(item[1], key=lambda r: r.key)
        stats, written = write_shard(self.shards_dir, item[0], records, self.resume)
        (self.written if written else self.skipped).inc()
        yield stats


def _key(record: Record) -> str:
    return record.key


class WriteShards(beam.PTransform):
    """Write samples into `OUTPUT/shards/`; outputs one stats dict per committed shard."""

    def __init__(
        self,
        shards_dir: str,
        samples_per_shard: int,
        resume: bool = False,
        s3_endpoint_url: str = "",
    ) -> None:
        super().__init__()
        self.shards_dir, self.samples_per_shard = shards_dir, samples_per_shard
        self.resume, self.s3_endpoint_url = resume, s3_endpoint_url

    def expand(self, samples: beam.PCollection) -> beam.PCollection:
        buckets = (
            samples
            | "Keys" >> beam.Map(_key)
            | "KeyBuckets" >> beam.Map(_bucket_of)
            | "GroupBuckets" >> beam.GroupByKey()
        )
        sizes = buckets | "BucketSizes" >> beam.Map(_bucket_size)
        starts = (
            buckets
            | "ShardStarts"
            >> beam.FlatMap(_starts, beam.pvalue.AsDict(sizes), self.samples_per_shard)
            | "AllStarts" >> beam.combiners.ToList()
            | "SortStarts" >> beam.Map(_sorted_tuple)
        )
        return (
            samples
            | "ToShard" >> beam.Map(_to_shard, beam.pvalue.AsSingleton(starts))
            | "GroupShards" >> beam.GroupByKey()
            | "WriteTarAndParquet"
            >> beam.ParDo(_WriteShardFn(self.shards_dir, self.resume, self.s3_endpoint_url))
        )
