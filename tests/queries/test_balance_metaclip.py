"""MetaCLIP balancing with several queries per sample, and the seed through `BalanceByQuery`.

A sample survives when ANY of its queries fires, query q firing with p(q) = min(1, t/count(q)):
P(keep) = 1 - prod_q (1 - p(q)). Expected values come from that closed form and from brute force
over the hash draws, not from `keep_sample` itself.
"""

from __future__ import annotations

import hashlib
import math

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.schema import Record
from pipeline.stages import BalanceByQuery
from queries.balance import BalanceConfig, balance_stats, count_matches, keep_sample, uniform


def _first_key(seed: int, fires: dict[int, bool], probs: dict[int, float]) -> str:
    """A sample key whose draw for each query fires (u < p) exactly as `fires` says."""
    for i in range(100_000):
        key = f"s{i}"
        if all((uniform(seed, key, q) < probs[q]) == want for q, want in fires.items()):
            return key
    raise AssertionError("no such key in 100k draws")


def test_a_lower_probability_query_alone_keeps_the_sample() -> None:
    counts, t = {0: 200, 1: 1000, 2: 4000}, 100  # p = 0.5, 0.1, 0.025
    probs = {q: t / n for q, n in counts.items()}
    only_rare = _first_key(3, {0: False, 1: False, 2: True}, probs)
    assert keep_sample(only_rare, (0, 1, 2), counts, t, seed=3)
    only_middle = _first_key(3, {0: False, 1: True, 2: False}, probs)
    assert keep_sample(only_middle, (2, 0, 1), counts, t, seed=3)
    none = _first_key(3, {0: False, 1: False, 2: False}, probs)
    assert not keep_sample(none, (0, 1, 2), counts, t, seed=3)


def test_every_query_draws_independently() -> None:
    counts, t = {q: 10_000 for q in range(4)}, 1_000  # four head queries, p = 0.1 each
    n = 20_000
    kept = sum(keep_sample(f"k{i}", (0, 1, 2, 3), counts, t, seed=5) for i in range(n))
    p_keep = 1 - (1 - 0.1) ** 4  # 0.3439; one draw at the highest probability would give 0.1
    assert abs(kept - n * p_keep) <= 6 * math.sqrt(n * p_keep * (1 - p_keep)), kept


def test_a_tail_query_among_head_queries_keeps_every_sample() -> None:
    counts, t = {0: 10_000, 1: 50}, 100
    assert all(keep_sample(f"k{i}", (0, 1), counts, t, seed=0) for i in range(2_000))
    assert keep_sample("x", (7,), counts, t)  # a query with no recorded count is a tail query


def _pool() -> list[Record]:
    """600 samples: every one matches head query 0, half also head query 1, a tenth tail query 2."""
    records = []
    for i in range(600):
        ids = (0,) + ((1,) if i % 2 else ()) + ((2,) if i % 10 == 0 else ())
        records.append(Record(url=f"http://m.test/{i}", caption="c", query_ids=ids))
    return records


def _brute_force_kept(records: list[Record], t: int, seed: int) -> list[str]:
    counts = count_matches(r.query_ids for r in records)
    kept = []
    for r in records:
        fired = [q for q in r.query_ids if uniform(seed, r.key, q) < min(1.0, t / counts[q])]
        kept += [r.key] if fired else []
    return sorted(kept)


def _key(record: Record) -> str:
    return record.key


def test_beam_balance_keeps_a_sample_when_any_query_fires() -> None:
    records = _pool()
    expected = _brute_force_kept(records, t=60, seed=11)
    tail = {r.key for r in records if 2 in r.query_ids}
    assert tail <= set(expected)  # all 60 tail samples kept
    # head queries: counts 600 and 300, p = 0.1 and 0.2; samples with both keep with 0.28
    assert 60 + 50 < len(expected) < 60 + 200
    with BeamTestPipeline() as p:
        out = p | beam.Create(records) | BalanceByQuery(max_per_query=60, seed=11)
        assert_that(out.kept | "K" >> beam.Map(_key), equal_to(expected), label="kept")
        rejected = sorted({r.key for r in records} - set(expected))
        assert_that(out.rejected | "R" >> beam.Map(_key), equal_to(rejected), label="rejected")


