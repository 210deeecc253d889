"""The paired interval behind every "helps" in the book."""

import numpy as np
import pytest
from scipy import stats

from regbook.stats import Interval, paired_interval


def test_paired_interval_equals_scipys_t_interval_of_the_differences():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, 12), rng.normal(0.0, 1.0, 12)
    got = paired_interval(a, b)
    d = a - b
    low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert got.mean == pytest.approx(d.mean())
    assert (got.low, got.high) == pytest.approx((low, high), rel=1e-12)
    assert got.n == 12


def test_pairing_removes_the_shared_seed_noise():
    rng = np.random.default_rng(1)
    seed_effect = rng.normal(0.0, 5.0, 10)            # large, shared by both settings
    a = seed_effect + 0.3 + rng.normal(0.0, 0.05, 10)
    b = seed_effect + rng.normal(0.0, 0.05, 10)
    interval = paired_interval(a, b)
    assert 0 < interval.low < 0.3 < interval.high
    assert interval.verdict == "higher"


def test_intervals_cover_the_true_difference_about_95_percent_of_the_time():
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(2000):
        d = rng.normal(0.5, 1.0, 10)
        iv = paired_interval(d, np.zeros(10))
        hits += iv.low <= 0.5 <= iv.high
    assert 0.93 < hits / 2000 < 0.97


@pytest.mark.parametrize("mean, low, high, n, verdict", [
    (0.2, 0.1, 0.3, 10, "higher"), (-0.2, -0.3, -0.1, 10, "lower"),
    (0.1, -0.1, 0.3, 10, "no effect shown"), (0.2, 0.1, 0.3, 5, "no effect shown"),
])
def test_verdict_needs_an_interval_off_zero_and_ten_seeds(mean, low, high, n, verdict):
    assert Interval(mean, low, high, n).verdict == verdict


@pytest.mark.parametrize("a, b, match", [
    ([1.0, 2.0], [1.0], "lengths 2 and 1"), ([1.0], [2.0], "at least 2 seeds"),
    ([[1.0, 2.0]], [[1.0, 2.0]], "a must be 1-dimensional"),
])
def test_bad_input_is_refused_by_name(a, b, match):
    with pytest.raises(ValueError, match=match):
        paired_interval(a, b)


def test_level_must_be_inside_zero_one():
    with pytest.raises(ValueError, match="level"):
        paired_interval([1.0, 2.0], [0.0, 0.0], level=1.0)


def test_an_interval_unpacks_as_mean_low_high():
    mean, low, high = paired_interval([1.0, 2.0, 4.0], [0.0, 0.0, 0.0])
    assert mean == pytest.approx(7 / 3)
    assert low < mean < high
