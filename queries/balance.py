"""MetaCLIP balancing as pure functions: at most about t samples per query, reproducibly.

Pass 1 counts, over the whole pool, how many samples match each query (`count_matches`).
Pass 2 keeps a sample when any of its queries fires, query q firing with probability
p(q) = min(1, t / count(q)) (`entry_probabilities`). The draw for (sample, query) is not a
random generator but a hash of (seed, sample key, query id) (`uniform`), so retries, reruns and
any runner select exactly the same samples. Tail queries (count <= t) keep all their samples.

    counts = count_matches(ids for _, ids in pool)
    kept = [key for key, ids in pool if keep_sample(key, ids, counts, t=20_000, seed=0)]
"""

from __future__ import annotations

import hashlib
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BalanceConfig",
    "uniform",
    "entry_probability",
    "entry_probabilities",
    "keep_sample",
    "count_matches",
    "balance_stats",
]

_SCALE = float(1 << 64)


@dataclass(frozen=True)
class BalanceConfig:
    """Balancing parameters: the per-query cap t (20,000 in CLIP and MetaCLIP) and the seed."""

    t: int = 20_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.t <= 0:
            raise ValueError(f"t must be positive, got {self.t}")


def uniform(seed: int, key: str, query_id: int) -> float:
    """A deterministic draw in [0, 1) from (seed, sample key, query id)."""
    data = f"{seed}\x1f{key}\x1f{query_id}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") / _SCALE


def entry_probability(count: int, t: int) -> float:
    """The probability that one match of a query with `count` matches fires: min(1, t / count)."""
    return 1.0 if count <= t else t / count


def entry_probabilities(counts: Mapping[int, int], t: int) -> dict[int, float]:
    """`entry_probability` for every query in `counts`."""
    return {qid: entry_probability(n, t) for qid, n in counts.items()}


def keep_sample(
    key: str, query_ids: Sequence[int], counts: Mapping[int, int], t: int, seed: int = 0
) -> bool:
    """Whether the sample `key` matching `query_ids` survives balancing."""
    # A query absent from `counts` has no recorded matches: treat it as a tail query.
    probs = [(qid, entry_probability(counts.get(qid, 0), t)) for qid in query_ids]
    if any(p >= 1.0 for _, p in probs):
        return True
    return any(uniform(seed, key, qid) < p for qid, p in probs)


def count_matches(query_id_lists: Iterable[Sequence[int]]) -> Counter[int]:
    """Pass 1 on one machine: the number of samples matching each query."""
    counts: Counter[int] = Counter()
    for ids in query_id_lists:
        counts.update(set(ids))
    return counts


def _summary(counts: Mapping[int, int], t: int) -> dict[str, Any]:
    values = sorted(counts.values(), reverse=True)
    return {
        "queries_matched": len(values),
        "matches": sum(values),
        "head_queries": sum(1 for v in values if v > t),
        "head_matches": sum(v for v in values if v > t),
        "tail_queries": sum(1 for v in values if v <= t),
        "tail_matches": sum(v for v in values if v <= t),
        "max": values[0] if values else 0,
        "median": statistics.median(values) if values else 0,
    }


def balance_stats(
    before: Mapping[int, int], after: Mapping[int, int], t: int, top: int = 10
) -> dict[str, Any]:
    """Head/tail statistics of per-query counts before and after balancing."""
    head = sorted(before, key=lambda q: (-before[q], q))[:top]
    return {
        "t": t,
        "before": _summary(before, t),
        "after": _summary(after, t),
        "top_queries": [
            {"query_id": q, "before": before[q], "after": after.get(q, 0)} for q in head
        ],
    }
