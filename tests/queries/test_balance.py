"""MetaCLIP balancing: pure functions on a synthetic Zipf pool, and the Beam composite."""

from __future__ import annotations

import math

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.schema import Reason, Record, Stage
from queries.balance import (
    BalanceConfig,
    balance_stats,
    count_matches,
    entry_probabilities,
    keep_sample,
    uniform,
)
from queries.beam_balance import BalanceMetaCLIP


def _zipf_pool(n: int, queries: int, seed: int = 0) -> list[tuple[str, tuple[int, ...]]]:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, queries + 1)
    ids = rng.choice(queries, size=n, p=weights / weights.sum())
    return [(f"k{i}", (int(q),)) for i, q in enumerate(ids)]


def test_probabilities_and_uniform() -> None:
    assert entry_probabilities({1: 10, 2: 40}, t=20) == {1: 1.0, 2: 0.5}
    draws = [uniform(7, f"k{i}", 3) for i in range(2000)]
    assert all(0.0 <= u < 1.0 for u in draws)
    assert abs(sum(draws) / len(draws) - 0.5) < 0.03
    assert uniform(7, "k1", 3) == uniform(7, "k1", 3) != uniform(8, "k1", 3)
    with pytest.raises(ValueError):
        BalanceConfig(t=0)


def test_keep_sample_rules() -> None:
    counts = {0: 2_000, 1: 5}
    assert keep_sample("x", (0, 1), counts, t=10)  # a tail query keeps the sample
    assert not keep_sample("x", (), counts, t=10)
    kept = sum(keep_sample(f"k{i}", (0,), counts, t=10) for i in range(20_000))
    assert 50 < kept < 150  # p = 0.005


def test_zipf_pool_of_a_million() -> None:
    t = 100
    pool = _zipf_pool(1_000_000, 10_000)
    before = count_matches(ids for _, ids in pool)
    kept = [(key, ids) for key, ids in pool if keep_sample(key, ids, before, t, seed=1)]
    after = count_matches(ids for _, ids in kept)
    for qid, n in before.items():
        p = min(1.0, t / n)
        tolerance = 6 * math.sqrt(n * p * (1 - p)) + 1
        assert abs(after.get(qid, 0) - min(n, t)) <= tolerance, qid
        if n <= t:
            assert after[qid] == n  # tail queries kept whole
    again = [key for key, ids in pool[:200_000] if keep_sample(key, ids, before, t, seed=1)]
    assert again == [key for key, _ in kept if int(key[1:]) < 200_000]
    stats = balance_stats(before, after, t)
    assert stats["before"]["matches"] == 1_000_000
    assert stats["after"]["max"] <= t + 60
    assert stats["top_queries"][0]["query_id"] == 0


def test_beam_balance_pairs() -> None:
    pool = [(f"k{i}", (0,) if i < 50 else (1,)) for i in range(60)] + [("e", ())]
    counts = count_matches(ids for _, ids in pool)
    expected = [p for p in pool if p[1] and keep_sample(p[0], p[1], counts, t=5, seed=3)]
    with TestPipeline() as p:
        result = p | beam.Create(pool) | "Balance" >> BalanceMetaCLIP(t=5, seed=3)
        assert_that(result.kept, equal_to(expected), label="kept")
        assert_that(result.counts, equal_to([(0, 50), (1, 10)]), label="counts")
        rejected = result.rejected | beam.Map(lambda kv: kv[0])
        kept_keys = {k for k, _ in expected}
        assert_that(rejected, equal_to([k for k, _ in pool if k not in kept_keys]), label="rej")


def test_beam_balance_records() -> None:
    records = [Record(url=f"http://x/{i}", caption="c", query_ids=(0,)) for i in range(20)]
    with TestPipeline() as p:
        result = p | beam.Create(records) | "Balance" >> BalanceMetaCLIP(t=4, seed=0)
        reasons = result.rejected | beam.Map(lambda r: (r.stage, r.reason))
        total = (result.kept, result.rejected) | beam.Flatten() | beam.combiners.Count.Globally()
        assert_that(total, equal_to([20]), label="all_accounted")
        assert_that(
            reasons | beam.Distinct(), equal_to([(Stage.BALANCE, Reason.OVER_QUERY_CAP)]), label="r"
        )
