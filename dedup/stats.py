"""Exact binomial statistics for the overlap analysis, without scipy.

Clopper-Pearson intervals come from beta quantiles, and the one-sided binomial test from the
regularised incomplete beta function (`P(X >= k) = I_p(k, n - k + 1)` for X ~ Bin(n, p)).
The incomplete beta is evaluated by its continued fraction (modified Lentz), the quantile by
bisection, which is monotone and plenty fast for the few calls an analysis makes.

    clopper_pearson(7, 20, 0.95)     # (0.1539..., 0.5921...), as R's binom.test
    binom_sf(8, 10, 0.5)             # P(X >= 8) = 0.0546875
"""

from __future__ import annotations

import math

__all__ = [
    "betainc",
    "beta_ppf",
    "clopper_pearson",
    "binom_sf",
    "binom_test_greater",
    "fisher_greater",
]

_EPS = 1e-15
_TINY = 1e-300


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta (Numerical Recipes `betacf`, Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                    -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):  # fmt: skip
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + num / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
    if a <= 0 or b <= 0:
        raise ValueError("betainc needs a, b > 0")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def beta_ppf(q: float, a: float, b: float) -> float:
    """The q-quantile of Beta(a, b): the x with I_x(a, b) = q (bisection to 1e-14)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be in [0, 1]")
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if betainc(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-14:
            break
    return 0.5 * (lo + hi)


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) two-sided interval for a binomial proportion k / n."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= k <= n:
        raise ValueError(f"k={k} outside 0..{n}")
    alpha = 1.0 - confidence
    lo = 0.0 if k == 0 else beta_ppf(alpha / 2, k, n - k + 1)
    hi = 1.0 if k == n else beta_ppf(1 - alpha / 2, k + 1, n - k)
    return lo, hi


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return betainc(k, n - k + 1, p)


def binom_test_greater(k: int, n: int, p0: float) -> float:
    """One-sided exact binomial test p-value of H1 "success rate > p0" given k of n."""
    if n <= 0:
        return 1.0
    if p0 <= 0.0:
        return 1.0 if k == 0 else 0.0
    if p0 >= 1.0:
        return 1.0
    return binom_sf(k, n, p0)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(k1: int, n1: int, k2: int, n2: int) -> float:
    """One-sided Fisher exact p-value of H1 "rate 1 > rate 2" (k1 of n1 vs k2 of n2).

    Unlike `binom_test_greater` with p0 = k2 / n2, it allows for the uncertainty of the
    second rate, so it stays sensible when that group is small or its rate is 0 or 1.
    """
    total, n = k1 + k2, n1 + n2
    if n1 <= 0 or n2 <= 0:
        return 1.0
    log_all = _log_comb(n, total)
    hi = min(total, n1)
    terms = [_log_comb(n1, x) + _log_comb(n2, total - x) - log_all for x in range(k1, hi + 1)]
    return min(1.0, sum(math.exp(t) for t in terms))
