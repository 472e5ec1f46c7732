"""Record isolation for the readers: valid text, and a file that ends badly is reported as such.

Every reader's records pass through `guard(path, records)`, which

- makes every text field valid Unicode (`pipeline.text.valid_text`: a lone surrogate from a JSON
  `"\\ud83d"` would crash any later encoder), and
- turns an exception that escapes the reader (a corrupt gzip member, an unreadable table, a
  `Truncated` raised by the archive iterator) into one `read/truncated_file` reject row naming
  the file and the offset, so the job goes on and the summary shows the input was incomplete.

Per-record failures stay with the readers (`read/malformed_record`, and reading goes on).

    for record in guard(path, read_wat(path)): ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from pipeline.schema import Record, Stage, reject
from pipeline.text import valid_text

__all__ = [
    "TRUNCATED_FILE",
    "Truncated",
    "archive_truncation",
    "checked_archive_iterator",
    "guard",
    "file_reject",
    "failure",
]

TRUNCATED_FILE = "truncated_file"


class Truncated(Exception):
    """A file ended (or broke) before its last record was complete."""

    def __init__(self, offset: int | str, detail: str) -> None:
        super().__init__(detail)
        self.offset, self.detail = offset, detail


def _cut_short(iterator: Any) -> str:
    decompressor = getattr(iterator.reader, "decompressor", None)
    if decompressor is not None and not decompressor.eof:
        return "gzip member cut short (file truncated)"
    ended, parsed = iterator.fh.tell(), iterator.offset
    if ended > parsed:
        return f"{ended - parsed} bytes after the last complete record (file truncated)"
    headers = getattr(iterator.record, "rec_headers", None)
    if headers is not None and headers.get_header("Content-Length") is None:
        return "last record header cut short (file truncated)"
    left = getattr(getattr(iterator.record, "raw_stream", None), "limit", 0)
    if isinstance(left, int) and left > 0:
        return f"last record {left} bytes short of its Content-Length (file truncated)"
    return ""


def checked_archive_iterator(stream: Any, **kw: Any) -> Any:
    """A warcio `ArchiveIterator` that remembers whether the file ended early.

    warcio stops quietly at a cut: a gzip member without its end, or a record whose
    Content-Length runs past the end of the file, just yields fewer records. Its `close()`
    (called when the records run out) drops the state that shows it, so look first.
    """
    from warcio.archiveiterator import ArchiveIterator

    class _Checked(ArchiveIterator):
        truncation = ""

        def close(self) -> None:
            if self.reader is not None and not self.truncation:
                self.truncation = _cut_short(self)
            super().close()

    return _Checked(stream, **kw)


def archive_truncation(iterator: Any) -> str:
    """Why an exhausted `checked_archive_iterator` ended early ("" if it ended cleanly)."""
    return getattr(iterator, "truncation", "")


def file_reject(path: str, offset: int | str, detail: str) -> Record:
    """The `read/truncated_file` row of a file that ended or broke at `offset`."""
    source = f"{os.path.basename(path)}#{offset}"
    return reject(
        Record(url="", caption="", source=source), Stage.READ, TRUNCATED_FILE, valid_text(detail)
    )


def failure(path: str, err: Exception, where: int | str = "end") -> Record:
    """The `read/truncated_file` row of a reader that stopped on `err` (at `where` unless known)."""
    if isinstance(err, Truncated):
        return file_reject(path, err.offset, err.detail)
    return file_reject(path, where, f"{type(err).__name__}: {err}")


def _valid(record: Record) -> Record:
    text = "".join((record.url, record.caption, record.page_url, record.source, record.detail))
    if text.isascii():  # the common case, and the cheapest check (the reader is the hot path)
        return record
    try:
        text.encode("utf-8")
        return record
    except UnicodeEncodeError:
        pass
    fields = ("url", "caption", "page_url", "source", "detail")
    return replace(record, **{f: valid_text(getattr(record, f)) for f in fields})


def guard(path: str, records: Iterator[Record]) -> Iterator[Record]:
    """`records` with valid text; an exception escaping the reader becomes a reject row."""
    count = 0
    try:
        for record in records:
            count += 1
            yield _valid(record)
    except Exception as err:  # the reader could not go on: blame the file, keep the job going
        yield failure(path, err, f"after-{count}")
