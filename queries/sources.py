"""Readers for the query sources in their standard formats; bad lines are counted, not fatal.

- WordNet database files (`data.noun`, `data.verb`, `data.adj`, `data.adv`), as installed by
  Debian's `wordnet-base` under /usr/share/wordnet or shipped by Princeton / Open English WordNet.
- Wikimedia pageviews files (hourly `en Title 12 0` or daily `en.wikipedia Title 123 desktop 45 ...`).
- (term, count) tables: parquet with columns `term`, `count`, or tsv/csv text lines.
- Plain text corpora, one document or line at a time.

Every reader takes a `collections.Counter` of issues (`skips`) and adds one per skipped line.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import os
from collections import Counter
from collections.abc import Iterator

from pipeline import storage

__all__ = [
    "WORDNET_FILES",
    "open_text",
    "parse_wordnet_line",
    "read_wordnet",
    "read_pageviews",
    "read_term_table",
    "read_text_lines",
    "default_wordnet_dir",
]

WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
_ADJ_MARKERS = ("(a)", "(p)", "(ip)")
_PAGEVIEW_AGENTS = {"desktop", "mobile-web", "mobile-app", "user", "spider", "automated"}


@contextlib.contextmanager
def open_text(path: str) -> Iterator[io.TextIOBase]:
    """Stream a (possibly .bz2 / .gz) text file as UTF-8, replacing invalid bytes."""
    raw = storage.open_read(path)
    try:
        if path.endswith(".bz2"):
            stream = bz2.BZ2File(raw)
        elif path.endswith(".gz"):
            stream = gzip.GzipFile(fileobj=raw)
        else:
            stream = raw
        yield io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
    finally:
        raw.close()


def parse_wordnet_line(line: str) -> list[str]:
    """The lemma names of one synset line of a WordNet `data.*` file (underscores as spaces)."""
    fields = line.split(" ")
    count = int(fields[3], 16)
    if count <= 0 or len(fields) < 4 + 2 * count:
        raise ValueError("bad word count")
    lemmas = []
    for word in fields[4 : 4 + 2 * count : 2]:
        for marker in _ADJ_MARKERS:
            word = word.removesuffix(marker)
        lemmas.append(word.replace("_", " "))
    return lemmas


def read_wordnet(directory: str, skips: Counter[str]) -> Counter[str]:
    """Lemma name -> number of synsets it names, over the four WordNet data files."""
    lemmas: Counter[str] = Counter()
    for name in WORDNET_FILES:
        path = storage.join(directory, name)
        if not storage.exists(path):
            skips[f"wordnet_missing_{name}"] += 1
            continue
        with open_text(path) as f:
            for line in f:
                if line.startswith("  ") or not line.strip():
                    continue  # the license header
                try:
                    lemmas.update(set(parse_wordnet_line(line.rstrip("\n"))))
                except (ValueError, IndexError):
                    skips["wordnet_bad_line"] += 1
    return lemmas


def _pageview_fields(line: str, projects: set[str]) -> tuple[str, int] | None:
    fields = line.split()
    if len(fields) < 3 or fields[0] not in projects:
        return None
    if len(fields) >= 5 and fields[3] in _PAGEVIEW_AGENTS:
        return fields[1], int(fields[4])  # pageviews-complete: project title id agent total ...
    return fields[1], int(fields[2])  # hourly: project title views bytes


def read_pageviews(paths: list[str], wiki: str, skips: Counter[str]) -> Counter[str]:
    """Article title (spaces, not underscores) -> views summed over `paths` for one wiki."""
    projects = {wiki, f"{wiki}.m", f"{wiki}.wikipedia", f"{wiki}.m.wikipedia"}
    views: Counter[str] = Counter()
    for path in paths:
        with open_text(path) as f:
            for line in f:
                try:
                    found = _pageview_fields(line, projects)
                except ValueError:
                    skips["pageviews_bad_line"] += 1
                    continue
                if found:
                    views[found[0].replace("_", " ")] += found[1]
    return views


def _split_row(line: str) -> tuple[str, int]:
    sep = "\t" if "\t" in line else ","
    term, _, count = line.rstrip("\r\n").rpartition(sep)
    if not term.strip():
        raise ValueError("empty term")
    return term.strip(), int(count)


def read_term_table(path: str, skips: Counter[str]) -> Iterator[tuple[str, int]]:
    """(term, count) rows of a parquet (`term`, `count`) or tsv/csv table."""
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(storage.read_bytes(path)), columns=["term", "count"])
        yield from zip(
            table.column("term").to_pylist(), table.column("count").to_pylist(), strict=True
        )
        return
    with open_text(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            try:
                yield _split_row(line)
            except ValueError:
                skips["table_bad_line"] += 1


def read_text_lines(path: str) -> Iterator[str]:
    """The lines of a plain text corpus (optionally .bz2/.gz)."""
    with open_text(path) as f:
        yield from f


def default_wordnet_dir() -> str | None:
    """Debian's WordNet directory when installed, else None."""
    return "/usr/share/wordnet" if os.path.isdir("/usr/share/wordnet") else None
