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
from dataclasses import dataclass
from urllib.parse import urljoin

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import storage
from pipeline.fetch import FetchConfig, Fetcher
from pipeline.htmlimages import extract_images
from pipeline.pages import RobotsCache, read_page
from pipeline.schema import Reason, Record, Stage, reject
from pipeline.stages import RecordBatch

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
    from warcio.archiveiterator import ArchiveIterator

    with contextlib.closing(storage.open_read(path)) as stream:
        iterator = ArchiveIterator(stream, arc2warc=True)
        for record in iterator:
            if record.rec_type != rec_type:
                continue
            body = record.content_stream().read()  # before get_record_offset(), which skips it
            yield iterator.get_record_offset(), record, body


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


def read_wat(path: str) -> Iterator[Record]:
    """Yield one candidate per `IMG@/src` link (URL resolved against the page) in a WAT file."""
    name = os.path.basename(path)
    try:
        for offset, _rec, body in _iter_warc_records(path, "metadata"):
            source = f"{name}#{offset}"
            try:
                payload = json.loads(body)
                page, base, links = _wat_links(payload)
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                yield _malformed(source, f"{type(err).__name__}: {err}")
                continue
            for link in links:
                if not isinstance(link, dict) or link.get("path") != "IMG@/src":
                    continue
                url = urljoin(base, str(link.get("url", "")).strip())
                yield Record(
                    url=url, caption=str(link.get("alt", "")), page_url=page, source=source
                )
    except Exception as err:  # a truncated or corrupt file: record it, keep the job going
        yield _malformed(f"{name}#end", f"{type(err).__name__}: {err}")


def read_warc(path: str) -> Iterator[Record]:
    """Yield one candidate per `<img>` in each HTML response of a WARC file."""
    name = os.path.basename(path)
    try:
        for offset, rec, body in _iter_warc_records(path, "response"):
            headers = rec.http_headers  # type: ignore[attr-defined]
            ctype = headers.get_header("Content-Type", "") if headers else ""
            if "html" not in ctype.lower():
                continue
            page = rec.rec_headers.get_header("WARC-Target-URI")  # type: ignore[attr-defined]
            for url, alt in extract_images(body, page, ctype):
                yield Record(url=url, caption=alt, page_url=page, source=f"{name}#{offset}")
    except Exception as err:
        yield _malformed(f"{name}#end", f"{type(err).__name__}: {err}")


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
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    yield row if isinstance(row, dict) else {"__bad__": line}
        else:
            yield from csv.DictReader(f, delimiter="\t" if fmt == "tsv" else ",")


def read_table(path: str, fmt: str, cfg: ReadConfig) -> Iterator[Record]:
    """Yield one candidate per row of a URL table (parquet, csv, tsv, jsonl; optionally .gz)."""
    name = os.path.basename(path)
    try:
        for i, row in enumerate(_table_rows(path, fmt)):
            url = row.get(cfg.url_col)
            if not isinstance(url, str) or not url:
                yield _malformed(f"{name}#{i}", f"no {cfg.url_col!r} value")
                continue
            caption = row.get(cfg.caption_col)
            yield Record(url=url.strip(), caption=str(caption or ""), source=f"{name}#{i}")
    except Exception as err:
        yield _malformed(f"{name}#end", f"{type(err).__name__}: {err}")


def read_file(path: str, cfg: ReadConfig) -> Iterator[Record]:
    """Dispatch to the reader of `cfg.input_format`."""
    if cfg.input_format == "wat":
        return read_wat(path)
    if cfg.input_format == "warc":
        return read_warc(path)
    return read_table(path, cfg.input_format, cfg)


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
    def __init__(self, cfg: FetchConfig) -> None:
        self.cfg = cfg
        self.pages = Metrics.counter("read", "pages")

    def setup(self) -> None:
        self.fetcher = Fetcher(self.cfg)
        self.robots = RobotsCache(self.fetcher)

    def process(self, page: tuple[str, str]) -> Iterator[Record]:
        self.pages.inc()
        yield from read_page(page[0], self.fetcher, self.robots, page[1])


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
            | "FetchPages" >> beam.ParDo(_FetchPagesFn(self.cfg.fetch or FetchConfig()))
        )
