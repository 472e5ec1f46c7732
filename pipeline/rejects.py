"""The rejects table at any scale: columnar chunks, hash buckets that grow with the input.

    stats = stage_rejects | "WriteRejects" >> WriteRejects("out/rejects", target_mb=256)

Each stage's rejected records become columnar chunks inside the stage's own fused step (one
element per batch, never one per record). The number of files is `ceil(row bytes / target)`,
from a combiner over the chunks; each row goes to the bucket `hash(key) % files`, and each bucket
is one file `rejects-NNNNN.parquet`, written by whichever worker holds that bucket and sorted
within, so reruns, retries and any worker count write the same bytes. Drop counts per
(stage, reason) come from the chunks through a combiner too.
"""

from __future__ import annotations

import io
import logging
import math
import os
import socket
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from pipeline import storage
from pipeline.schema import Record
from pipeline.verify import file_stats

__all__ = [
    "rejects_parquet",
    "chunk_of",
    "bucket_chunk",
    "files_for",
    "drop_counts",
    "WriteRejects",
    "RejectChunks",
]

_REJECT_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("url", pa.string()),
        ("caption", pa.string()),
        ("page_url", pa.string()),
        ("source", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("query_ids", pa.list_(pa.int64())),
        ("http_status", pa.int64()),
    ]
)
_COLUMNS = tuple(_REJECT_SCHEMA.names)
_SORT = ("stage", "reason", "key", "source", "caption", "url", "page_url", "detail", "http_status")
_TEXT = ("key", "url", "caption", "page_url", "source", "detail")  # what sizes a row

_LOG = logging.getLogger(__name__)
Chunk = tuple  # one list per column of `_REJECT_SCHEMA`, in order


def chunk_of(records: Iterable[Record]) -> Chunk:
    """Rejected records as one columnar chunk (rows as in `Record.to_reject_row`)."""
    rows = [r.to_reject_row() for r in records]
    return tuple([row[name] for row in rows] for name in _COLUMNS)


def _chunk_bytes(chunk: Chunk) -> int:
    return sum(
        len(s) for i, name in enumerate(_COLUMNS) if name in _TEXT for s in chunk[i]
    ) + 32 * len(chunk[0])


def _bucket(key: str, files: int) -> int:
    return int(key[:8] or "0", 16) % files


def bucket_chunk(chunk: Chunk, files: int) -> Iterator[tuple[int, Chunk]]:
    """Split a chunk into (bucket, sub-chunk) by key hash; `files` buckets in all."""
    if files == 1:
        yield 0, chunk
        return
    rows: dict[int, list[int]] = {}
    for i, key in enumerate(chunk[0]):
        rows.setdefault(_bucket(key, files), []).append(i)
    for bucket, index in sorted(rows.items()):
        yield bucket, tuple([column[i] for i in index] for column in chunk)


def _sorted_table(chunks: Iterable[Chunk]) -> pa.Table:
    columns: list[list] = [[] for _ in _COLUMNS]
    for chunk in chunks:
        for column, values in zip(columns, chunk, strict=True):
            column.extend(values)
    table = pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, _REJECT_SCHEMA, strict=True)],
        schema=_REJECT_SCHEMA,
    )
    order = pc.sort_indices(table, sort_keys=[(name, "ascending") for name in _SORT])
    return table.take(order)


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def rejects_parquet(records: Iterable[Record]) -> bytes:
    """A parquet table of rejected records, sorted for byte-identical reruns."""
    return _parquet(_sorted_table([chunk_of(records)]))


class _ChunkFn(beam.DoFn):
    """Rejected records -> columnar chunks: one per batch, or per `ROWS` records that arrive
    one at a time (after a shuffle), the rest at the end of the bundle."""

    ROWS = 4096

    def start_bundle(self) -> None:
        self._rows: list[Record] = []

    def process(self, record: Record) -> Iterator[Chunk]:
        self._rows.append(record)
        if len(self._rows) >= self.ROWS:
            yield chunk_of(self._rows)
            self._rows = []

    @beam.DoFn.yields_elements
    def process_batch(self, batch: list[Record]) -> Iterator[Chunk]:
        yield chunk_of(batch)

    def finish_bundle(self) -> Iterator[object]:
        if self._rows:
            yield GlobalWindows.windowed_value(chunk_of(self._rows))
            self._rows = []

    def get_input_batch_type(self, input_element_type: Any) -> Any:
        return beam.typehints.List[input_element_type]

    def infer_output_type(self, input_type: Any) -> Any:
        return Any


class RejectChunks(beam.PTransform):
    """Every stage's rejected records (a tuple of PCollections) -> one PCollection of chunks."""

    def expand(self, rejected: tuple[beam.PCollection, ...]) -> beam.PCollection:
        chunks = tuple(
            pcoll | f"Chunk{i}" >> beam.ParDo(_ChunkFn()) for i, pcoll in enumerate(rejected)
        )
        return chunks | "AllChunks" >> beam.Flatten()


def _drop_counts(chunk: Chunk) -> Iterator[tuple[tuple[str, str], int]]:
    stages, reasons = chunk[_COLUMNS.index("stage")], chunk[_COLUMNS.index("reason")]
    yield from Counter(zip(stages, reasons, strict=True)).items()


def drop_counts(chunks: beam.PCollection) -> beam.PCollection:
    """((stage, reason), count) of every rejected row, summed by a combiner."""
    return (
        chunks
        | "DropsPerChunk" >> beam.FlatMap(_drop_counts)
        | "SumDrops" >> beam.CombinePerKey(sum)
    )


def files_for(row_bytes: int, target_mb: float) -> int:
    """How many rejects files hold `row_bytes` of rows at about `target_mb` each."""
    return max(1, math.ceil(row_bytes / (target_mb * 1e6)))


class _BucketFn(beam.DoFn):
    def process(self, chunk: Chunk, row_bytes: int, target_mb: float) -> Iterator[tuple]:
        yield from bucket_chunk(chunk, files_for(row_bytes, target_mb))


class _WriteBucketFn(beam.DoFn):
    def __init__(self, rejects_dir: str) -> None:
        self.rejects_dir = rejects_dir
        self.files = Metrics.counter("write_rejects", "files")

    def process(self, item: tuple[int, Iterable[Chunk]]) -> Iterator[dict]:
        table = _sorted_table(item[1])
        name, data = f"rejects-{item[0]:05d}.parquet", _parquet(table)
        storage.write_bytes(storage.join(self.rejects_dir, name), data)
        self.files.inc()
        _LOG.info(
            "%s: %d rows, written by %s:%d", name, table.num_rows, socket.gethostname(), os.getpid()
        )
        yield {**file_stats(name, data), "count": table.num_rows}


class WriteRejects(beam.PTransform):
    """Write chunks to `rejects/rejects-NNNNN.parquet`, ~`target_mb` of rows per file; file stats."""

    def __init__(self, rejects_dir: str, target_mb: float = 256.0) -> None:
        super().__init__()
        self.rejects_dir, self.target_mb = rejects_dir, target_mb

    def expand(self, chunks: beam.PCollection) -> beam.PCollection:
        row_bytes = (
            chunks
            | "RowBytes" >> beam.Map(_chunk_bytes)
            | "SumRowBytes" >> beam.CombineGlobally(sum)
        )
        return (
            chunks
            | "BucketRejects"
            >> beam.ParDo(_BucketFn(), beam.pvalue.AsSingleton(row_bytes), self.target_mb)
            | "GroupRejects" >> beam.GroupByKey()
            | "WriteRejectParquet" >> beam.ParDo(_WriteBucketFn(self.rejects_dir))
        )
