"""`wit queries ...`: build the query list, count Wikipedia n-grams with Beam, compile, match.

    wit queries build --wordnet /usr/share/wordnet --wikipedia-dump enwiki.xml.bz2 \
        --pageviews pageviews-*.gz --out queries.parquet
    wit queries count --wikipedia-dump 'enwiki-*.bz2' --out counts/ --runner=DirectRunner
    wit queries build --wordnet /usr/share/wordnet --counts counts/ --out queries.parquet
    wit queries compile queries.parquet --out queries.aca
    wit queries match queries.aca captions.txt
    wit queries stats queries.parquet
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter

from pipeline import storage
from pipeline.usage import UsageError, at_least

__all__ = ["register"]


def _expand(patterns: list[str] | None, flag: str = "") -> tuple[str, ...]:
    """The files the patterns name; a pattern matching nothing is an error."""
    from pipeline.preflight import check_matches

    def files(pattern: str) -> list[str]:
        if any(c in pattern for c in "*?["):
            return storage.glob(pattern)
        return [pattern] if storage.is_s3(pattern) or storage.exists(pattern) else []

    return tuple(check_matches(patterns or [], flag, files))


def _build(args: argparse.Namespace, extra: list[str]) -> int:
    from queries.build import BuildConfig, build_queries, write_queries

    cfg = BuildConfig(
        wordnet_dir=args.wordnet,
        wikipedia_dumps=_expand(args.wikipedia_dump, "--wikipedia-dump"),
        pageviews=_expand(args.pageviews, "--pageviews"),
        texts=_expand(args.text, "--text"),
        tables=_expand(args.table, "--table"),
        counts_dirs=tuple(args.counts or ()),
        wiki=args.wiki,
        min_unigram_count=args.min_unigram_count,
        min_bigram_count=args.min_bigram_count,
        min_pmi=args.min_pmi,
        min_title_views=args.min_title_views,
        min_table_count=args.min_table_count,
        max_entries=args.max_entries,
    )
    rows, stats = build_queries(cfg)
    if not rows:  # a build from nothing would match no caption: refuse it
        raise UsageError("no query built: give --wordnet, --wikipedia-dump, --counts, --text ...")
    stats_path = write_queries(rows, stats, args.out)
    by_source = {k: v["kept_primary"] for k, v in stats["sources"].items()}
    print(f"{len(rows)} queries -> {args.out} ({stats_path}); by source: {by_source}")
    return 0


def _count(args: argparse.Namespace, extra: list[str]) -> int:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.localrunner import local_runner
    from queries.beam_ngrams import NgramJobConfig, build_count_pipeline

    cfg = NgramJobConfig(args.min_unigram_count, args.min_bigram_count, args.min_pmi)
    options = PipelineOptions(extra)
    with beam.Pipeline(runner=local_runner(options), options=options) as p:
        build_count_pipeline(
            p, list(_expand(args.wikipedia_dump, "--wikipedia-dump")), args.out, cfg
        )
    print(f"n-gram tables -> {args.out}")
    return 0


def _compile(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline.preflight import check_queries
    from queries.matcher import QueryMatcher

    check_queries(args.queries, "QUERIES")
    matcher = QueryMatcher.from_file(args.queries)
    matcher.save(args.out)
    print(f"{len(matcher)} queries -> {args.out}")
    return 0


def _match(args: argparse.Namespace, extra: list[str]) -> int:
    from pipeline.preflight import check_file, check_queries
    from queries.matcher import QueryMatcher

    check_queries(args.queries, "QUERIES")
    if args.captions != "-":
        check_file(args.captions, "CAPTIONS")
    matcher = QueryMatcher.from_file(args.queries)
    data = storage.read_bytes(args.captions) if args.captions != "-" else sys.stdin.buffer.read()
    for line in io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace"):
        ids = matcher.match(line)
        print(json.dumps({"caption": line.rstrip("\n"), "queries": list(matcher.names(ids))}))
    return 0


def _stats(args: argparse.Namespace, extra: list[str]) -> int:
    import pyarrow.parquet as pq

    from pipeline.preflight import check_file

    check_file(args.queries, "QUERIES")
    table = pq.read_table(io.BytesIO(storage.read_bytes(args.queries)))
    sources = Counter(table.column("source").to_pylist())
    print(json.dumps({"entries": table.num_rows, "by_source": dict(sources)}, indent=2))
    return 0


def _add_thresholds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--min-unigram-count", type=at_least(1), default=100)
    parser.add_argument("--min-bigram-count", type=at_least(1), default=100)
    parser.add_argument(
        "--min-pmi", type=at_least(0, float), default=30.0, help="ratio-form PMI (MetaCLIP: 30)"
    )


def _register_build(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="build queries.parquet from WordNet, Wikipedia, corpora")
    p.add_argument(
        "--wordnet", help="WordNet database dir (data.noun ...), e.g. /usr/share/wordnet"
    )
    p.add_argument("--wikipedia-dump", action="append", help="pages-articles .xml[.bz2] (glob)")
    p.add_argument("--pageviews", action="append", help="Wikimedia pageviews file (glob)")
    p.add_argument("--text", action="append", help="plain text corpus (glob)")
    p.add_argument("--table", action="append", help="(term, count) table: tsv/csv/parquet")
    p.add_argument("--counts", action="append", help="output dir of `wit queries count`")
    p.add_argument("--wiki", default="en", help="pageviews project code")
    _add_thresholds(p)
    p.add_argument("--min-title-views", type=at_least(0), default=70)
    p.add_argument("--min-table-count", type=at_least(0), default=100)
    p.add_argument("--max-entries", type=at_least(1), default=500_000)
    p.add_argument("--out", required=True, help="queries.parquet (local or s3://)")
    p.set_defaults(func=_build)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `wit queries {build,count,compile,match,stats}`."""
    queries = subparsers.add_parser("queries", help="build, compile and match the query list")
    sub = queries.add_subparsers(dest="queries_command", metavar="ACTION")
    sub.required = True
    _register_build(sub)
    p = sub.add_parser("count", help="count Wikipedia n-grams with Beam (extra args: options)")
    p.add_argument("--wikipedia-dump", action="append", required=True)
    p.add_argument("--out", required=True)
    _add_thresholds(p)
    p.set_defaults(func=_count, accepts_extra=True)
    p = sub.add_parser("compile", help="build the automaton once and save it")
    p.add_argument("queries", help="queries.parquet or text file")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_compile)
    p = sub.add_parser("match", help="print the queries each caption line matches (jsonl)")
    p.add_argument("queries", help="saved automaton, queries.parquet or text file")
    p.add_argument("captions", help="text file, one caption per line, or -")
    p.set_defaults(func=_match)
    p = sub.add_parser("stats", help="summarise a queries.parquet")
    p.add_argument("queries")
    p.set_defaults(func=_stats)
