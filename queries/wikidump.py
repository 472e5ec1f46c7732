"""Stream a Wikipedia `pages-articles` XML dump (.xml or .xml.bz2) as plain-text articles.

    for page in read_pages("enwiki-latest-pages-articles.xml.bz2", skips):
        page.title, strip_wikitext(page.text)

The dump is read line by line and each `<page>...</page>` is parsed on its own, so memory stays
bounded by one page and a malformed page is counted (`skips["wiki_bad_page"]`) and skipped.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from queries.sources import open_text

__all__ = ["Page", "read_pages", "strip_wikitext", "MAX_PAGE_CHARS"]

MAX_PAGE_CHARS = 20_000_000
_DROP_NAMESPACES = ("file:", "image:", "category:", "media:", "wikipedia:", "template:")
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_REF_PAIRED = re.compile(
    r"<(ref|gallery|math|timeline|score|syntaxhighlight|source|imagemap|templatedata)\b[^>]*?"
    r"(?:/>|>.*?</\1\s*>)",
    re.S | re.I,
)
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_TABLE = re.compile(r"\{\|(?:(?!\{\|).)*?\|\}", re.S)
_LINK = re.compile(r"\[\[([^\[\]]*)\]\]")
_EXT_LINK = re.compile(r"\[(?:https?:)?//[^\s\]]+\s*([^\]]*)\]")
_URL = re.compile(r"https?://\S+")
_QUOTES = re.compile(r"'{2,}")
_HEADING = re.compile(r"^=+\s*(.*?)\s*=+\s*$", re.M)
_TAG = re.compile(r"<[^<>\n]{0,300}>")
_MAGIC = re.compile(r"__[A-Z]+__")
_LIST = re.compile(r"^[*#:;]+\s*", re.M)


@dataclass(frozen=True)
class Page:
    """One page of a dump: title, namespace, raw wikitext, and whether it is a redirect."""

    title: str
    ns: int
    text: str
    redirect: bool


def _repeat(pattern: re.Pattern[str], repl, text: str, limit: int = 30) -> str:  # type: ignore[no-untyped-def]
    for _ in range(limit):
        text, n = pattern.subn(repl, text)
        if not n:
            break
    return text


def _link_text(match: re.Match[str]) -> str:
    target, _, label = match.group(1).partition("|")
    if target.lstrip(":").lower().startswith(_DROP_NAMESPACES):
        return ""
    return label.rsplit("|", 1)[-1] if label else target.lstrip(":")


def strip_wikitext(text: str) -> str:
    """Plain text of wikitext: templates, tables, refs, files, categories and markup removed."""
    text = _COMMENT.sub("", text)
    text = _REF_PAIRED.sub("", text)
    text = _repeat(_TEMPLATE, "", text)
    text = _repeat(_TABLE, "", text)
    text = _repeat(_LINK, _link_text, text)
    text = _EXT_LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _QUOTES.sub("", text)
    text = _HEADING.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = _MAGIC.sub("", text)
    text = _LIST.sub("", text)
    return html.unescape(text)


def _parse_page(chunk: str) -> Page:
    root = ET.fromstring(chunk)
    title = root.findtext("title") or ""
    text = root.findtext("revision/text") or ""
    if not title:
        raise ValueError("page without title")
    return Page(title, int(root.findtext("ns") or 0), text, root.find("redirect") is not None)


def _page_chunks(path: str, skips: Counter[str]) -> Iterator[str]:
    lines: list[str] | None = None
    size = 0
    with open_text(path) as f:
        for line in f:
            stripped = line.strip()
            if stripped == "<page>":
                if lines is not None:
                    skips["wiki_bad_page"] += 1  # an unterminated page before this one
                lines, size = [line], len(line)
            elif lines is not None:
                lines.append(line)
                size += len(line)
                if stripped == "</page>":
                    yield "".join(lines)
                    lines = None
                elif size > MAX_PAGE_CHARS:
                    skips["wiki_page_too_large"] += 1
                    lines = None
    if lines is not None:
        skips["wiki_truncated_page"] += 1


def read_pages(path: str, skips: Counter[str]) -> Iterator[Page]:
    """Every well-formed page of a dump; bad ones are counted in `skips` and skipped."""
    for chunk in _page_chunks(path, skips):
        try:
            yield _parse_page(chunk)
        except (ET.ParseError, ValueError):
            skips["wiki_bad_page"] += 1
