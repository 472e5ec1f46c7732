"""The binomial statistics (scipy underneath) against R's values and closed forms."""

from __future__ import annotations

import math

import pytest

from dedup.stats import binom_sf, binom_test_greater, clopper_pearson, fisher_greater


@pytest.mark.parametrize(
    ("k", "n", "conf", "lo", "hi"),
    [
        (7, 20, 0.95, 0.1539092, 0.5921885),  # R: binom.test(7, 20)$conf.int
        (682, 925, 0.95, 0.7076683, 0.7654066),  # R: binom.test(c(682, 243), p = 3/4)
        (5, 10, 0.95, 0.1870860, 0.8129140),
        (0, 10, 0.95, 0.0, 1 - 0.025**0.1),
        (10, 10, 0.95, 0.025**0.1, 1.0),
        (0, 10, 0.995, 0.0, 1 - 0.0025**0.1),
    ],
)
def test_clopper_pearson_known_values(k: int, n: int, conf: float, lo: float, hi: float) -> None:
    got = clopper_pearson(k, n, conf)
    assert got == pytest.approx((lo, hi), abs=1e-7)


def test_clopper_pearson_edges() -> None:
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    wide, narrow = clopper_pearson(30, 100, 0.995), clopper_pearson(30, 100, 0.95)
    assert wide[0] < narrow[0] < 0.3 < narrow[1] < wide[1]
    with pytest.raises(ValueError):
        clopper_pearson(11, 10)


def test_binomial_tail_and_test() -> None:
    assert binom_sf(8, 10, 0.5) == pytest.approx(56 / 1024)
    exact = sum(math.comb(40, i) * 0.3**i * 0.7 ** (40 - i) for i in range(17, 41))
    assert binom_sf(17, 40, 0.3) == pytest.approx(exact, rel=1e-10)
    assert (binom_sf(0, 5, 0.2), binom_sf(6, 5, 0.2)) == (1.0, 0.0)
    assert binom_test_greater(3, 3, 0.0) == 0.0 and binom_test_greater(0, 3, 0.0) == 1.0
    assert binom_test_greater(2, 3, 1.0) == 1.0 and binom_test_greater(0, 0, 0.5) == 1.0


def test_fisher_exact_one_sided() -> None:
    # R: fisher.test(matrix(c(3, 1, 1, 3), 2), alternative = "greater")$p.value = 0.2428571
    assert fisher_greater(3, 4, 1, 4) == pytest.approx(0.2428571, abs=1e-7)
    # Tea tasting, all four right: 1 / choose(8, 4)
    assert fisher_greater(4, 4, 0, 4) == pytest.approx(1 / 70)
    assert fisher_greater(0, 4, 4, 4) == pytest.approx(1.0)
    assert fisher_greater(1, 4, 0, 0) == 1.0
