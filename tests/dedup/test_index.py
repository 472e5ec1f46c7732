"""FAISS search against numpy brute force."""

from __future__ import annotations

import numpy as np

from dedup.index import MAX_K, IndexConfig, brute_force, build_index
from dedup.whiten import l2n


def _data(n: int, q: int, d: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return l2n(rng.normal(size=(n, d))), l2n(rng.normal(size=(q, d)))


def test_flat_matches_brute_force() -> None:
    base, queries = _data(500, 50)
    sims, ids = build_index(base, IndexConfig(kind="flat", device="cpu")).search(queries, 10)
    ref_s, ref_i = brute_force(base, queries, 10)
    assert np.array_equal(ids, ref_i)
    assert np.allclose(sims, ref_s, atol=1e-5)


def test_ivf_finds_planted_neighbours() -> None:
    base, _ = _data(4000, 1)
    queries = l2n(base[:100] + 0.05 * np.random.default_rng(1).normal(size=(100, 32)))
    index = build_index(base, IndexConfig(kind="ivf", device="cpu", nprobe=16))
    assert "ivf" in index.label
    _, ids = index.search(queries, 1)
    assert (ids[:, 0] == np.arange(100)).mean() >= 0.95


def test_k_is_capped_and_empty_queries_work() -> None:
    base, queries = _data(5, 3)
    index = build_index(base, IndexConfig(kind="flat", device="cpu"))
    sims, ids = index.search(queries, MAX_K + 10)
    assert ids.shape == (3, 5)
    assert index.search(queries[:0], 3)[0].shape == (0, 3)
