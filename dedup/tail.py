"""Extrapolating a false-positive rate past what was measured: a generalised Pareto tail.

Among ~10^6 distinct pairs, zero false matches only bounds the per-pair rate at ~3e-6; an
audit at 400M training images needs rates around 1e-13. Peaks over threshold: the largest
`n_tail` values of a sample are fitted by a generalised Pareto distribution (probability-
weighted moments, Hosking & Wallis 1987), and the rate of exceeding a level t is
(n_tail / n) * S(t - u). The uncertainty is a parametric-free bootstrap of the excesses with
a Poisson draw of their count.

    fit = fit_tail(similarities, n_tail=1000)
    fit.rate(0.35), fit.interval(0.35, level=0.9)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GPD", "TailFit", "fit_gpd", "fit_tail"]


@dataclass(frozen=True)
class GPD:
    """Generalised Pareto with shape `xi` (xi < 0: bounded above) and scale `sigma`."""

    xi: float
    sigma: float

    def survival(self, y: float | np.ndarray) -> np.ndarray:
        """P(Y > y) for excesses y >= 0."""
        y = np.maximum(np.asarray(y, dtype=np.float64), 0.0)
        if abs(self.xi) < 1e-9:
            return np.exp(-y / self.sigma)
        base = 1.0 + self.xi * y / self.sigma
        return np.where(base > 0, np.power(np.maximum(base, 1e-300), -1.0 / self.xi), 0.0)

    @property
    def endpoint(self) -> float:
        """The largest possible excess (inf unless xi < 0)."""
        return -self.sigma / self.xi if self.xi < 0 else float("inf")


def fit_gpd(excesses: np.ndarray) -> GPD:
    """Probability-weighted-moment fit of a GPD to positive excesses."""
    x = np.sort(np.asarray(excesses, dtype=np.float64))
    n = len(x)
    if n < 3 or x.mean() <= 0:
        raise ValueError("need at least 3 positive excesses")
    a0 = x.mean()
    a1 = float(np.sum(x * (n - np.arange(1, n + 1)) / (n - 1)) / n)
    k = a0 / (a0 - 2 * a1) - 2  # Hosking's shape; xi = -k
    sigma = 2 * a0 * a1 / (a0 - 2 * a1)
    return GPD(xi=-k, sigma=sigma)


@dataclass(frozen=True)
class TailFit:
    """A fitted tail of a sample of `n` values: threshold `u`, `n_tail` values above it."""

    n: int
    u: float
    n_tail: int
    gpd: GPD
    boot: tuple[GPD, ...] = ()
    boot_counts: tuple[int, ...] = ()

    def rate(self, t: float) -> float:
        """Estimated P(value >= t) per sampled value."""
        if t <= self.u:
            raise ValueError(f"level {t} is not above the tail threshold {self.u}")
        return float(self.n_tail / self.n * self.gpd.survival(t - self.u))

    def interval(self, t: float, level: float = 0.9) -> tuple[float, float]:
        """Bootstrap interval of `rate(t)`."""
        rates = [
            c / self.n * float(g.survival(t - self.u))
            for g, c in zip(self.boot, self.boot_counts, strict=True)
        ]
        lo, hi = np.quantile(rates, [(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)


def fit_tail(values: np.ndarray, n_tail: int, boot: int = 500, seed: int = 0) -> TailFit:
    """Fit the top `n_tail` of `values` (peaks over the next value) with a bootstrap."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    if n_tail >= len(v):
        raise ValueError("n_tail must be smaller than the sample")
    u = float(v[-n_tail - 1])
    exc = v[-n_tail:] - u
    exc = exc[exc > 0]
    rng = np.random.default_rng(seed)
    fits, counts = [], []
    for _ in range(boot):
        fits.append(fit_gpd(rng.choice(exc, size=len(exc), replace=True)))
        counts.append(int(rng.poisson(len(exc))))
    return TailFit(len(v), u, len(exc), fit_gpd(exc), tuple(fits), tuple(counts))
