"""Exact binomial statistics for the overlap analysis: a thin layer over `scipy.stats`.

The numbers an auditor reads come from scipy, not from code of ours: Clopper-Pearson intervals
(`binomtest(k, n).proportion_ci(method="exact")`), the one-sided exact binomial test
(`binomtest(..., alternative="greater")`) and Fisher's exact test (`fisher_exact`). This module
only fixes the conventions of the analysis (what an empty group or a degenerate rate gives).

    clopper_pearson(7, 20, 0.95)     # (0.1539..., 0.5921...), as R's binom.test
    binom_sf(8, 10, 0.5)             # P(X >= 8) = 0.0546875
"""

from __future__ import annotations

from scipy import stats as _scipy

__all__ = ["clopper_pearson", "binom_sf", "binom_test_greater", "fisher_greater"]


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) two-sided interval for a binomial proportion k / n."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= k <= n:
        raise ValueError(f"k={k} outside 0..{n}")
    ci = _scipy.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return float(_scipy.binom.sf(k - 1, n, p))


def binom_test_greater(k: int, n: int, p0: float) -> float:
    """One-sided exact binomial test p-value of H1 "success rate > p0" given k of n."""
    if n <= 0:
        return 1.0
    return float(_scipy.binomtest(k, n, p0, alternative="greater").pvalue)


def fisher_greater(k1: int, n1: int, k2: int, n2: int) -> float:
    """One-sided Fisher exact p-value of H1 "rate 1 > rate 2" (k1 of n1 vs k2 of n2).

    Unlike `binom_test_greater` with p0 = k2 / n2, it allows for the uncertainty of the
    second rate, so it stays sensible when that group is small or its rate is 0 or 1.
    """
    if n1 <= 0 or n2 <= 0:
        return 1.0
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    return float(_scipy.fisher_exact(table, alternative="greater").pvalue)
