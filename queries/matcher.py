"""Match captions against the query list with Aho-Corasick, at token boundaries.

    matcher = QueryMatcher(["cat", "red circle"])
    matcher.match("A red circle and a Cat.")  # -> (0, 1)
    matcher.save("queries.aca")                # build once ...
    QueryMatcher.from_file("queries.aca")      # ... load once per worker (DoFn.setup)

Queries and captions are compared in their match form (`queries.text.match_form`): NFKC,
case-folded, tokens separated by single spaces, padded with a space. The automaton holds the
padded query forms, so every hit it reports is already a whole-token match and the Python loop
touches only real matches. Scripts written without spaces (Chinese, Japanese, Thai, ...) have a
boundary between every pair of characters (MetaCLIP 2 skips boundary checks for them).
"""

from __future__ import annotations

import io
import json
import pickle
import struct
from collections.abc import Iterable, Sequence

import ahocorasick

from pipeline import storage
from queries.text import match_form, normalize_text

__all__ = ["QueryMatcher", "load_queries", "normalize_text", "match_form", "AUTOMATON_MAGIC"]

AUTOMATON_MAGIC = b"WITQAC02"  # first bytes of a saved matcher file


def load_queries(path: str) -> list[str]:
    """Read queries from a parquet file (column `query`) or a text file (one per line)."""
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(storage.read_bytes(path)), columns=["query"])
        return [q for q in table.column("query").to_pylist() if q]
    text = storage.read_bytes(path).decode("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _build_automaton(queries: Sequence[str]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for qid, query in enumerate(queries):
        key = match_form(query)
        if key.strip() and not automaton.exists(key):
            automaton.add_word(key, qid)  # a duplicate form keeps the first (lowest) id
    automaton.make_automaton()
    return automaton


class QueryMatcher:
    """An Aho-Corasick automaton over the queries' match forms; ids are positions in the list."""

    def __init__(self, queries: Sequence[str], automaton: ahocorasick.Automaton | None = None):
        self.queries = list(queries)
        self._automaton = automaton if automaton is not None else _build_automaton(self.queries)
        self._empty = len(self._automaton) == 0

    @classmethod
    def from_file(cls, path: str) -> QueryMatcher:
        """A matcher from a saved automaton (`save`) or a queries file (see `load_queries`)."""
        with storage.open_read(path) as f:
            head = f.read(len(AUTOMATON_MAGIC))
        if head == AUTOMATON_MAGIC:
            return cls.load(path)
        return cls(load_queries(path))

    def __len__(self) -> int:
        return len(self.queries)

    def match(self, caption: str) -> tuple[int, ...]:
        """Sorted ids of the queries that occur in `caption` as whole tokens."""
        if self._empty:
            return ()
        return tuple(sorted({qid for _, qid in self._automaton.iter(match_form(caption))}))

    def names(self, ids: Iterable[int]) -> tuple[str, ...]:
        """The query strings of `ids`."""
        return tuple(self.queries[i] for i in ids)

    def save(self, path: str) -> None:
        """Write the queries and the built automaton to one file (local or s3://).

        The automaton is stored as a pickle (10x faster to load than pyahocorasick's own
        `save`/`load` at 500k entries): load only files you or your pipeline wrote.
        """
        blob = json.dumps(self.queries, ensure_ascii=False).encode("utf-8")
        with storage.atomic_write(path) as out:
            out.write(AUTOMATON_MAGIC + struct.pack("<Q", len(blob)) + blob)
            pickle.dump(self._automaton, out, protocol=5)

    @classmethod
    def load(cls, path: str) -> QueryMatcher:
        """Load a matcher written by `save` without rebuilding the automaton."""
        with storage.open_read(path) as f:
            if f.read(len(AUTOMATON_MAGIC)) != AUTOMATON_MAGIC:
                raise ValueError(f"{path} is not a saved query matcher")
            (size,) = struct.unpack("<Q", f.read(8))
            queries = json.loads(f.read(size).decode("utf-8"))
            automaton = pickle.loads(f.read())
        return cls(queries, automaton)
