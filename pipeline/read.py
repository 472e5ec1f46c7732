"""Candidate readers: Common Crawl WAT and WARC files, and URL tables -> `Record`s.

Each reader is a generator over one file that streams it (WARC/WAT files are ~1 GB) and yields
candidates, plus rejected records for input it cannot parse, so nothing vanishes silently.
`ReadCandidates` is the Beam stage: expand the glob, spread the files, read each one.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import storage
from pipeline.consent import ConsentConfig, page_refusal, refuse_all, wat_refusal
from pipeline.fetch import FetchConfig, Fetcher
from pipeline.htmlimages import extract_page
from pipeline.pages import RobotsCache, read_page
from pipeline.readguard import (
    failure,
    guard,
)
from pipeline.schema import Reason, Record, Stage, reject
from pipeline.stages import RecordBatch
from pipeline.warcgz import http_payload, iter_records
from pipeline.watlinks import wat_document, wat_links

__all__ = [
    "ReadConfig",
    "read_wat",
    "read_warc",
    "read_table",
    "read_page_list",
    "expand_input",
    "read_file",
    "ReadCandidates",
]

_BAD_ROW = "\0bad-row"  # key of the dict a table reader yields for a row it could not parse
FORMATS = ("wat", "warc", "parquet", "csv", "tsv", "jsonl", "pages")


@dataclass(frozen=True)
class ReadConfig:
    """What to read and how (img2dataset's `url_col` / `caption_col` conventions for tables)."""

    input: str
    input_format: str = "wat"
    url_col: str = "url"
    caption_col: str = "caption"
    fetch: FetchConfig | None = None  # for `pages`: how page URLs are fetched
    paths_prefix: str = "s3://commoncrawl/"  # for Common Crawl `*.paths.gz` inputs
    consent: ConsentConfig = field(default_factory=ConsentConfig)  # page-level opt-outs


def expand_input(pattern: str, paths_prefix: str = "s3://commoncrawl/") -> list[str]:
    """The files of one `--input` entry: a glob, or a Common Crawl `*.paths[.gz]` file list.

    A paths file (as published per crawl: `wat.paths.gz`, `warc.paths.gz`) lists keys relative
    to the bucket; they are prefixed with `paths_prefix`.
    """
    if not pattern.endswith((".paths", ".paths.gz")):
        return storage.glob(pattern)
    with _open_text(pattern) as f:
        return [
            paths_prefix.rstrip("/") + "/" + line.strip().lstrip("/") for line in f if line.strip()
        ]


def read_page_list(path: str) -> Iterator[tuple[str, str]]:
    """(page URL, source) for each non-empty, non-comment line of a page list."""
    name = os.path.basename(path)
    with _open_text(path) as f:
        for i, line in enumerate(f):
            line = line.strip()
            if line and not line.startswith("#"):
                yield line, f"{name}#{i}"


def _malformed(source: str, detail: str) -> Record:
    return reject(
        Record(url="", caption="", source=source), Stage.READ, Reason.MALFORMED_RECORD, detail
    )


def read_wat(path: str, consent: ConsentConfig | None = None) -> Iterator[Record]:
    """Yield one candidate per `IMG@/src` link (URL resolved against the page) in a WAT file.

    Candidates of a page that opts out (robots meta, tdm-reservation header) are rejected here.
    """
    name = os.path.basename(path)
    try:
        for rec in iter_records(path):
            source = f"{name}#{rec.offset}"
            if rec.error:
                yield _malformed(source, rec.error)
                continue
            if rec.rec_type != "metadata":
                continue
            try:
                doc = wat_document(rec.block)
                if doc is None:  # valid, and cannot carry image links
                    continue
                page, images = wat_links(doc)
                refusal = wat_refusal(doc, consent) if images else None
            except Exception as err:  # WAT_ERRORS, RecursionError on deeply nested JSON included
                yield _malformed(source, f"{type(err).__name__}: {err}")
                continue
            records = (Record(url=u, caption=a, page_url=page, source=source) for u, a in images)
            yield from refuse_all(records, refusal)
    except Exception as err:  # a truncated or corrupt file: record it, keep the job going
        yield failure(path, err)


def read_warc(path: str, consent: ConsentConfig | None = None) -> Iterator[Record]:
    """Yield one candidate per `<img>` in each HTML response of a WARC file."""
    name = os.path.basename(path)
    try:
        for rec in iter_records(path):
            source = f"{name}#{rec.offset}"
            if rec.error:
                yield _malformed(source, rec.error)
                continue
            if rec.rec_type != "response":
                continue
            try:
                page, ctype, body, headers = http_payload(rec)
            except Exception as err:  # an unreadable HTTP block: this record only
                yield _malformed(source, f"{type(err).__name__}: {err}")
                continue
            if "html" not in ctype.lower():
                continue
            images, metas = extract_page(body, page, ctype)
            refusal = page_refusal(headers, metas, consent) if images else None
            records = (Record(url=u, caption=a, page_url=page, source=source) for u, a in images)
            yield from refuse_all(records, refusal)
    except Exception as err:
        yield failure(path, err)


def _open_text(path: str) -> io.TextIOBase:
    raw = storage.open_read(path)
    if path.endswith(".gz"):
        raw = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")  # type: ignore[arg-type]


def _table_rows(path: str, fmt: str) -> Iterator[dict]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with contextlib.closing(storage.open_read(path)) as f:
            parquet = pq.ParquetFile(io.BytesIO(f.read()) if storage.is_s3(path) else path)
            for batch in parquet.iter_batches(batch_size=4096):
                yield from batch.to_pylist()
        return
    with _open_text(path) as f:
        if fmt == "jsonl":
            yield from _jsonl_rows(f)
        else:
            yield from _csv_rows(csv.DictReader(f, delimiter="\t" if fmt == "tsv" else ","))


def _jsonl_rows(lines: Iterator[str]) -> Iterator[dict]:
    """One dict per non-empty line; a line that is not a JSON object yields an error dict."""
    for line in lines:
        if line.strip():
            try:
                row = json.loads(line)
            except Exception as err:  # ValueError, RecursionError: this line only
                row = {_BAD_ROW: f"{type(err).__name__}: {err}"}
            yield row if isinstance(row, dict) else {_BAD_ROW: "not a JSON object"}


def _csv_rows(reader: Iterator[dict]) -> Iterator[dict]:
    """The rows of a csv reader; a row it cannot parse (a field over the limit) yields an error dict."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:  # the reader resumes at the next line
            row = {_BAD_ROW: f"csv.Error: {err}"}
        yield row


def read_table(path: str, fmt: str, cfg: ReadConfig) -> Iterator[Record]:
    """Yield one candidate per row of a URL table (parquet, csv, tsv, jsonl; optionally .gz)."""
    name, i = os.path.basename(path), -1
    try:
        for i, row in enumerate(_table_rows(path, fmt)):
            url = row.get(cfg.url_col)
            url = url.strip() if isinstance(url, str) else url
            if _BAD_ROW in row:
                yield _malformed(f"{name}#{i}", str(row[_BAD_ROW]))
                continue
            if not isinstance(url, str) or not url:
                yield _malformed(f"{name}#{i}", f"no {cfg.url_col!r} value")
                continue
            caption = row.get(cfg.caption_col)
            yield Record(url=url, caption=str(caption or ""), source=f"{name}#{i}")
    except Exception as err:
        yield failure(path, err, f"row-{i + 1}")


def read_file(path: str, cfg: ReadConfig) -> Iterator[Record]:
    """Dispatch to the reader of `cfg.input_format` (through `readguard.guard`)."""
    if cfg.input_format == "wat":
        return guard(path, read_wat(path, cfg.consent))
    if cfg.input_format == "warc":
        return guard(path, read_warc(path, cfg.consent))
    return guard(path, read_table(path, cfg.input_format, cfg))


class _ReadFileFn(beam.DoFn):
    """One file -> batches of up to `BATCH` records (the text stages take them whole)."""

    BATCH = 1024

    def __init__(self, cfg: ReadConfig) -> None:
        self.cfg = cfg
        self.read = Metrics.counter("read", "candidates")
        self.files = Metrics.counter("read", "files")

    @beam.DoFn.yields_batches
    def process(self, path: str) -> Iterator[list[Record]]:
        self.files.inc()
        batch: list[Record] = []
        for record in read_file(path, self.cfg):
            batch.append(record)
            if len(batch) >= self.BATCH:
                self.read.inc(len(batch))
                yield batch
                batch = []
        if batch:
            self.read.inc(len(batch))
            yield batch

    def infer_output_type(self, input_type: object) -> object:
        return Record

    def get_output_batch_type(self, input_element_type: object) -> object:
        return RecordBatch


class _FetchPagesFn(beam.DoFn):
    def __init__(self, cfg: FetchConfig, consent: ConsentConfig | None = None) -> None:
        self.cfg, self.consent = cfg, consent
        self.pages = Metrics.counter("read", "pages")

    def setup(self) -> None:
        self.fetcher = Fetcher(self.cfg)
        self.robots = RobotsCache(self.fetcher)

    def process(self, page: tuple[str, str]) -> Iterator[Record]:
        self.pages.inc()
        yield from guard(
            page[1], read_page(page[0], self.fetcher, self.robots, page[1], self.consent)
        )


class ReadCandidates(beam.PTransform):
    """Read every file matching `cfg.input` (comma-separated globs) into candidate records."""

    def __init__(self, cfg: ReadConfig) -> None:
        super().__init__()
        if cfg.input_format not in FORMATS:
            raise ValueError(f"input_format must be one of {FORMATS}, not {cfg.input_format!r}")
        self.cfg = cfg

    def expand(self, pbegin):  # type: ignore[no-untyped-def]
        files = (
            pbegin
            | "Patterns" >> beam.Create(self.cfg.input.split(","))
            | "ExpandGlobs" >> beam.FlatMap(expand_input, self.cfg.paths_prefix)
            | "SpreadFiles" >> beam.Reshuffle()
        )
        if self.cfg.input_format != "pages":
            return files | "ReadFiles" >> beam.ParDo(_ReadFileFn(self.cfg))
        return (
            files
            | "ReadPageLists" >> beam.FlatMap(read_page_list)
            | "SpreadPages" >> beam.Reshuffle()
            | "FetchPages"
            >> beam.ParDo(
                _FetchPagesFn(self.cfg.fetch or FetchConfig(), self.cfg.consent)
            ).with_output_types(Record)  # the batched text stages downstream need the type
        )
