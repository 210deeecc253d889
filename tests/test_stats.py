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


def test_t_interval_equals_scipy_ttest_rel():
    rng = np.random.default_rng(3)
    a, b = rng.normal(1, 1, 12), rng.normal(0.5, 1, 12)
    ci = stats.ttest_rel(a, b).confidence_interval(0.9)
    got = paired_interval(a, b, level=0.9)
    assert (got.low, got.high) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_bootstrap_interval_equals_scipy_bootstrap_and_keeps_pairs():
    rng = np.random.default_rng(4)
    b = rng.normal(0, 5, 15)
    a = b + rng.exponential(1.0, 15)         # differences all positive, skewed
    got = paired_interval(a, b, method="bootstrap", n_resamples=2000, seed=7)
    want = stats.bootstrap((a - b,), np.mean, method="BCa", n_resamples=2000,
                           rng=np.random.default_rng(7)).confidence_interval
    assert (got.low, got.high) == pytest.approx((want.low, want.high), rel=1e-12)
    assert got.low > 0                       # pairs kept: b's spread of 5 does not enter
    assert got == paired_interval(a, b, method="bootstrap", n_resamples=2000, seed=7)


def test_bootstrap_of_identical_differences_is_the_point():
    got = paired_interval([2.0, 3.0, 4.0], [1.0, 2.0, 3.0], method="bootstrap")
    assert (got.low, got.mean, got.high) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="boot"), "method must be one of"),
    (dict(n_resamples=10), "n_resamples must be >= 100"),
    (dict(seed=-1), "seed"),
])
def test_bad_bootstrap_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        paired_interval([1.0, 2.0, 3.0], [0.0, 0.5, 1.0], **kwargs)
