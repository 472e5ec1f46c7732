"""Match captions against the query list with Aho-Corasick, at token boundaries.

    matcher = QueryMatcher(["cat", "red circle"])
    matcher.match("A red circle and a Cat.")  # -> (0, 1)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

import ahocorasick

from pipeline import storage

__all__ = ["QueryMatcher", "load_queries", "normalize_text"]


def normalize_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: the form both queries and captions are matched in."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def load_queries(path: str) -> list[str]:
    """Read queries from a parquet file (column `query`) or a text file (one per line)."""
    if path.endswith(".parquet"):
        import io

        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(storage.read_bytes(path)), columns=["query"])
        return [q for q in table.column("query").to_pylist() if q]
    text = storage.read_bytes(path).decode("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


class QueryMatcher:
    """An Aho-Corasick automaton over normalised queries; ids are positions in the input list."""

    def __init__(self, queries: Sequence[str]) -> None:
        self.queries = list(queries)
        self._automaton = ahocorasick.Automaton()
        for qid, query in enumerate(self.queries):
            norm = normalize_text(query)
            if norm and not self._automaton.exists(norm):
                self._automaton.add_word(norm, (qid, len(norm)))
        if len(self._automaton):
            self._automaton.make_automaton()

    @classmethod
    def from_file(cls, path: str) -> QueryMatcher:
        """Build a matcher from a queries file (see `load_queries`)."""
        return cls(load_queries(path))

    def match(self, caption: str) -> tuple[int, ...]:
        """Sorted ids of the queries that occur in `caption` as whole tokens."""
        if not len(self._automaton):
            return ()
        text = normalize_text(caption)
        found: set[int] = set()
        for end, (qid, length) in self._automaton.iter(text):
            start = end - length + 1
            if start > 0 and _is_word_char(text[start - 1]):
                continue
            if end + 1 < len(text) and _is_word_char(text[end + 1]):
                continue
            found.add(qid)
        return tuple(sorted(found))

    def names(self, ids: Iterable[int]) -> tuple[str, ...]:
        """The query strings of `ids`."""
        return tuple(self.queries[i] for i in ids)
