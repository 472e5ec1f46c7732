"""Hostile input files: what real crawls and URL tables carry that can break a reader.

`write_hostile_inputs(out_dir, image_urls)` writes, per input format, files whose every record
must end as a candidate or a reject row with its own reason (the hostile suite checks it):

- WAT: captions with a lone UTF-16 surrogate (JSON `"\\ud83d"`), bidi overrides and NUL; a
  record nested 100,000 deep (RecursionError) followed by a good one; a file cut mid-member; a
  file corrupted mid-way.
- WARC: a legacy page with no declared charset (windows-1252 bytes); a file cut inside its
  last record.
- JSONL: a surrogate caption, a malformed line, a line that is not an object, a deep line.
- CSV: a field over the csv module's 131,072-character limit between two good rows.

`EXPECTED_INPUT` lists, per format, the reject reasons each run must record.

    paths = write_hostile_inputs("/tmp/hostile-input", {"ok": "http://127.0.0.1:8000/ok.jpg"})
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.webarchive import wat_payload

__all__ = [
    "write_hostile_inputs",
    "archive_bytes",
    "EXPECTED_INPUT",
    "SURROGATE",
    "BIDI_CAPTION",
    "LEGACY_CAPTION",
]

SURROGATE = "a red circle \ud83d half an emoji"
BIDI_CAPTION = "a red circle \u202egnp.exe\u202c and \u2066isolated\u2069 text"
LEGACY_CAPTION = "a red circle in a caf\u00e9 cr\u00e8me \u201cquoted\u201d"  # sent as cp1252
_DEEP = ("[" * 100_000 + "]" * 100_000).encode()

# Reject reasons at the read stage, per format, with their counts.
EXPECTED_INPUT = {
    "wat": {
        "malformed_record": 1,
        "truncated_file": 2,
    },  # the deep record; the cut, the corrupt file
    "warc": {"truncated_file": 1},
    "jsonl": {"malformed_record": 3},
    "csv": {"malformed_record": 1},
}


def archive_bytes(records: Sequence[tuple[str, str, bytes]]) -> bytes:
    """(url, kind, body) records ("response" HTML or "metadata" JSON) as a gzipped WARC."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for url, kind, body in records:
        http = None
        if kind == "response":
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        content_type = "application/json" if kind == "metadata" else None
        writer.write_record(
            writer.create_warc_record(
                url,
                kind,
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=http,
                warc_content_type=content_type,
            )  # fmt: skip
        )
    return buf.getvalue()


def _archive(path: str, records: Sequence[tuple[str, str, bytes]], cut: float = 0.0) -> None:
    """Write records as a gzipped WARC file; `cut` keeps only that fraction of it."""
    data = archive_bytes(records)
    with open(path, "wb") as f:
        f.write(data[: int(len(data) * cut)] if cut else data)


def _wat(page: str, links: list[tuple[str, str]]) -> tuple[str, str, bytes]:
    body = json.dumps(wat_payload(page, "hostile.warc.gz", links)).encode()  # ASCII: "\ud83d"
    return page, "metadata", body


def _corrupt(path: str, at: float) -> None:
    data = bytearray(open(path, "rb").read())
    start = int(len(data) * at)
    data[start : start + 16] = b"\xde\xad\xbe\xef" * 4
    open(path, "wb").write(bytes(data))


def _write_wat(out: str, u: dict[str, str]) -> list[str]:
    page = "http://hostile.test/page"
    _archive(f"{out}/captions.warc.wat.gz", [_wat(page, [
        (u["ok"], BIDI_CAPTION), (u["cmyk"], SURROGATE), (u["exif"], "a red circle\x00 with a NUL"),
    ])])  # fmt: skip
    deep = [
        (page + "/deep", "metadata", _DEEP),
        _wat(page + "/after", [(u["png"], "a red circle after")]),
    ]
    _archive(f"{out}/deep.warc.wat.gz", deep)
    pages = [_wat(f"{page}/{i}", [(f"{u['404']}?cut={i}", f"a red circle {i}")]) for i in range(4)]
    _archive(f"{out}/cut.warc.wat.gz", pages, cut=0.8)
    _archive(f"{out}/corrupt.warc.wat.gz", pages)
    _corrupt(f"{out}/corrupt.warc.wat.gz", 0.4)
    return sorted(f"{out}/{name}" for name in os.listdir(out) if name.endswith(".wat.gz"))


def _write_warc(out: str, u: dict[str, str]) -> list[str]:
    targets = (u["ok"], u["404"], u["404"])
    html = [f'<img src="{url}?warc={i}" alt="a red circle {i}">' for i, url in enumerate(targets)]
    pages = [(f"http://hostile.test/w{i}", "response", h.encode() * 50) for i, h in enumerate(html)]
    legacy = f'<p>no charset anywhere<img src="{u["png"]}?legacy" alt="{LEGACY_CAPTION}">'
    pages.insert(0, ("http://hostile.test/legacy", "response", legacy.encode("cp1252")))
    _archive(f"{out}/cut.warc.gz", pages, cut=0.9)
    return [f"{out}/cut.warc.gz"]


def _write_jsonl(out: str, u: dict[str, str]) -> list[str]:
    lines = [
        json.dumps({"url": u["cmyk"] + "?jsonl", "caption": SURROGATE}),
        '{"url": "http://hostile.test/x.jpg", "caption": "unterminated',
        "[1, 2, 3]",
        '{"url": ' + "[" * 100_000,
        json.dumps({"url": u["ok"] + "?jsonl", "caption": BIDI_CAPTION}),
    ]
    with open(f"{out}/rows.jsonl", "w") as f:
        f.write("\n".join(lines) + "\n")
    return [f"{out}/rows.jsonl"]


def _write_csv(out: str, u: dict[str, str]) -> list[str]:
    with open(f"{out}/rows.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["url", "caption"])
        writer.writerow([u["ok"] + "?csv", "a red circle before"])
        writer.writerow([u["cmyk"] + "?csv", "a red circle " + "x" * 200_000])
        writer.writerow([u["png"] + "?csv", "a red circle after"])
    return [f"{out}/rows.csv"]


def write_hostile_inputs(out_dir: str, image_urls: dict[str, str]) -> dict[str, list[str]]:
    """Write the hostile input files under `out_dir/<format>/`; returns {format: paths}.

    `image_urls` needs keys `ok`, `cmyk`, `exif`, `png` (images that download) and `404`.
    """
    writers = {"wat": _write_wat, "warc": _write_warc, "jsonl": _write_jsonl, "csv": _write_csv}
    paths = {}
    for fmt, write in writers.items():
        os.makedirs(f"{out_dir}/{fmt}", exist_ok=True)
        paths[fmt] = write(f"{out_dir}/{fmt}", image_urls)
    return paths
