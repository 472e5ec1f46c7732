"""Render bench/cc_corpus.py's page models as Common Crawl records: WARC (HTML) and WAT (JSON).

The WAT JSON follows ia-web-commons' layout (`Container`, then `Envelope` with
`Payload-Metadata` first and `WARC-Header-Metadata` last, as in ../shared/data/commoncrawl);
its `Links` are the page's `<a>`, `<img>` and `<form>` in document order, with attribute values
as written (not resolved), and its `Head` carries the title, metas, `<link>`s, scripts and base.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import zlib
from html import escape
from random import Random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.cc_corpus import Page, _Words

__all__ = ["member", "record_id", "render_warc", "render_wat"]

_DATE = "2024-05-18T01:58:10Z"
Records = list[tuple[list[tuple[str, str]], bytes]]
_CLASSES = [
    "entry-content",
    "wp-block-group",
    "post-body",
    "col-md-8 article",
    "section inner",
    "container mx-auto px-4",
    "elementor-widget-container",
]


def record_id(*parts: object) -> str:
    """A WARC-Record-ID derived from `parts` (deterministic)."""
    digest = hashlib.md5("|".join(map(str, parts)).encode()).digest()
    return f"<urn:uuid:{uuid.UUID(bytes=digest)}>"


def member(headers: list[tuple[str, str]], body: bytes) -> bytes:
    """One WARC record as its own gzip member (Common Crawl's layout, zlib level 6)."""
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"Content-Length: {len(body)}\r\n\r\n"
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    return comp.compress(head.encode() + body + b"\r\n\r\n") + comp.flush()


def _dumps(obj: object) -> bytes:
    """JSON as ia-web-commons writes it: compact, raw UTF-8, `</` written as `<\\/`."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").encode("utf-8", "surrogatepass")


def _attrs(attrs: dict) -> str:
    return "".join(
        f' {k}="{escape(str(v))}"'
        for k, v in attrs.items()
        if not k.startswith("_") and k != "text"
    )


def _element(tag: str, attrs: dict) -> str:
    if tag == "img":
        img = f'<img{_attrs(attrs)} loading="lazy">'
        if attrs.get("_picture"):
            webp = attrs["src"].rsplit(".", 1)[0] + ".webp"
            return f'<picture><source srcset="{escape(webp)}" type="image/webp">{img}</picture>'
        return img
    if tag == "a":
        return f"<a{_attrs(attrs)}>{escape(attrs['text'])}</a>"
    return f'<form{_attrs(attrs)}><input type="search" name="q"><button>Go</button></form>'


def _head(page: Page) -> list[str]:
    out = ['<meta charset="utf-8">', f"<title>{escape(page.title)}</title>"]
    if page.base:
        out.append(f'<base href="{escape(page.base)}">')
    out += [f'<meta name="{k}" content="{escape(v)}">' for k, v in page.metas]
    out += [f'<link rel="{rel}" href="{escape(href)}">' for rel, href in page.head_links]
    out += [f'<script src="{escape(src)}" async></script>' for src in page.scripts]
    return out


def _html(page: Page, words: _Words, rng: Random) -> str:
    """The page's HTML: head, then body elements between paragraphs, filled to `html_kb`."""
    parts = ["<!DOCTYPE html>", f'<html lang="{page.lang}"><head>', *_head(page), "</head><body>"]
    budget = page.html_kb * 1000 - sum(map(len, parts))
    per_gap = max(0, budget // (len(page.body) + 1) // 9)  # ~9 bytes per word with markup
    for tag, attrs in page.body:
        if per_gap and rng.random() < 0.5:
            for chunk in range(0, 2 * per_gap, 30):  # a theme's markup around every paragraph
                text = escape(words.text(rng, page.lang, min(30, 2 * per_gap - chunk), 0.3))
                parts.append(
                    f'<div class="{_CLASSES[chunk % 7]}"><p class="has-text">{text}</p></div>'
                )
        parts.append(_element(tag, attrs))
    if rng.random() < 0.7:  # an inline script: analytics, JSON-LD
        parts.append(f"<script>var cfg={json.dumps({'k': words.text(rng, 'en', 40)})};</script>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _http_response(page: Page, words: _Words, rng: Random) -> tuple[bytes, str, bool]:
    if page.mime != "text/html":
        body = rng.randbytes(min(200_000, page.html_kb * 1000))
        charset = ""
    else:
        charset = (
            "windows-1252" if page.lang in ("de", "fr", "es") and rng.random() < 0.1 else "UTF-8"
        )
        html = _html(page, words, rng)
        body = html.encode(charset, "xmlcharrefreplace")
    truncated = len(body) > 1 << 20
    body = body[: 1 << 20]
    ctype = page.mime + (f"; charset={charset}" if charset else "")
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nServer: nginx\r\n"
    head += f"Date: Sat, 18 May 2024 01:58:10 GMT\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body, ctype, truncated


def render_warc(page: Page, words: _Words, rng: Random) -> Records:
    """The request, response and metadata WARC records of one capture."""
    host = page.url.split("/")[2]
    req = f"GET /{page.url.split('/', 3)[3]} HTTP/1.1\r\nHost: {host}\r\n"
    req += "User-Agent: CCBot/2.0 (https://commoncrawl.org/faq/)\r\n\r\n"
    response, _, truncated = _http_response(page, words, rng)
    meta = f"fetchTimeMs: {rng.randint(20, 4000)}\r\ncharset-detected: UTF-8\r\n"
    common = [("WARC-Date", _DATE), ("WARC-Target-URI", page.url)]
    resp_headers = [("WARC-Type", "response"), *common]
    resp_headers += [("WARC-Record-ID", record_id("response", page.url))]
    resp_headers += [("Content-Type", "application/http; msgtype=response")]
    if truncated:
        resp_headers.append(("WARC-Truncated", "length"))
    return [
        (
            [
                ("WARC-Type", "request"),
                *common,
                ("WARC-Record-ID", record_id("request", page.url)),
                ("Content-Type", "application/http; msgtype=request"),
            ],
            req.encode(),
        ),
        (resp_headers, response),
        (
            [
                ("WARC-Type", "metadata"),
                *common,
                ("WARC-Record-ID", record_id("meta", page.url)),
                ("Content-Type", "application/warc-fields"),
            ],
            meta.encode(),
        ),
    ]


def _html_metadata(page: Page) -> dict:
    head: dict = {"Title": page.title}
    if page.base:
        head["Base"] = page.base
    head["Metas"] = [{"name": k, "content": v} for k, v in page.metas]
    head["Link"] = [{"path": "LINK@/href", "url": h, "rel": r} for r, h in page.head_links]
    head["Scripts"] = [{"path": "SCRIPT@/src", "url": s} for s in page.scripts]
    links = []
    for tag, attrs in page.body:
        if tag == "img":
            link = {"path": "IMG@/src", "url": attrs["src"]}
            link.update({k: attrs[k] for k in ("alt", "title") if k in attrs})
        elif tag == "a":
            link = {"path": "A@/href", "url": attrs["href"], "text": attrs["text"]}
        else:
            link = {"path": "FORM@/action", "url": attrs["action"], "method": attrs["method"]}
        links.append(link)
    return {"Head": head, "Links": links}


def _payload(kind: str, page: Page, body: bytes) -> dict:
    if kind == "request":
        return {
            "Actual-Content-Type": "application/http; msgtype=request",
            "HTTP-Request-Metadata": {
                "Request-Message": {"Method": "GET", "Version": "HTTP/1.1"},
                "Headers": {"User-Agent": "CCBot/2.0", "Host": page.url.split("/")[2]},
            },
        }
    if kind == "metadata":
        return {
            "Actual-Content-Type": "application/warc-fields",
            "WARC-Metadata-Metadata": {
                "Metadata-Records": [
                    {"Name": k, "Value": v.strip()}
                    for k, v in (line.split(":", 1) for line in body.decode().splitlines() if line)
                ]
            },
        }
    head_len = body.index(b"\r\n\r\n") + 4
    http: dict = {
        "Response-Message": {"Status": "200", "Version": "HTTP/1.1", "Reason": "OK"},
        "Headers-Length": str(head_len),
        "Headers": {"Content-Type": page.mime, "Server": "nginx"},
        "Entity-Length": str(len(body) - head_len),
        "Entity-Trailing-Slop-Length": "0",
    }
    if page.mime == "text/html":
        http["HTML-Metadata"] = _html_metadata(page)
    return {
        "Actual-Content-Type": "application/http; msgtype=response",
        "HTTP-Response-Metadata": http,
    }


def render_wat(page: Page, warc: Records, warc_name: str, offset: int) -> Records:
    """One WAT `metadata` record (JSON) for each WARC record of the capture."""
    out: Records = []
    for headers, body in warc:
        fields = dict(headers)
        kind = fields["WARC-Type"]
        envelope = {
            "Payload-Metadata": _payload(kind, page, body),
            "Format": "WARC/1.0",
            "WARC-Header-Length": str(sum(len(k) + len(v) + 4 for k, v in headers)),
            "WARC-Header-Metadata": {**fields, "Content-Length": str(len(body))},
        }
        doc = {
            "Container": {"Filename": warc_name, "Compressed": True, "Offset": str(offset)},
            "Envelope": envelope,
        }
        meta = [
            ("WARC-Type", "metadata"),
            ("WARC-Target-URI", page.url),
            ("WARC-Date", _DATE),
            ("WARC-Record-ID", record_id("wat", kind, page.url)),
            ("WARC-Refers-To", fields["WARC-Record-ID"]),
            ("Content-Type", "application/json"),
        ]
        out.append((meta, _dumps(doc)))
    return out
