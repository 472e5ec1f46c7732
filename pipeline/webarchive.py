"""Write Common Crawl-format WARC (responses) and WAT (JSON metadata) files with warcio.

Record ids and dates are derived from the page URL, so the files are byte-identical per input.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from collections.abc import Sequence

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.htmlimages import meta_tags

__all__ = ["write_crawl", "wat_payload"]

_DATE = "2026-01-01T00:00:00Z"
_CRAWL = "CC-MAIN-2026-01-sample"


def _record_id(*parts: str) -> str:
    return f"<urn:uuid:{uuid.UUID(bytes=hashlib.md5('|'.join(parts).encode()).digest())}>"


def wat_payload(
    page_url: str,
    warc_name: str,
    links: Sequence[tuple[str, str]],
    metas: Sequence[tuple[str, str]] = (),
) -> dict:
    """The WAT JSON of an HTML response, in Common Crawl's layout (`Links` with `IMG@/src`;
    named `<meta>` tags, if any, in `Head/Metas`)."""
    wat_links = [{"path": "IMG@/src", "url": url, "alt": alt} for url, alt in links]
    wat_links.append({"path": "A@/href", "url": "/pages/", "text": "more"})
    head: dict = {"Title": page_url}
    if metas:
        head["Metas"] = [{"name": name, "content": content} for name, content in metas]
    return {
        "Container": {"Filename": warc_name, "Compressed": True},
        "Envelope": {
            "Format": "WARC",
            "WARC-Header-Metadata": {"WARC-Type": "response", "WARC-Target-URI": page_url},
            "Payload-Metadata": {
                "Actual-Content-Type": "application/http; msgtype=response",
                "HTTP-Response-Metadata": {
                    "Response-Message": {"Status": "200", "Version": "HTTP/1.1"},
                    "Headers": {"Content-Type": "text/html; charset=utf-8"},
                    "HTML-Metadata": {"Head": head, "Links": wat_links},
                },
            },
        },
    }


def _headers(uri: str, kind: str) -> dict[str, str]:
    return {"WARC-Record-ID": _record_id(kind, uri), "WARC-Date": _DATE}


def _write_warc(path: str, pages: Sequence[tuple[str, bytes, object]]) -> None:
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for url, html, _ in pages:
            http = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            record = writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(html),
                length=len(html),
                http_headers=http,
                warc_headers_dict=_headers(url, "response"),
            )
            writer.write_record(record)


def _write_wat(
    path: str, warc_name: str, pages: Sequence[tuple[str, bytes, Sequence]], malformed: bool
) -> None:
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for i, (url, html, links) in enumerate(pages):
            metas = meta_tags(html)
            body = json.dumps(wat_payload(url, warc_name, links, metas), sort_keys=True).encode()
            if malformed and i == 1:  # one damaged record, as real crawls have
                body = body[: len(body) // 3]
            record = writer.create_warc_record(
                url,
                "metadata",
                payload=io.BytesIO(body),
                length=len(body),
                warc_content_type="application/json",
                warc_headers_dict=_headers(url, "metadata"),
            )
            writer.write_record(record)


def write_crawl(
    out_dir: str, pages: Sequence[tuple[str, bytes, Sequence]], files: int = 2
) -> list[str]:
    """Split `pages` (url, html, links) over `files` WARC+WAT pairs in `out_dir`; return WAT paths."""
    os.makedirs(out_dir, exist_ok=True)
    wats = []
    for i in range(files):
        chunk = pages[i::files]
        warc_name = f"{_CRAWL}-{i:05d}.warc.gz"
        _write_warc(os.path.join(out_dir, warc_name), chunk)
        wat_path = os.path.join(out_dir, f"{_CRAWL}-{i:05d}.warc.wat.gz")
        _write_wat(wat_path, warc_name, chunk, malformed=i == 0)
        wats.append(wat_path)
    return wats
