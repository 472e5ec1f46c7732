"""The records of a WARC/WAT file at the speed of decompression: one gzip member per record.

Common Crawl (and warcio's writer) compress every record as its own gzip member. This layer
inflates member by member with ISA-L (`isal`, ~2x zlib; zlib where it is missing), finds the
few WARC header fields the readers need (no full header parse) and yields `WarcRecord`s with
the member's offset in the compressed file (the offset warcio reports), in bounded memory: one member at a time, a record's
inflated size capped at `MAX_RECORD_BYTES`. A bad member is a record with an `error` (the reader
rejects it and goes on); a file that ends inside a member raises `TruncatedArchive`. Files that
are not gzip (plain WARC, ARC) go through warcio unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import zlib
from collections.abc import Iterator
from typing import IO, NamedTuple

from pipeline import storage
from pipeline.readguard import Truncated, archive_truncation, checked_archive_iterator

try:
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - isal is a core dependency; zlib is the same API
    _inflate = zlib  # type: ignore[assignment]

__all__ = [
    "WarcRecord",
    "TruncatedArchive",
    "iter_records",
    "iter_members",
    "http_payload",
    "MAX_RECORD_BYTES",
]

MAX_RECORD_BYTES = 64 << 20  # Common Crawl truncates payloads at 1 MiB (5 MiB since 2025)
_READ = 1 << 22  # bytes read from the stream at a time
_FEED = 1 << 13  # compressed bytes first fed to the inflater (keeps the copies small)
_GZIP = b"\x1f\x8b"


class TruncatedArchive(Truncated, EOFError):
    """The file ends inside a gzip member (or a record): it was cut short at `offset`."""

    def __init__(self, detail: str, offset: int | str = "end") -> None:
        super().__init__(offset, detail)


class WarcRecord(NamedTuple):
    """One record: its member's offset, WARC-Type, header block, content block."""

    offset: int
    rec_type: str
    head: bytes  # the WARC header lines, as written
    block: bytes  # the record's content block (Content-Length bytes after the headers)
    error: str = ""  # why the member is not a readable record ("" when it is)

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), stripped; None if absent."""
        pattern = _FIELDS.get(name) or _field(name)
        m = pattern.search(self.head)
        return m.group(1).decode("utf-8", "replace").strip() if m else None


def _field(name: str) -> re.Pattern[bytes]:
    pattern = rb"^[ \t]*" + re.escape(name.encode()) + rb"[ \t]*:([^\r\n]*)"
    return _FIELDS.setdefault(name, re.compile(pattern, re.I | re.M))


_FIELDS: dict[str, re.Pattern[bytes]] = {}


class _Window:
    """A sliding window over a byte stream that knows the stream offset of each byte."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream, self.buf, self.pos, self.base = stream, b"", 0, 0

    def more(self) -> bool:
        """Append the next read to the window; False at the end of the stream."""
        chunk = self.stream.read(_READ)
        if not chunk:
            return False
        self.base += self.pos
        self.buf, self.pos = self.buf[self.pos :] + chunk, 0
        return True

    def ready(self) -> bool:
        """True while bytes remain (reading more when the window is empty)."""
        return self.pos < len(self.buf) or self.more()


def _inflate_member(win: _Window) -> tuple[bytes, bool]:
    """Inflate the member at the window's position: (bytes, False), or (b"", True) if too big."""
    inflater, out, size, feed = _inflate.decompressobj(31), [], 0, _FEED
    while True:
        if not win.ready():
            raise TruncatedArchive(
                f"the file ends inside the gzip member at {win.base + win.pos}", win.base + win.pos
            )
        piece = win.buf[win.pos : win.pos + feed]
        feed = min(feed * 4, _READ)  # small first: most records are a few kB compressed
        data = inflater.decompress(piece)
        size += len(data)
        if size <= MAX_RECORD_BYTES:
            out.append(data)
        else:
            out = []
        if inflater.eof:
            win.pos += len(piece) - len(inflater.unused_data)
            return b"".join(out), size > MAX_RECORD_BYTES
        win.pos += len(piece)


def iter_members(stream: IO[bytes]) -> Iterator[tuple[int, bytes, bool]]:
    """(offset, inflated bytes, too_big) for each gzip member of `stream`; zero padding skipped."""
    win = _Window(stream)
    while win.ready():
        if win.buf[win.pos] == 0:  # padding between or after members, as gzip tolerates
            win.pos += 1
            continue
        start = win.base + win.pos
        data, too_big = _inflate_member(win)
        yield start, data, too_big


