"""The fast Common Crawl reading path: gzip member layer, WAT JSON, URL joining, HTML5 images."""

import glob
import gzip
import io
import json
import random
import zlib
from urllib.parse import urljoin

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline import warcgz
from pipeline.htmlimages import extract_images
from pipeline.read import read_warc, read_wat
from pipeline.warcgz import TruncatedArchive, iter_members, iter_records
from pipeline.watlinks import WAT_ERRORS, Resolver, wat_images

_PARTS = ["https:", "http:", "HTTP:", "data:", "mailto:", "a+b:", "1a:", "//", "/", "a", "b.jpg"]
_PARTS += [".", "..", "../", "./", "?", "#", "?q=1", "#f", "&", ";", ":", "é", "%2e", "[", "]"]
_PARTS += [" ", "\t", "\n", "\\", "@", "host.com", "\x00", "\uff03", "~"]
_BASES = ["https://a.com/b/c.html", "http://a.com", "https://a.com/", "https://a.com/b//c/"]
_BASES += ["https://a.com/b/c?x=1#y", "https://u@a.com:8080/d/", "http://a.com/b/../c", ""]
_BASES += ["ftp://a/b", "https://a.com/b;p/c", "https://[::1]/x", "https://é.com/x", "/rel"]


def _outcome(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return "ok", fn(*args)
    except Exception as err:
        return "error", type(err).__name__


def test_resolver_gives_exactly_what_urljoin_gives():
    rng = random.Random(7)
    for _ in range(40_000):
        base = rng.choice(_BASES)
        url = "".join(rng.choices(_PARTS, k=rng.randint(0, 7)))
        assert _outcome(Resolver(base), url) == _outcome(urljoin, base, url), (base, url)


def _reference(body: bytes):  # type: ignore[no-untyped-def]
    """The reader before the fast path: json.loads, then the same walk with urljoin."""
    envelope = json.loads(body)["Envelope"]
    target = envelope.get("WARC-Header-Metadata", {}).get("WARC-Target-URI", "")
    meta = envelope.get("Payload-Metadata", {}).get("HTTP-Response-Metadata", {})
    html = meta.get("HTML-Metadata", {})
    base = urljoin(target, html.get("Head", {}).get("Base", "") or "") or target
    links = [x for x in html.get("Links", []) or [] if isinstance(x, dict)]
    images = [
        (urljoin(base, str(x.get("url", "")).strip()), str(x.get("alt", "")))
        for x in links
        if x.get("path") == "IMG@/src"
    ]
    return target, images


def _wat(links: object, head: object = None, extra: str = "") -> bytes:
    html = {"Links": links} if head is None else {"Head": head, "Links": links}
    meta = {"HTTP-Response-Metadata": {"HTML-Metadata": html}}
    env = {"Payload-Metadata": meta, "WARC-Header-Metadata": {"WARC-Target-URI": "http://p/a/"}}
    return json.dumps({"Envelope": env}).encode()[:-1] + extra.encode() + b"}"


ODD_RECORDS = [
    _wat([{"path": "IMG@/src", "url": "x.jpg", "alt": "a"}]),
    _wat([{"path": "IMG@/src", "url": "x.jpg"}], head={"Base": "http://b/c/"}),
    _wat([{"path": "IMG@/src", "url": "y", "alt": "\ud800"}]),  # lone surrogate (orjson refuses)
    _wat([{"path": "IMG@/src", "url": 12, "alt": None}]),  # not strings
    _wat([{"path": "IMG@/src", "url": "z", "size": float("nan")}]),  # NaN (orjson refuses)
    _wat([{"path": "IMG@/src", "url": "big", "n": 10**30}]),  # huge integer (orjson refuses)
    _wat([{"path": "IMG@/src", "url": "first", "url": "last"}]),  # noqa: F601 (dict keeps last)
    _wat(None),
    _wat("a string"),
    _wat([1, [2], {"path": "A@/href", "url": "a"}]),
    _wat([], head=None, extra=', "Envelope": 5'),  # a repeated key: the last one counts
    _wat([{"path": "IMG@/src", "url": "http://[::1/x"}]),  # urljoin raises
    b'{"Envelope": {"Payload-Metadata": {"HTTP-Response-Metadata": {"HTML-Metadata": 5}}}}',
    b'{"Envelope": null, "HTML-Metadata": 1}',
    b"\xef\xbb\xbf" + _wat([{"path": "IMG@/src", "url": "bom"}]),
    b'{"Envelope": {"HTML-Metadata": ' + b"[" * 3000 + b"]" * 3000 + b"}}",
    _wat([{"path": "IMG@/src", "url": "cut"}])[:70],  # truncated JSON
    b"\xff\xfe not utf-8",
]


@pytest.mark.parametrize("body", ODD_RECORDS, ids=range(len(ODD_RECORDS)))
def test_wat_images_answers_as_json_loads_does(body):
    assert _outcome(wat_images, body) == _outcome(_reference, body)


def test_record_without_html_metadata_is_validated_not_walked():
    assert wat_images(b'{"Envelope": {"Payload-Metadata": {}}}') == ("", [])
    assert wat_images(b'{"no envelope": 1}') == ("", [])  # carries no links: nothing to reject
    with pytest.raises(WAT_ERRORS):
        wat_images(b'{"Envelope": {"Payload-Metadata": ')  # malformed: still a reject


def _member(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    return comp.compress(data) + comp.flush()


def _record(body: bytes, kind: str = "metadata") -> bytes:
    head = f"WARC/1.0\r\nWARC-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body + b"\r\n\r\n"


def test_members_and_offsets_are_warcios(small_web):
    for path in sorted(glob.glob(f"{small_web}/crawl/*.gz")):
        with open(path, "rb") as f:
            it = ArchiveIterator(f)
            theirs = [(it.get_record_offset(), r.rec_type, r.raw_stream.read()) for r in it]
        ours = [(r.offset, r.rec_type, r.block) for r in iter_records(path)]
        assert [t[:2] for t in ours] == [t[:2] for t in theirs]
        assert all(o[2].endswith(t[2]) for o, t in zip(ours, theirs, strict=True))


def test_bad_member_is_a_record_error_and_reading_goes_on(tmp_path):
    good = _member(_record(_wat([{"path": "IMG@/src", "url": "a.jpg"}])))
    path = tmp_path / "mixed.warc.wat.gz"
    path.write_bytes(good + _member(b"not a warc record at all") + good + b"\x00" * 8)
    records = list(read_wat(str(path)))
    assert [r.reason or r.url for r in records] == [
        "http://p/a/a.jpg",
        "malformed_record",
        "http://p/a/a.jpg",
    ]
    assert records[1].source == f"mixed.warc.wat.gz#{len(good)}"


def test_cut_file_raises_truncated_archive(tmp_path):
    data = _member(_record(b"{}")) + _member(_record(b'{"a": 1}'))
    with pytest.raises(TruncatedArchive):
        list(iter_members(io.BytesIO(data[:-5])))
    path = tmp_path / "cut.warc.wat.gz"
    path.write_bytes(data[:-5])
    last = list(read_wat(str(path)))[-1]  # the cut is named with the offset where it is
    assert last.reason == "truncated_file" and last.source.split("#")[1].isdigit()


def test_oversized_member_is_a_reject_not_a_memory_spike(tmp_path, monkeypatch):
    monkeypatch.setattr(warcgz, "MAX_RECORD_BYTES", 1000)
    big = _member(_record(b" " * 5000))
    small = _member(_record(_wat([{"path": "IMG@/src", "url": "s.jpg"}])))
    path = tmp_path / "big.warc.wat.gz"
    path.write_bytes(big + small)
    records = list(read_wat(str(path)))
    assert [r.reason for r in records] == ["malformed_record", ""]
    assert "over 1000 bytes" in records[0].detail


def test_plain_and_single_member_warcs_read_like_the_gzip_one(small_web, tmp_path):
    src = sorted(glob.glob(f"{small_web}/crawl/*[0-9].warc.gz"))[0]
    plain = tmp_path / "plain.warc"
    plain.write_bytes(gzip.decompress(open(src, "rb").read()))
    packed = tmp_path / "packed.warc.gz"  # the whole file as one gzip member
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    want = [(r.url, r.caption, r.page_url) for r in read_warc(src)]
    assert want and all(not r.rejected for r in read_warc(src))
    for path in (plain, packed):
        assert [(r.url, r.caption, r.page_url) for r in read_warc(str(path))] == want


def test_html5_parsing_where_htmlparser_was_not_html5():
    html = b"""<html><head><title>a <img src="t.jpg"></title><base href="/b/"></head><body>
    <img src="x.jpg?a=1&copy=2" alt="one" alt="two"><textarea><img src="ta.jpg"></textarea>
    <noscript><img src="ns.jpg" alt="kept"></noscript><base href="/ignored/">
    <picture><source srcset="a.webp"><img src="p.jpg" alt="p"><source srcset="no.webp"></picture>
    </body>"""
    assert extract_images(html, "http://h/p") == [
        ("http://h/b/x.jpg?a=1&copy=2", "one"),
        ("http://h/b/ns.jpg", "kept"),
        ("http://h/b/p.jpg", "p"),
        ("http://h/b/a.webp", "p"),  # the sources before the <img>, as before
    ]


def test_bench_corpus_is_seeded_and_read_consistently(tmp_path, monkeypatch):
    from bench.cc_corpus import corpus

    monkeypatch.setenv("WIT_BENCH_CACHE", str(tmp_path / "a"))
    warc, wat = corpus(pages=30, seed=3)
    monkeypatch.setenv("WIT_BENCH_CACHE", str(tmp_path / "b"))
    again = corpus(pages=30, seed=3)
    assert [open(p, "rb").read() for p in (warc, wat)] == [open(p, "rb").read() for p in again]
    from_wat = {(r.url, r.caption) for r in read_wat(wat) if r.caption}
    from_warc = {(r.url, r.caption) for r in read_warc(warc)}
    assert len(from_wat) > 100 and from_wat <= from_warc  # alt-text pairs agree between them
