"""The image links of one WAT metadata record, fast, with the answer `json.loads` would give.

`wat_images(body)` returns (page URL, [(image URL, alt)]) for the record's `IMG@/src` links,
URLs resolved against the page (or its `<base>`). Three things make it fast:
- a record without the `"HTML-Metadata"` key cannot carry links: it is only validated
  (simdjson's parse, ~1 GB/s, builds no objects; one it refuses takes the full path below, so
  malformed JSON is still a reject; well-formed JSON of another shape is skipped, as it
  carries no links) and yields nothing;
- the rest is parsed with orjson; what orjson refuses and `json` accepts (NaN, huge integers,
  lone surrogates, a UTF-8 BOM) goes through `json.loads`, so the result, or the error that
  makes the record a reject, is the one the standard library gives;
- `Resolver` joins the common URL forms by concatenation, returning exactly what `urljoin` does.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin

import orjson
import simdjson

__all__ = ["wat_images", "wat_document", "wat_links", "resolve", "Resolver", "MARKER", "WAT_ERRORS"]

MARKER = b'"HTML-Metadata"'  # only records whose JSON holds this key can carry image links
WAT_ERRORS = (ValueError, KeyError, TypeError, AttributeError, RecursionError)
_UNSAFE = frozenset("\t\r\n;[]\\")
_SPACES = frozenset("\t\r\n")  # urlsplit removes them before parsing
_ABSOLUTE = re.compile(r"https?://([^/?#]+)")
_HOST = re.compile(r"//([^/?#]+)")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_PATH = re.compile(r"[^?#]*")


def _plain(url: str) -> bool:
    """True when `urljoin` keeps `url`'s query and fragment as written (nothing to normalise)."""
    return (
        url[:1] > " "  # urlsplit strips leading C0 controls and spaces
        and _UNSAFE.isdisjoint(url)
        and not url.endswith(("?", "#"))
        and "?#" not in url
    )


def _dotted(url: str, relative: bool) -> bool:
    """True if the path has `.`/`..` segments (or, relative, empty ones urljoin would drop)."""
    segments = _PATH.match(url).group().split("/")  # type: ignore[union-attr]
    return "." in segments or ".." in segments or (relative and "" in segments[:-1])


class Resolver:
    """`urljoin(base, url)` for one base, with the common URL forms joined by concatenation.

    Absolute `http(s)://host/...`, protocol-relative `//host/...`, root-relative `/path` and
    relative `path` URLs with a plain query and fragment and no dot segments resolve to the same
    string `urljoin` returns (the prefixes come from `urljoin` itself); anything else (dot
    segments, `;` parameters, IPv6 or non-ASCII hosts, other schemes, tabs, backslashes) goes
    through `urljoin`.
    """

    def __init__(self, base: str) -> None:
        self.base, self._dir = base, ""
        m = _ABSOLUTE.match(base)
        self.fast = bool(m and m.group(1).isascii() and _plain(base))
        if self.fast:  # plain ASCII host: urljoin cannot raise on it
            self.scheme, self.root = base[: base.index(":")], m.group()  # type: ignore[union-attr]
            path = _PATH.match(base, len(self.root)).group()  # type: ignore[union-attr]
            segments = path.split("/")
            if "." not in segments and ".." not in segments and "" not in segments[1:-1]:
                self._dir = self.root + (path[: path.rfind("/") + 1] or "/")  # urljoin(base, "x")

    def _relative(self, url: str) -> str:
        if url.startswith("//"):
            if (host := _HOST.match(url)) and host.group(1).isascii():
                return f"{self.scheme}:{url}"
        elif url.startswith("/"):
            if not _dotted(url, False):
                return self.root + url
        elif url[0] not in "?#" and not _dotted(url, True):
            self._dir = self._dir or urljoin(self.base, "x")[:-1]
            return self._dir + url
        return urljoin(self.base, url)

    def __call__(self, url: str) -> str:
        """`urljoin(self.base, url)`."""
        if not self.fast or url[:1] <= " " or not _SPACES.isdisjoint(url):
            return urljoin(self.base, url)
        if m := _SCHEME.match(url):  # absolute
            scheme = m.group(1).lower()
            if scheme not in ("http", "https"):
                if not url.startswith("//", m.end()):  # urljoin returns other schemes as is
                    return url
            elif _plain(url) and url.startswith(scheme):
                host = _ABSOLUTE.match(url)
                if host and host.group(1).isascii():
                    return url
            return urljoin(self.base, url)
        return self._relative(url) if _plain(url) else urljoin(self.base, url)


def resolve(base: str, url: str) -> str:
    """`urljoin(base, url)` (see `Resolver`)."""
    return Resolver(base)(url)


def _loads(body: bytes) -> object:
    """`json.loads(body)`, through orjson when it accepts the document (the same dict then)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _walk(doc: dict) -> tuple[str, list[tuple[str, str]]]:
    """(page, images) of a parsed record; raises on a document of the wrong shape."""
    envelope = doc["Envelope"]
    target = envelope.get("WARC-Header-Metadata", {}).get("WARC-Target-URI", "")
    html_meta = (
        envelope.get("Payload-Metadata", {})
        .get("HTTP-Response-Metadata", {})
        .get("HTML-Metadata", {})
    )
    base = urljoin(target, html_meta.get("Head", {}).get("Base", "") or "") or target
    join, images = Resolver(base), []
    for link in html_meta.get("Links", []) or []:
        if isinstance(link, dict) and link.get("path") == "IMG@/src":
            images.append((join(str(link.get("url", "")).strip()), str(link.get("alt", ""))))
    return target, images


def _valid(body: bytes) -> bool:
    """True when simdjson parses `body` (validation only: no Python objects are built)."""
    try:
        simdjson.Parser().parse(body)  # a new parser per call: no shared state across threads
    except (ValueError, RuntimeError):
        return False
    return True


def wat_document(body: bytes) -> dict | None:
    """The parsed WAT record, or None for a valid one that cannot carry image links.

    Raises one of `WAT_ERRORS` if malformed.
    """
    if MARKER not in body and _valid(body):
        return None
    return _loads(body)  # type: ignore[return-value]


def wat_links(doc: dict) -> tuple[str, list[tuple[str, str]]]:
    """(page URL, [(image URL, alt)]) of a parsed WAT record; raises on a wrong shape."""
    return _walk(doc)


def wat_images(body: bytes) -> tuple[str, list[tuple[str, str]]]:
    """(page URL, [(image URL, alt)]) of a WAT record; raises one of `WAT_ERRORS` if malformed."""
    doc = wat_document(body)
    return ("", []) if doc is None else _walk(doc)
