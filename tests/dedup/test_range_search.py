"""Range search selection logic on CPU: torch tiles and FAISS k-NN doubling equal FAISS CPU."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from dedup.range_search import Saturated, TorchRange, faiss_range, knn_range
from dedup.whiten import l2n

THR = 0.6


@pytest.fixture(scope="module")
def vectors() -> tuple[np.ndarray, np.ndarray]:
    """Eval vectors with a tight cluster, and queries: noise, near copies, cluster hits."""
    rng = np.random.default_rng(0)
    ev = l2n(rng.normal(size=(700, 32)))
    centre = ev[0]
    ev[1:40] = l2n(centre + 0.15 * rng.normal(size=(39, 32)))  # 40 eval vectors close together
    q = l2n(rng.normal(size=(900, 32)))
    q[:300] = l2n(
        ev[rng.integers(0, 700, 300)]
        + rng.uniform(0.2, 1.2, (300, 1)) * rng.normal(size=(300, 32)) / 5
    )
    q[300:310] = l2n(centre + 0.05 * rng.normal(size=(10, 32)))  # each hits the whole cluster
    return ev.astype(np.float32), q.astype(np.float32)


def _blocks(q: np.ndarray, n: int):
    return (q[i : i + n] for i in range(0, len(q), n))


def _by_pair(p) -> dict:
    return dict(
        zip(zip(p.train.tolist(), p.eval.tolist(), strict=True), p.sim.tolist(), strict=True)
    )


def _same_away_from_threshold(a, b, tol: float) -> None:
    """The same pairs, except pairs within `tol` of the threshold; the same similarities."""
    da, db = _by_pair(a), _by_pair(b)
    near = {k for d in (da, db) for k, s in d.items() if abs(s - THR) < tol}
    assert set(da) - near == set(db) - near
    assert all(abs(da[k] - db[k]) < tol for k in set(da) & set(db))


def test_torch_tiles_equal_faiss_cpu(vectors) -> None:
    ev, q = vectors
    ref = faiss_range(ev, q, THR)
    got = TorchRange(ev, device="cpu", dtype="float32").search(_blocks(q, 128), THR, chunk=100)
    assert len(ref) > 400 and (ref.sim >= THR).all()
    _same_away_from_threshold(got, ref, 1e-5)


def test_torch_half_precision_differs_only_at_the_threshold(vectors) -> None:
    ev, q = vectors
    ref = faiss_range(ev, q, THR)
    got = TorchRange(ev, device="cpu", dtype="bfloat16").search(_blocks(q, 300), THR)
    _same_away_from_threshold(got, ref, 0.02)  # bf16 keeps ~3 significant digits


def test_knn_doubling_finds_every_pair(vectors) -> None:
    ev, q = vectors
    index = faiss.IndexFlatIP(ev.shape[1])
    index.add(ev)
    got = knn_range(index, q, THR, k=2)  # rows 300-309 need k >= 40: 2 -> 4 -> ... -> 64
    ref = faiss_range(ev, q, THR)
    _same_away_from_threshold(got, ref, 1e-5)
    assert (np.bincount(got.train, minlength=len(q))[300:310] >= 30).all()


def test_knn_range_refuses_to_cut_a_saturated_row() -> None:
    ev = np.tile(l2n(np.ones((1, 8))), (2100, 1)).astype(np.float32)
    index = faiss.IndexFlatIP(8)
    index.add(ev)
    with pytest.raises(Saturated):
        knn_range(index, ev[:1], 0.9, k=1024)
