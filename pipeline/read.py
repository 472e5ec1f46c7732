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
from urllib.parse import urljoin

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import storage
from pipeline.consent import ConsentConfig, page_refusal, refuse_all, wat_refusal
from pipeline.fetch import FetchConfig, Fetcher
from pipeline.htmlimages import extract_page
from pipeline.pages import RobotsCache, read_page
from pipeline.readguard import (
    Truncated,
    archive_truncation,
    checked_archive_iterator,
    failure,
    guard,
)
from pipeline.schema import Reason, Record, Stage, reject

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


def _iter_warc_records(path: str, rec_type: str) -> Iterator[tuple[int, object, bytes]]:
    """Yield (offset, record, body) for records of `rec_type`; bodies are read one at a time."""
    with contextlib.closing(storage.open_read(path)) as stream:
        iterator = checked_archive_iterator(stream, arc2warc=True)
        try:
            for record in iterator:
                if record.rec_type != rec_type:
                    continue
                body = record.content_stream().read()  # before get_record_offset(), which skips it
                yield iterator.get_record_offset(), record, body
        except Exception as err:  # a corrupt member: the rest of the file is unreadable
            raise Truncated(iterator.offset, f"{type(err).__name__}: {err}") from err
        if detail := archive_truncation(iterator):
            raise Truncated(iterator.offset, detail)


def _wat_links(payload: dict) -> tuple[str, str, list[dict]]:
    envelope = payload["Envelope"]
    target = envelope.get("WARC-Header-Metadata", {}).get("WARC-Target-URI", "")
    html_meta = (
        envelope.get("Payload-Metadata", {})
        .get("HTTP-Response-Metadata", {})
        .get("HTML-Metadata", {})
    )
    base = urljoin(target, html_meta.get("Head", {}).get("Base", "") or "")
    return target, base or target, html_meta.get("Links", []) or []


def read_wat(path: str, consent: ConsentConfig | None = None) -> Iterator[Record]:
    """Yield one candidate per `IMG@/src` link (URL resolved against the page) in a WAT file.

    Candidates of a page that opts out (robots meta, tdm-reservation header) are rejected here.
    """
    name = os.path.basename(path)
    try:
        for offset, _rec, body in _iter_warc_records(path, "metadata"):
            source = f"{name}#{offset}"
            try:
                payload = json.loads(body)
                page, base, links = _wat_links(payload)
                refusal = wat_refusal(payload, consent)
            except Exception as err:  # also RecursionError on deeply nested JSON
                yield _malformed(source, f"{type(err).__name__}: {err}")
                continue
            yield from refuse_all(_wat_records(links, base, page, source), refusal)
    except Exception as err:  # a truncated or corrupt file: record it, keep the job going
        yield failure(path, err)


def _wat_records(links: list, base: str, page: str, source: str) -> Iterator[Record]:
    for link in links:
        if not isinstance(link, dict) or link.get("path") != "IMG@/src":
            continue
        url = urljoin(base, str(link.get("url", "")).strip())
        yield Record(url=url, caption=str(link.get("alt", "")), page_url=page, source=source)


def read_warc(path: str, consent: ConsentConfig | None = None) -> Iterator[Record]:
    """Yield one candidate per `<img>` in each HTML response of a WARC file."""
    name = os.path.basename(path)
    try:
        for offset, rec, body in _iter_warc_records(path, "response"):
            headers = rec.http_headers  # type: ignore[attr-defined]
            ctype = headers.get_header("Content-Type", "") if headers else ""
            if "html" not in ctype.lower():
                continue
            page = rec.rec_headers.get_header("WARC-Target-URI")  # type: ignore[attr-defined]
            images, metas = extract_page(body, page, ctype)
            refusal = page_refusal(dict(headers.headers) if headers else {}, metas, consent)
            records = (
                Record(url=url, caption=alt, page_url=page, source=f"{name}#{offset}")
                for url, alt in images
            )
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
    def __init__(self, cfg: ReadConfig) -> None:
        self.cfg = cfg
        self.read = Metrics.counter("read", "candidates")
        self.files = Metrics.counter("read", "files")

    def process(self, path: str) -> Iterator[Record]:
        self.files.inc()
        for record in read_file(path, self.cfg):
            self.read.inc()
            yield record


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
            >> beam.ParDo(_FetchPagesFn(self.cfg.fetch or FetchConfig(), self.cfg.consent))
        )
