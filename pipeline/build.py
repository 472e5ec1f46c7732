"""`build_pipeline(p, cfg)`: the whole build as one labelled line per stage.

ReadCandidates -> FilterText -> DedupUrls -> MatchQueries -> DetectLanguage
    -> BalanceByQuery -> DownloadImages -> DedupImages -> WriteShards
every stage's rejects -> columnar chunks -> WriteRejects (hash buckets);  then Finalize (sizes.json, summary, manifest);
after the pipeline, the dataset card (`report.html`). `--resume` keeps committed shards.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import apache_beam as beam

from pipeline import progress, storage
from pipeline.accounting import CountRecords, Finalize, WriteQueryCounts
from pipeline.download import DedupImages, DownloadImages
from pipeline.launch import prepare_build
from pipeline.localrunner import local_runner
from pipeline.options import BuildConfig
from pipeline.read import ReadCandidates
from pipeline.rejects import RejectChunks, WriteRejects, drop_counts
from pipeline.report import write_report
from pipeline.shards import WriteShards
from pipeline.stages import (
    BalanceByQuery,
    DedupUrls,
    DetectLanguage,
    FilterText,
    MatchQueries,
    SplitRejected,
)

__all__ = ["build_pipeline", "run"]


def build_pipeline(p: beam.Pipeline, cfg: BuildConfig) -> beam.PCollection:
    """Add the build to pipeline `p`; returns the PCollection holding the final summary."""
    candidates = p | "ReadCandidates" >> ReadCandidates(cfg.read)
    read = candidates | "SplitMalformed" >> SplitRejected()
    text = read.kept | "FilterText" >> FilterText(cfg.text)
    unique = text.kept | "DedupUrls" >> DedupUrls()
    matched = unique.kept | "MatchQueries" >> MatchQueries(cfg.queries)
    language = matched.kept | "DetectLanguage" >> DetectLanguage(
        cfg.languages, cfg.language_backend
    )
    balanced = language.kept | "BalanceByQuery" >> BalanceByQuery(
        cfg.max_per_query, cfg.seed, cfg.balance
    )
    downloaded = balanced.kept | "DownloadImages" >> DownloadImages(cfg.download)
    samples = downloaded.kept | "DedupImages" >> DedupImages(cfg.dedup_images)
    shards = samples.kept | "WriteShards" >> WriteShards(
        storage.join(cfg.output, "shards"), cfg.samples_per_shard, cfg.resume, cfg.s3_endpoint_url
    )

    if cfg.embed_vectors:  # optional: the overlap audit's vectors, on the build's workers
        from dedup.embed_job import EmbedShards

        shards_dir = storage.join(cfg.output, "shards")
        _ = (
            shards
            | "ShardTars" >> beam.Map(_shard_tar, shards_dir)
            | "EmbedVectors" >> EmbedShards(storage.join(cfg.output, "vectors"))
        )

    stages = (read, text, unique, matched, language, balanced, downloaded, samples)
    rejects = tuple(s.rejected for s in stages) | "AllRejects" >> RejectChunks()
    reject_files = rejects | "WriteRejects" >> WriteRejects(
        storage.join(cfg.output, "rejects"), cfg.reject_file_mb
    )
    per_query = {"matched": language.kept, "balanced": balanced.kept, "in_shards": samples.kept}
    query_counts = per_query | "WriteQueryCounts" >> WriteQueryCounts(
        storage.join(cfg.output, "query_counts.parquet"), cfg.queries
    )
    inputs = {
        "input_count": candidates | "CountInput" >> CountRecords(),
        "tables": query_counts,
        "shards": shards,
        "rejects": reject_files,
        "drops": drop_counts(rejects),
    }
    return inputs | "Finalize" >> Finalize(cfg.output, cfg.to_json(), cfg.s3_endpoint_url)


def _shard_tar(stats: dict, shards_dir: str) -> str:
    return storage.join(shards_dir, stats["shard"])


def run(argv: list[str] | None = None, save_main_session: bool = False) -> dict[str, Any]:
    """Parse and check Beam options from `argv`, run the build and return its summary."""
    args = sys.argv[1:] if argv is None else list(argv)
    options, cfg = prepare_build(args)  # UsageError before any work or output is written
    if cfg.s3_endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = cfg.s3_endpoint_url  # for local worker processes
    storage.makedirs(cfg.output)
    storage.remove(storage.join(cfg.output, "manifest.json"))  # incomplete until written again
    p = beam.Pipeline(runner=local_runner(options), options=options)  # no Prism download
    build_pipeline(p, cfg)
    progress.execute(p, options)  # faults (if asked), progress lines, counters at the end
    write_report(cfg.output)
    return _read_summary(cfg.output)


def _read_summary(output: str) -> dict[str, Any]:
    import json

    return json.loads(storage.read_bytes(storage.join(output, "summary.json")))
