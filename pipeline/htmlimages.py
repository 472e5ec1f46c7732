"""Extract (image URL, alt text) pairs from an HTML page with an HTML5 parser (lexbor).

Handles `<base href>`, `<img src|srcset alt title>`, `<picture><source srcset>` (sharing the
inner `<img>`'s alt), relative and protocol-relative URLs, and charset detection from the
BOM, the Content-Type header, a `<meta charset>`, then UTF-8 or windows-1252 (the HTML standard's
fallback). lexbor (through selectolax) parses as browsers do,
several times faster than the standard library's HTMLParser it replaces (bench/read.py), and
so differs from it where HTMLParser is not HTML5: text inside `<title>`, `<textarea>` and `<template>` is not
markup; the first `<base href>` applies to the whole page; with a repeated attribute the first
counts; entities in attributes follow HTML5 (`?a=1&copy=2` stays as written); CR LF is LF.
"""

from __future__ import annotations

import codecs
import re
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from pipeline.watlinks import Resolver

__all__ = ["extract_images", "extract_page", "meta_tags", "decode_html"]

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-:.]+)""", re.I)
_IMG = re.compile(r"<img", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-:.]+)", re.I)


# Labels the Encoding Standard maps to windows-1252 (a page saying latin-1 is read as 1252).
_WINDOWS_1252_LABELS = frozenset(
    "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1"
    " iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252".split()
)
# windows-1252 as browsers decode it: the five bytes cp1252 leaves undefined map to C1 controls.
_WINDOWS_1252 = "".join(bytes([i]).decode("cp1252", "ignore") or chr(i) for i in range(256))
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(body: bytes, label: str) -> str:
    if label.strip().lower() in _WINDOWS_1252_LABELS:
        return codecs.charmap_decode(body, "strict", _WINDOWS_1252)[0]
    return body.decode(label)


def decode_html(body: bytes, content_type: str = "") -> str:
    """Decode HTML bytes as the HTML standard does: BOM, header charset, `<meta charset>`, else a guess.

    With no usable declaration, bytes that are valid UTF-8 are UTF-8, and anything else is
    windows-1252 (the standard's default for legacy pages in most locales; a UTF-8 check first
    is the 'frequency analysis' it permits), so a legacy page's alt texts survive.
    """
    for bom, charset in _BOMS:
        if body.startswith(bom):
            return body.decode(charset, "replace")
    candidates = []
    if m := _HEADER_CHARSET.search(content_type or ""):
        candidates.append(m.group(1))
    if m := _META_CHARSET.search(body[:4096]):
        candidates.append(m.group(1).decode("ascii", "replace"))
    for charset in [*candidates, "utf-8"]:
        try:
            return _decode(body, charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return _decode(body, "windows-1252")


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


def extract_page(
    body: bytes, page_url: str, content_type: str = ""
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(image URL, alt) pairs in document order, and the (name, content) meta tags of a page.

    A page without an `<img>` is not parsed: it has no images for its meta tags to refuse.
    """
    text = decode_html(body, content_type)
    if not _IMG.search(text):  # no <img> tag: nothing to parse
        return [], []
    images: list[tuple[str, str]] = []
    metas: list[tuple[str, str]] = []
    try:
        tree = LexborHTMLParser(text)
        metas = _metas(tree)
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
    return images, metas


def meta_tags(body: bytes, content_type: str = "") -> list[tuple[str, str]]:
    """The (name, content) pairs of a page's named `<meta>` tags, in document order."""
    return _metas(LexborHTMLParser(decode_html(body, content_type)))


def _metas(tree: LexborHTMLParser) -> list[tuple[str, str]]:
    return [
        (m.attributes.get("name") or "", m.attributes.get("content") or "")
        for m in tree.css("meta[name]")
        if m.attributes.get("name")
    ]


def extract_images(body: bytes, page_url: str, content_type: str = "") -> list[tuple[str, str]]:
    """All (absolute image URL, alt text) pairs of a page, in document order."""
    return extract_page(body, page_url, content_type)[0]
