"""Pure caption and URL filters: each returns `(ok, reason)` and imports nothing from Beam.

ok, reason = caption_ok("a red circle", TextConfig())
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from pipeline.schema import Reason, Record

__all__ = [
    "TextConfig",
    "clean_caption",
    "valid_text",
    "strip_bidi",
    "display_text",
    "caption_ok",
    "url_ok",
    "filter_record",
    "load_list",
    "BOILERPLATE",
]

# Alt texts that describe nothing (compared after clean-up and case-folding).
BOILERPLATE = frozenset(
    """image img photo picture pic logo icon banner spacer placeholder thumbnail thumb avatar
    click here click to enlarge read more more untitled null none undefined default blank
    alt alt text button arrow loading gif jpg jpeg png webp""".split()
    + ["click here", "click to enlarge", "read more", "alt text"]
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Bidi embeddings, overrides, isolates and marks: invisible, and they reorder what is shown.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s")  # the characters str.isspace() accepts (both use Py_UNICODE_ISSPACE)
_BAD_EXTENSIONS = (".svg", ".svgz", ".ico", ".pdf", ".mp4", ".webm", ".mov", ".js", ".css")


@dataclass(frozen=True)
class TextConfig:
    """Bounds and rules of the text filters."""

    min_chars: int = 5
    max_chars: int = 1000
    min_words: int = 2
    schemes: tuple[str, ...] = ("http", "https")
    blocked_words: frozenset[str] = frozenset()  # case-folded tokens that drop a caption
    blocked_domains: frozenset[str] = frozenset()  # a host and all its subdomains


def load_list(text: str) -> frozenset[str]:
    """A blocklist from text: one entry per line, `#` comments, case-folded."""
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


def _host_blocked(host: str, blocked: frozenset[str]) -> bool:
    parts = host.split(".")
    return any(".".join(parts[i:]) in blocked for i in range(len(parts)))


def valid_text(text: str) -> str:
    """`text` as valid Unicode: surrogate pairs joined, lone surrogates replaced by U+FFFD.

    JSON (`"\\ud83d"`) and `surrogateescape` decoding can put lone surrogates in a str; they
    cannot be encoded as UTF-8, so every later encoder (parquet, langid, tar) would raise.
    """
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def strip_bidi(text: str) -> str:
    """`text` without bidirectional control characters (they reorder what a reader sees)."""
    return _BIDI.sub("", text)


def display_text(text: object) -> str:
    """Untrusted text made safe to show (before HTML escaping): valid Unicode, no bidi controls."""
    text = str(text)
    return text if text.isascii() else strip_bidi(valid_text(text))


def clean_caption(text: str) -> str:
    """Unescape HTML entities, normalise Unicode (NFC), drop control and bidi chars, collapse spaces."""
    text = display_text(html.unescape(html.unescape(text or "")))
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def caption_ok(caption: str, cfg: TextConfig) -> tuple[bool, str]:
    """Check a cleaned caption against emptiness, length and boilerplate rules."""
    if not caption:
        return False, Reason.EMPTY_CAPTION
    if caption.casefold().strip(" .!:-") in BOILERPLATE:
        return False, Reason.BOILERPLATE_CAPTION
    if len(caption) < cfg.min_chars or len(caption.split()) < cfg.min_words:
        # Languages written without spaces have one "word": judge them by characters only.
        if len(caption) < cfg.min_chars or any(c.isascii() for c in caption if c.isalpha()):
            return False, Reason.CAPTION_TOO_SHORT
    if len(caption) > cfg.max_chars:
        return False, Reason.CAPTION_TOO_LONG
    if cfg.blocked_words and not cfg.blocked_words.isdisjoint(_WORD.findall(caption.casefold())):
        return False, Reason.BLOCKED_WORD
    return True, ""


def url_ok(url: str, cfg: TextConfig) -> tuple[bool, str]:
    """Check an absolute image URL's scheme, host and extension."""
    if url.startswith("data:"):
        return False, Reason.DATA_URI
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return False, Reason.BAD_URL
    if parts.scheme not in cfg.schemes:
        return False, Reason.UNSUPPORTED_SCHEME
    if not parts.hostname or _SPACE.search(url):
        return False, Reason.BAD_URL
    if parts.path.lower().endswith(_BAD_EXTENSIONS):
        return False, Reason.UNSUPPORTED_EXTENSION
    if cfg.blocked_domains and _host_blocked(parts.hostname.lower(), cfg.blocked_domains):
        return False, Reason.BLOCKED_DOMAIN
    return True, ""


def filter_record(record: Record, cfg: TextConfig) -> tuple[Record, str]:
    """Clean a candidate's caption and check it; returns (cleaned record, reason or "")."""
    caption = clean_caption(record.caption)
    cleaned = replace(record, caption=caption) if caption != record.caption else record
    ok, reason = url_ok(record.url, cfg)
    if ok:
        ok, reason = caption_ok(caption, cfg)
    return cleaned, reason
