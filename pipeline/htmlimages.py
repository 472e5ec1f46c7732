"""Extract (image URL, alt text) pairs from an HTML page with the standard library's HTML parser.

Handles `<base href>`, `<img src|srcset alt title>`, `<picture><source srcset>` (sharing the
inner `<img>`'s alt), relative and protocol-relative URLs, and charset detection as the HTML
standard describes it (BOM, Content-Type header, `<meta charset>`, then UTF-8 or windows-1252).
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from urllib.parse import urljoin

__all__ = ["extract_images", "extract_page", "decode_html"]

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-:.]+)""", re.I)
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


class _ImageParser(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = page_url
        self.images: list[tuple[str, str]] = []
        self.metas: list[tuple[str, str]] = []  # (name, content) of named <meta> tags
        self._picture_sources: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "base" and a.get("href"):
            self.base = urljoin(self.base, a["href"].strip())
        elif tag == "picture":
            self._picture_sources = []
        elif tag == "source" and self._picture_sources is not None and a.get("srcset"):
            self._picture_sources.append(_best_srcset(a["srcset"]))
        elif tag == "img":
            self._add_img(a)
        elif tag == "meta" and a.get("name"):
            self.metas.append((a["name"], a.get("content", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "picture":
            self._picture_sources = None

    def _add_img(self, a: dict[str, str]) -> None:
        alt = a.get("alt", "") or a.get("title", "")
        srcs = [a.get("src", "").strip()]
        if not srcs[0] and a.get("srcset"):
            srcs = [_best_srcset(a["srcset"])]
        srcs += self._picture_sources or []
        for src in srcs:
            if src:
                self.images.append((urljoin(self.base, src), alt))


def extract_page(
    body: bytes, page_url: str, content_type: str = ""
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(image URL, alt) pairs in document order, and the (name, content) meta tags of a page."""
    parser = _ImageParser(page_url)
    try:
        parser.feed(decode_html(body, content_type))
        parser.close()
    except Exception:  # malformed markup: keep what was parsed so far
        pass
    return parser.images, parser.metas


def extract_images(body: bytes, page_url: str, content_type: str = "") -> list[tuple[str, str]]:
    """All (absolute image URL, alt text) pairs of a page, in document order."""
    return extract_page(body, page_url, content_type)[0]
