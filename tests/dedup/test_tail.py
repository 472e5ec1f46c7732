"""The generalised Pareto tail fit (`dedup.tail`) recovers known tails."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.tail import GPD, fit_gpd, fit_tail


def _draw(xi: float, sigma: float, n: int, seed: int) -> np.ndarray:
    u = np.random.default_rng(seed).random(n)
    return sigma * (np.power(u, -xi) - 1) / xi  # inverse of the survival function


@pytest.mark.parametrize("xi", [-0.3, 0.2])
def test_fit_recovers_shape_and_scale(xi: float) -> None:
    g = fit_gpd(_draw(xi, 0.05, 20_000, 1))
    assert g.xi == pytest.approx(xi, abs=0.05) and g.sigma == pytest.approx(0.05, rel=0.08)


def test_bounded_tail_has_an_endpoint() -> None:
    g = GPD(xi=-0.5, sigma=0.1)
    assert g.endpoint == pytest.approx(0.2)
    assert g.survival(0.25) == 0.0 and 0 < g.survival(0.1) < 1


def test_extrapolated_rate_and_interval_cover_the_truth() -> None:
    # a sample whose top 1 % is GPD(-0.2, 0.02) over 0.3: P(X >= 0.35) is known exactly
    rng = np.random.default_rng(2)
    body = rng.uniform(0.0, 0.3, 99_000)
    top = 0.3 + _draw(-0.2, 0.02, 1_000, 3)
    fit = fit_tail(np.concatenate([body, top]), n_tail=1_000, boot=200)
    truth = 0.01 * float(GPD(-0.2, 0.02).survival(0.05))
    lo, hi = fit.interval(0.35)
    assert lo <= truth <= hi and fit.rate(0.35) == pytest.approx(truth, rel=0.5)
    with pytest.raises(ValueError):
        fit.rate(0.1)  # below the tail threshold: not an extrapolation
