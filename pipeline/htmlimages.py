"""Extract (image URL, alt text) pairs from an HTML page with an HTML5 parser (lexbor).

Handles `<base href>`, `<img src|srcset alt title>`, `<picture><source srcset>` (sharing the
inner `<img>`'s alt), relative and protocol-relative URLs, and charset detection from the
Content-Type header or a `<meta charset>`. lexbor (through selectolax) parses as browsers do,
several times faster than the standard library's HTMLParser it replaces (bench/read.py), and
so differs from it where HTMLParser is not HTML5: text inside `<title>`, `<textarea>` and `<template>` is not
markup; the first `<base href>` applies to the whole page; with a repeated attribute the first
counts; entities in attributes follow HTML5 (`?a=1&copy=2` stays as written); CR LF is LF.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from pipeline.watlinks import Resolver

__all__ = ["extract_images", "decode_html"]

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-:.]+)""", re.I)
_IMG = re.compile(r"<img", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-:.]+)", re.I)


def decode_html(body: bytes, content_type: str = "") -> str:
    """Decode HTML bytes using the header charset, then `<meta charset>`, then UTF-8."""
    candidates = []
    if m := _HEADER_CHARSET.search(content_type or ""):
        candidates.append(m.group(1))
    if m := _META_CHARSET.search(body[:4096]):
        candidates.append(m.group(1).decode("ascii", "replace"))
    for charset in [*candidates, "utf-8"]:
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", "replace")


def _best_srcset(srcset: str) -> str:
    """The largest candidate of a `srcset` (by its `w`/`x` descriptor)."""
    best, best_size = "", -1.0
    for part in srcset.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        size = 1.0
        if len(bits) > 1 and bits[1][:-1].replace(".", "", 1).isdigit():
            size = float(bits[1][:-1])
        if size > best_size:
            best, best_size = bits[0], size
    return best


def _picture_sources(img: LexborNode) -> list[str]:
    """The `srcset`s of the `<source>`s before `img` in its `<picture>` (largest candidate)."""
    parent, sources = img.parent, []
    if parent is None or parent.tag != "picture":
        return sources
    for child in parent.iter():
        if child.mem_id == img.mem_id:
            break
        if child.tag == "source" and (srcset := child.attributes.get("srcset")):
            sources.append(_best_srcset(srcset))
    return sources


def _base(tree: LexborHTMLParser, page_url: str) -> str:
    """The document's base URL: the first `<base href>`, resolved against the page (HTML5)."""
    for node in tree.css("base[href]"):
        if href := (node.attributes.get("href") or "").strip():
            return urljoin(page_url, href)
    return page_url


def extract_images(body: bytes, page_url: str, content_type: str = "") -> list[tuple[str, str]]:
    """All (absolute image URL, alt text) pairs of a page, in document order."""
    text = decode_html(body, content_type)
    if not _IMG.search(text):  # no <img> tag: nothing to parse
        return []
    images: list[tuple[str, str]] = []
    try:
        tree = LexborHTMLParser(text)
        join = Resolver(_base(tree, page_url))
        for img in tree.css("img"):
            a = img.attributes
            alt = a.get("alt") or a.get("title") or ""
            srcs = [(a.get("src") or "").strip()]
            if not srcs[0] and a.get("srcset"):
                srcs = [_best_srcset(a["srcset"])]  # type: ignore[arg-type]
            images += [(join(src), alt) for src in srcs + _picture_sources(img) if src]
    except Exception:  # an unparseable URL or markup: keep the images before it
        pass
    return images