def _parse(offset: int, data: bytes, start: int = 0) -> tuple[WarcRecord, int]:
    """The WARC record at `data[start:]` (headers and content block), and where it ends."""
    end, sep = data.find(b"\r\n\r\n", start), 4
    if end < 0:
        end, sep = data.find(b"\n\n", start), 2
    if end < 0 or not data.startswith(b"WARC/", start):
        return WarcRecord(offset, "", b"", b"", "not a WARC record"), len(data)
    rec = WarcRecord(offset, "", data[start:end], b"")
    try:
        length = max(0, int(rec.header("Content-Length") or ""))
    except ValueError:
        length = 0 if rec.header("Content-Length") is not None else len(data)
    block = data[end + sep : end + sep + length]
    rec = rec._replace(rec_type=rec.header("WARC-Type") or "", block=block)
    return rec, end + sep + length


def _member_records(offset: int, data: bytes) -> Iterator[WarcRecord]:
    """The records of one member: one in Common Crawl's files, several if a writer packed them."""
    pos = 0
    while pos < len(data):
        record, pos = _parse(offset, data, pos)
        yield record
        while pos < len(data) and data[pos] in b"\r\n":
            pos += 1


class _Prefixed(io.RawIOBase):
    """The bytes already read (`head`), then the rest of `stream`: for warcio's fallback."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self.head, self.stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        data = self.head[: len(b)] or self.stream.read(len(b))
        self.head = self.head[len(data) :]
        b[: len(data)] = data
        return len(data)


def _warcio_records(stream: IO[bytes]) -> Iterator[WarcRecord]:
    iterator = checked_archive_iterator(stream, arc2warc=True, no_record_parse=True)
    for rec in iterator:
        block = rec.content_stream().read()
        head = "".join(f"{k}: {v}\r\n" for k, v in rec.rec_headers.headers).encode()
        yield WarcRecord(iterator.get_record_offset(), rec.rec_type, head, block)
    if detail := archive_truncation(iterator):  # warcio stops quietly at a cut: say so
        raise TruncatedArchive(detail, iterator.offset)


def iter_records(path: str) -> Iterator[WarcRecord]:
    """Every record of a WARC/WAT file (`.gz` member per record, or plain WARC/ARC via warcio)."""
    with contextlib.closing(storage.open_read(path)) as stream:
        head = stream.read(2)
        if head != _GZIP:
            yield from _warcio_records(io.BufferedReader(_Prefixed(head, stream)))
            return
        for offset, data, too_big in iter_members(_Prefixed(head, stream)):  # type: ignore[arg-type]
            if too_big:
                yield WarcRecord(offset, "", b"", b"", f"record over {MAX_RECORD_BYTES} bytes")
            else:
                yield from _member_records(offset, data)


@functools.lru_cache(maxsize=1)
def _loader():  # type: ignore[no-untyped-def]
    from warcio.recordloader import ArcWarcRecordLoader

    return ArcWarcRecordLoader()


def http_payload(rec: WarcRecord) -> tuple[str, str, bytes, dict[str, str]]:
    """(target URI, Content-Type, decoded payload, HTTP headers) of a response, as warcio reads it.

    warcio's own HTTP parser and decoders (chunked, gzip, br) run on the record's block, so the
    payload is the bytes `ArchiveIterator(...).content_stream()` gives.
    """
    from warcio.limitreader import LimitReader
    from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader

    uri = rec.header("WARC-Target-URI") or ""
    if uri.startswith("<") and uri.endswith(">"):  # warcio's fix for Wget 1.19's brackets
        uri = uri[1:-1]
    uri = uri.replace(" ", "%20")
    if not rec.block or not uri.startswith(ArcWarcRecordLoader.HTTP_SCHEMES):
        return uri, "", rec.block, {}
    stream = io.BytesIO(rec.block)
    http = _loader().http_parser.parse(stream)
    rest = LimitReader(stream, len(rec.block) - stream.tell())
    record = ArcWarcRecord("warc", "response", None, rest, http, "", len(rec.block))
    ctype = http.get_header("Content-Type", "") or ""
    return uri, ctype, record.content_stream().read(), dict(http.headers)
