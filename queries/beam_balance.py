"""MetaCLIP balancing as a Beam composite: pass 1 counts per query, pass 2 samples.

    result = pool | "Balance" >> BalanceMetaCLIP(t=20_000, seed=0)
    result.kept, result.rejected, result.counts, result.counts_after

`pool` holds `(key, query_ids)` pairs or records with `.key` and `.query_ids`
(`pipeline.schema.Record`). Pass 1 is a `CombinePerKey(sum)` over (query id, 1); its output
`counts` is a PCollection of (query id, count) the auditor can write as a table. Pass 2 reads
the counts as a side input and applies `queries.balance.keep_sample`. Records that lose get
stage `balance` and reason `over_query_cap`; records without any query id get `no_query_match`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.schema import Reason, Stage, reject
from queries.balance import BalanceConfig, keep_sample

__all__ = ["BalanceMetaCLIP", "BalanceResult", "BalanceFn", "element_key_ids", "REJECTED"]

REJECTED = "rejected"
_NAMESPACE = "balance"


class BalanceResult(NamedTuple):
    """The outputs of `BalanceMetaCLIP`."""

    kept: beam.PCollection
    rejected: beam.PCollection
    counts: beam.PCollection
    counts_after: beam.PCollection


def element_key_ids(element: Any) -> tuple[str, tuple[int, ...]]:
    """The (sample key, query ids) of a pair or of a record with `.key` and `.query_ids`."""
    if isinstance(element, tuple) and len(element) == 2:
        return str(element[0]), tuple(element[1])
    return str(element.key), tuple(element.query_ids)


def _query_ones(element: Any) -> Iterator[tuple[int, int]]:
    for qid in set(element_key_ids(element)[1]):
        yield qid, 1


def _mark_rejected(element: Any, reason: str, detail: str) -> Any:
    if isinstance(element, tuple):
        return element
    return reject(element, Stage.BALANCE, reason, detail)


class BalanceFn(beam.DoFn):
    """Pass 2: keep or reject each element given the per-query counts (a side input)."""

    def __init__(self, cfg: BalanceConfig) -> None:
        self.cfg = cfg
        self.kept = Metrics.counter(_NAMESPACE, "kept")
        self.over_cap = Metrics.counter(_NAMESPACE, "over_query_cap")
        self.no_match = Metrics.counter(_NAMESPACE, "no_query_match")

    def process(self, element: Any, counts: dict[int, int]) -> Iterator[Any]:
        key, ids = element_key_ids(element)
        if not ids:
            self.no_match.inc()
            yield beam.pvalue.TaggedOutput(
                REJECTED, _mark_rejected(element, Reason.NO_QUERY_MATCH, "")
            )
        elif keep_sample(key, ids, counts, self.cfg.t, self.cfg.seed):
            self.kept.inc()
            yield element
        else:
            self.over_cap.inc()
            detail = f"t={self.cfg.t} seed={self.cfg.seed}"
            yield beam.pvalue.TaggedOutput(
                REJECTED, _mark_rejected(element, Reason.OVER_QUERY_CAP, detail)
            )


class BalanceMetaCLIP(beam.PTransform):
    """Balance a pool so that each query keeps about min(count, t) samples."""

    def __init__(self, t: int = 20_000, seed: int = 0, label: str | None = None) -> None:
        super().__init__(label)
        self.cfg = BalanceConfig(t=t, seed=seed)

    def expand(self, pool: beam.PCollection) -> BalanceResult:  # type: ignore[override]
        counts = (
            pool
            | "QueryOnes" >> beam.FlatMap(_query_ones)
            | "CountPerQuery" >> beam.CombinePerKey(sum)
        )
        outputs = pool | "Sample" >> beam.ParDo(
            BalanceFn(self.cfg), counts=beam.pvalue.AsDict(counts)
        ).with_outputs(REJECTED, main="kept")
        counts_after = (
            outputs.kept
            | "KeptQueryOnes" >> beam.FlatMap(_query_ones)
            | "CountKeptPerQuery" >> beam.CombinePerKey(sum)
        )
        return BalanceResult(outputs.kept, outputs[REJECTED], counts, counts_after)
