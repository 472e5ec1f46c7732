"""Pure functions of the exact per-query cap used by `BalanceByQuery`.

Each (query, sample) pair gets a rank `sha256(seed, query, key)`; per query, the `t` samples with
the smallest ranks are selected, and a sample is kept when at least one of its queries selects
it (the same "any entry keeps it" rule as MetaCLIP's balancing, with an exact cap per entry
instead of a probability). The result depends only on the input and the seed, on any runner.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from pipeline.schema import Reason, Record, Stage, reject

__all__ = ["vote_rank", "query_votes", "split_selected"]


def vote_rank(seed: int, query_id: int, key: str) -> str:
    """The deterministic rank of a sample within a query (smaller is selected first)."""
    return hashlib.sha256(f"{seed}:{query_id}:{key}".encode()).hexdigest()[:16]


def query_votes(record: Record, seed: int) -> Iterator[tuple[int, tuple[str, str]]]:
    """(query id, (rank, key)) for each query a record matched."""
    for qid in record.query_ids:
        yield qid, (vote_rank(seed, qid, record.key), record.key)


def split_selected(record: Record, selected_by: Iterable[int]) -> Record:
    """The record unchanged if any query selected it, else rejected as over the cap."""
    if any(True for _ in selected_by):
        return record
    return reject(
        record, Stage.BALANCE, Reason.OVER_QUERY_CAP, f"queries {list(record.query_ids)[:8]}"
    )