_COLLECTED: dict[str, list[str]] = {}


class _Collect:
    """An `assert_that` matcher that keeps what it saw (the DirectRunner runs in this process)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, actual: list[str]) -> None:
        _COLLECTED[self.token] = sorted(actual)


def _kept_keys(records: list[Record], method: str, seed: int) -> list[str]:
    token = f"{method}-{seed}-{len(_COLLECTED)}"
    with BeamTestPipeline() as p:
        out = p | beam.Create(records) | BalanceByQuery(max_per_query=20, seed=seed, method=method)
        assert_that(out.kept | beam.Map(_key), _Collect(token))
    return _COLLECTED[token]


def test_the_seed_changes_what_balance_by_query_keeps() -> None:
    records = [Record(url=f"http://s.test/{i}", caption="c", query_ids=(0,)) for i in range(200)]
    for method in ("metaclip", "cap"):
        seven, eight = (_kept_keys(records, method, s) for s in (7, 8))
        assert seven != eight, method  # another seed, another selection
        if method == "metaclip":
            assert seven == _brute_force_kept(records, t=20, seed=7)
        else:
            assert len(seven) == len(eight) == 20


def test_balance_stats_by_hand() -> None:
    before, after = {0: 50, 1: 10, 2: 5, 3: 30, 4: 30}, {0: 20, 1: 10, 2: 5, 3: 18}
    stats = balance_stats(before, after, t=20, top=3)
    assert stats["t"] == 20
    assert stats["before"] == {
        "queries_matched": 5, "matches": 125, "head_queries": 3, "head_matches": 110,
        "tail_queries": 2, "tail_matches": 15, "max": 50, "median": 30,
    }  # fmt: skip
    assert stats["after"] == {
        "queries_matched": 4, "matches": 53, "head_queries": 0, "head_matches": 0,
        "tail_queries": 4, "tail_matches": 53, "max": 20, "median": 14.0,
    }  # fmt: skip
    assert stats["top_queries"] == [  # by count, ties by query id; absent after: 0
        {"query_id": 0, "before": 50, "after": 20},
        {"query_id": 3, "before": 30, "after": 18},
        {"query_id": 4, "before": 30, "after": 0},
    ]
    empty = balance_stats({}, {}, t=5)
    assert empty["before"]["max"] == 0 and empty["before"]["median"] == 0
    assert empty["top_queries"] == [] and empty["after"]["queries_matched"] == 0


def _stage_reason_detail(record: Record) -> tuple[str, str, str]:
    return record.stage, record.reason, record.detail


def test_cap_rejects_carry_stage_reason_and_queries() -> None:
    records = [Record(url=f"http://r.test/{i}", caption="c", query_ids=(4, 9)) for i in range(6)]
    with BeamTestPipeline() as p:
        out = p | beam.Create(records) | BalanceByQuery(max_per_query=1, seed=0, method="cap")
        assert_that(
            out.rejected | beam.Map(_stage_reason_detail),
            equal_to([("balance", "over_query_cap", "queries [4, 9]")] * 4),  # 2 selected (seed 0)
        )


def test_config_bounds_and_default_top() -> None:
    assert BalanceConfig(t=1).t == 1  # the smallest cap is allowed
    with pytest.raises(ValueError, match="t must be positive, got 0"):
        BalanceConfig(t=0)
    counts = {q: 100 - q for q in range(12)}
    assert len(balance_stats(counts, counts, t=5)["top_queries"]) == 10  # the default top


def test_uniform_is_the_documented_hash_and_takes_any_key() -> None:
    digest = hashlib.blake2b(b"7\x1fk1\x1f3", digest_size=8).digest()
    assert uniform(7, "k1", 3) == int.from_bytes(digest, "little") / 2**64  # stable across releases
    assert 0.0 <= uniform(0, "bad\ud800key", 1) < 1.0  # a lone surrogate from a broken page


def test_keep_sample_default_seed_is_the_config_default() -> None:
    counts = {0: 1_000}
    draws = [keep_sample(f"k{i}", (0,), counts, t=100) for i in range(500)]
    seeded = [
        keep_sample(f"k{i}", (0,), counts, t=100, seed=BalanceConfig().seed) for i in range(500)
    ]
    assert draws == seeded
