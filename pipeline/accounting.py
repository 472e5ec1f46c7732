"""Accounting: the rejects table, the summary whose counts add up, and the manifest written last.

`summarize` is pure: input count, shard stats and drop counts in, a summary dict out, with
`balanced` true exactly when input == kept + the sum of every drop. `Finalize` writes
`shards/sizes.json`, `summary.json` and, last of all, `manifest.json`, after every shard and
rejects file is committed (it consumes their stats as side inputs) and verified to exist with
the size and checksum it lists (`pipeline.verify`; otherwise the job fails, no manifest); before the manifest it
deletes shard files no longer in the build and what killed writers left (`.tmp-` files,
incomplete S3 multipart uploads).
"""

from __future__ import annotations

import io
import platform
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import __version__, storage
from pipeline.rejects import WriteRejects, rejects_parquet
from pipeline.safetyreport import summary_safety
from pipeline.schema import Record
from pipeline.verify import VerifyOutputs, file_stats

__all__ = [
    "summarize",
    "rejects_parquet",
    "WriteRejects",
    "WriteQueryCounts",
    "query_count_rows",
    "Finalize",
    "format_summary",
    "CountRecords",
]


def summarize(
    input_count: int, shards: list[dict], drops: list[tuple[tuple[str, str], int]]
) -> dict[str, Any]:
    """The build summary: input, kept, drops by stage and reason, and whether they add up."""
    kept = sum(s["count"] for s in shards)
    by_stage: dict[str, dict[str, int]] = {}
    for (stage, reason), count in sorted(drops):
        by_stage.setdefault(stage, {})[reason] = count
    dropped = sum(count for _, count in drops)
    return {
        "input": input_count,
        "kept": kept,
        "dropped": dropped,
        "balanced": input_count == kept + dropped,
        "drops": by_stage,
        "shards": len(shards),
        "incomplete_files": by_stage.get("read", {}).get("truncated_file", 0),
        "safety": summary_safety(by_stage, shards),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a short human-readable table (like img2dataset's end-of-run stats)."""
    lines = [
        f"input candidates  {summary['input']:>8}",
        f"kept samples      {summary['kept']:>8}  in {summary['shards']} shards",
        f"dropped           {summary['dropped']:>8}  ({'adds up' if summary['balanced'] else 'DOES NOT ADD UP'})",
    ]
    if summary.get("incomplete_files"):
        lines.append(
            f"INPUT INCOMPLETE    {summary['incomplete_files']} file(s) truncated or corrupt"
            " (rejects: read/truncated_file)"
        )
    for stage, reasons in summary["drops"].items():
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {stage + ' / ' + reason:<40} {count:>6}")
    return "\n".join(lines)


class _SizeFn(beam.DoFn):
    """1 per record, or the size of a whole batch (the reader emits batches)."""

    def process(self, record: Record) -> Iterator[int]:
        yield 1

    @beam.DoFn.yields_elements
    def process_batch(self, batch: list[Record]) -> Iterator[int]:
        yield len(batch)

    def get_input_batch_type(self, input_element_type: Any) -> Any:
        return beam.typehints.List[input_element_type]


class CountRecords(beam.PTransform):
    """How many records a PCollection holds (counted a batch at a time), as a singleton."""

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        return records | "Sizes" >> beam.ParDo(_SizeFn()) | "Sum" >> beam.CombineGlobally(sum)


class _FinalizeFn(beam.DoFn):
    def __init__(self, output: str, config: dict[str, Any], s3_endpoint_url: str = "") -> None:
        self.output, self.config, self.endpoint = output, config, s3_endpoint_url

    def setup(self) -> None:
        if self.endpoint:
            storage.set_s3_endpoint(self.endpoint)

    def process(
        self, _: object, input_count: int, shards: list, rejects: list, drops: list, tables: list,
        problems: list,
    ) -> Iterator[dict]:  # fmt: skip
        if problems:  # the store lost or changed outputs: no manifest; --resume repairs
            raise RuntimeError(
                f"Finalize: {len(problems)} output(s) missing or changed, no manifest written"
                f" (rerun with --resume): {'; '.join(sorted(problems)[:10])}"
            )
        shards = sorted(shards, key=lambda s: s["shard"])
        summary = summarize(input_count, shards, drops)
        sizes = {s["shard"]: s["count"] for s in shards}
        _remove_stray_shards(storage.join(self.output, "shards"), sizes)
        for part in ("shards", "rejects"):  # temp files / multipart uploads of killed writers
            storage.remove_partial(storage.join(self.output, part))
        storage.write_json(storage.join(self.output, "shards", "sizes.json"), sizes)
        storage.write_json(storage.join(self.output, "summary.json"), summary)
        manifest = {
            "format": "wit-pipeline/1",
            "shards": shards,
            "rejects": sorted(rejects, key=lambda r: r["file"]),
            "tables": sorted(tables, key=lambda t: t["file"]),
            "summary": summary,
            "config": self.config,
            "versions": _versions(),
        }
        storage.write_json(storage.join(self.output, "manifest.json"), manifest)
        yield summary


def _remove_stray_shards(shards_dir: str, sizes: dict[str, int]) -> None:
    """Delete shard files a previous, larger run left behind (they are not in this manifest)."""
    for pattern in ("*.tar", "*.parquet", "*_stats.json"):
        for path in storage.glob(storage.join(shards_dir, pattern)):
            base = path.rsplit("/", 1)[-1].rsplit(".", 1)[0].removesuffix("_stats")
            if f"{base}.tar" not in sizes:
                storage.remove(path)


def _versions() -> dict[str, str]:
    import apache_beam
    import PIL

    return {
        "wit-pipeline": __version__,
        "apache-beam": apache_beam.__version__,
        "pyarrow": pa.__version__,
        "pillow": PIL.__version__,
        "python": platform.python_version(),
    }


class Finalize(beam.PTransform):
    """After all shards and rejects are committed: sizes.json, summary.json, then manifest.json."""

    def __init__(self, output: str, config: dict[str, Any], s3_endpoint_url: str = "") -> None:
        super().__init__()
        self.output, self.config, self.s3_endpoint_url = output, config, s3_endpoint_url

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.PCollection:
        AsList, AsSingleton = beam.pvalue.AsList, beam.pvalue.AsSingleton
        join, endpoint = storage.join, self.s3_endpoint_url
        problems = (
            inputs["shards"] | "VerifyShards" >> VerifyOutputs(join(self.output, "shards"), True, endpoint),
            inputs["rejects"] | "VerifyRejects" >> VerifyOutputs(join(self.output, "rejects"), False, endpoint),
            inputs["tables"] | "VerifyTables" >> VerifyOutputs(self.output, False, endpoint),
        ) | "AllProblems" >> beam.Flatten()  # fmt: skip
        return (
            inputs["input_count"].pipeline
            | "Once" >> beam.Create([None])
            | "WriteManifest"
            >> beam.ParDo(
                _FinalizeFn(self.output, self.config, self.s3_endpoint_url),
                AsSingleton(inputs["input_count"]),
                AsList(inputs["shards"]),
                AsList(inputs["rejects"]),
                AsList(inputs["drops"]),
                AsList(inputs["tables"]),
                AsList(problems),
            )
        )


_QUERY_COUNT_SCHEMA = pa.schema(
    [("query_id", pa.int64()), ("query", pa.string()), ("matched", pa.int64()),
     ("balanced", pa.int64()), ("in_shards", pa.int64())]
)  # fmt: skip


def query_count_rows(counts: dict[int, dict[str, int]], names: list[str]) -> list[dict[str, Any]]:
    """One row per matched query: how many samples matched it, survived balancing, reached shards."""
    return [
        {"query_id": qid, "query": names[qid] if qid < len(names) else "", **{
            col: c.get(col, 0) for col in ("matched", "balanced", "in_shards")}}
        for qid, c in sorted(counts.items())
    ]  # fmt: skip


def _query_ones(record: Record) -> Iterator[tuple[int, int]]:
    for qid in record.query_ids:
        yield qid, 1


def _merge_counts(
    item: tuple[int, dict[str, list[int]]],
) -> tuple[None, tuple[int, dict[str, int]]]:
    return None, (item[0], {col: sum(values) for col, values in item[1].items()})


class _WriteQueryCountsFn(beam.DoFn):
    def __init__(self, path: str, queries_path: str) -> None:
        self.path, self.queries_path = path, queries_path

    def process(self, item: tuple[None, Iterable[tuple[int, dict[str, int]]]]) -> Iterator[dict]:
        from queries.matcher import load_queries

        rows = query_count_rows(dict(item[1]), load_queries(self.queries_path))
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows, schema=_QUERY_COUNT_SCHEMA), buf)
        storage.write_bytes(self.path, buf.getvalue())
        yield {**file_stats("query_counts.parquet", buf.getvalue()), "count": len(rows)}


class WriteQueryCounts(beam.PTransform):
    """Per query: samples matched, kept by balancing, and in shards -> query_counts.parquet."""

    def __init__(self, path: str, queries_path: str) -> None:
        super().__init__()
        self.path, self.queries_path = path, queries_path

    def expand(self, stages: dict[str, beam.PCollection]) -> beam.PCollection:
        counts = {
            name: pcoll
            | f"Ones{name}" >> beam.FlatMap(_query_ones)
            | f"Sum{name}" >> beam.CombinePerKey(sum)
            for name, pcoll in stages.items()
        }
        return (
            counts
            | "JoinCounts" >> beam.CoGroupByKey()
            | "OneTable" >> beam.Map(_merge_counts)
            | "GroupTable" >> beam.GroupByKey()
            | "WriteTable" >> beam.ParDo(_WriteQueryCountsFn(self.path, self.queries_path))
        )
