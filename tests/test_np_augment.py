"""Signal augmentation for (n, L) rows: circular shifts, time scaling, noise, SignalAugment."""

from __future__ import annotations

import numpy as np
import pytest

from regbook.np.augment import (
    SignalAugment,
    add_gaussian_noise,
    random_scale_signals,
    random_translate_signals,
    scale_signals,
    translate_signals,
)


@pytest.fixture
def X():
    return np.random.default_rng(0).standard_normal((7, 40))


# --- circular translation ----------------------------------------------------------------------

def test_translate_is_numpy_roll_row_by_row(X):
    shifts = np.array([0, 1, -1, 5, -13, 39, 41])
    out = translate_signals(X, shifts)
    for row, x, s in zip(out, X, shifts):
        np.testing.assert_array_equal(row, np.roll(x, s))
    np.testing.assert_array_equal(translate_signals(X, 3), np.roll(X, 3, axis=1))


def test_translate_loses_nothing_and_keeps_the_dtype(X):
    X32 = X.astype(np.float32)
    out = translate_signals(X32, 7)
    assert out.dtype == np.float32 and out.shape == X32.shape
    np.testing.assert_array_equal(translate_signals(out, -7), X32)
    assert translate_signals(np.arange(4)[None], 1).dtype == np.float64   # ints -> float64


def test_random_translate_draws_each_shift_uniformly_from_minus_k_to_k():
    L, k = 20, 3
    probe = np.zeros((6000, L))
    probe[:, 10] = 1.0
    out = random_translate_signals(probe, k, rng=np.random.default_rng(1))
    shifts = out.argmax(axis=1) - 10
    counts = np.bincount(shifts + k, minlength=2 * k + 1) / len(shifts)
    assert set(np.unique(shifts)) == set(range(-k, k + 1))
    np.testing.assert_allclose(counts, 1 / (2 * k + 1), atol=0.02)


def test_random_translate_same_generator_same_result_and_zero_is_identity(X):
    a = random_translate_signals(X, 5, rng=np.random.default_rng(2))
    b = random_translate_signals(X, 5, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(random_translate_signals(X, 0, rng=np.random.default_rng(0)),
                                  X)


# --- time scaling ------------------------------------------------------------------------------

def test_scale_by_one_is_the_identity(X):
    np.testing.assert_allclose(scale_signals(X, 1.0), X, rtol=0, atol=1e-15)


def test_scale_follows_the_formula_with_periodic_linear_interpolation(X):
    a = np.linspace(0.8, 1.25, len(X))
    out = scale_signals(X, a)
    L = X.shape[1]
    c = (L - 1) / 2
    for row, x, ai in zip(out, X, a):
        u = c + (np.arange(L) - c) / ai
        want = np.interp(u, np.arange(L), x, period=L)   # NumPy's periodic linear interpolation
        np.testing.assert_allclose(row, want, rtol=0, atol=1e-12)


def test_stretching_a_bump_widens_it_and_compressing_narrows_it():
    t = np.arange(41.0)
    bump = np.exp(-0.5 * ((t - 20) / 3) ** 2)[None]
    width = lambda s: np.sum(s > 0.5)  # noqa: E731
    assert width(scale_signals(bump, 1.5)[0]) > width(bump[0]) > width(scale_signals(bump,
                                                                                     0.6)[0])
    assert scale_signals(bump, 1.5)[0].argmax() == 20          # about the centre


def test_random_scale_draws_factors_in_the_range(X):
    """Factors from U[1 - m, 1 + m]: reproduce them from the same generator."""
    rng = np.random.default_rng(3)
    out = random_scale_signals(X, 0.2, rng=rng)
    a = np.random.default_rng(3).uniform(0.8, 1.2, size=len(X))
    np.testing.assert_array_equal(out, scale_signals(X, a))
    assert random_scale_signals(X.astype(np.float32), 0.2, rng=rng).dtype == np.float32


# --- noise without clipping --------------------------------------------------------------------

def test_unclipped_noise_has_mean_zero_and_std_sigma():
    X = np.full((400, 40), 3.0)                          # outside [0, 1]: allowed with clip=None
    out = add_gaussian_noise(X, 0.5, rng=np.random.default_rng(4), clip=None)
    noise = out - X
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.5) < 0.01
    with pytest.raises(ValueError, match="clip"):
        add_gaussian_noise(X, 0.5, rng=np.random.default_rng(4))     # default clip (0, 1)


def test_noise_clips_to_a_given_range():
    X = np.zeros((50, 10))
    out = add_gaussian_noise(X, 2.0, rng=np.random.default_rng(5), clip=(-1.0, 1.0))
    assert out.min() >= -1 and out.max() <= 1 and np.any(out == 1) and np.any(out == -1)


# --- the composer ------------------------------------------------------------------------------

def test_signal_augment_is_scale_then_translate_then_noise_from_one_generator(X):
    augment = SignalAugment(max_shift=4, max_scale=0.1, sigma=0.2)
    out = augment(X, np.random.default_rng(6))
    rng = np.random.default_rng(6)
    want = random_scale_signals(X, 0.1, rng=rng)
    want = random_translate_signals(want, 4, rng=rng)
    want = add_gaussian_noise(want, 0.2, rng=rng, clip=None)
    np.testing.assert_array_equal(out, want)


def test_signal_augment_keeps_shape_and_dtype_and_never_changes_its_input(X):
    X32 = X.astype(np.float32)
    copy = X32.copy()
    out = SignalAugment(max_shift=3, max_scale=0.2, sigma=0.1)(X32, np.random.default_rng(0))
    assert out.shape == X32.shape and out.dtype == np.float32
    np.testing.assert_array_equal(X32, copy)
    same = SignalAugment()(X32, np.random.default_rng(0))
    np.testing.assert_array_equal(same, X32)
    assert same is not X32


def test_signal_augment_draws_afresh_at_every_call(X):
    augment, rng = SignalAugment(max_shift=5), np.random.default_rng(0)
    assert not np.array_equal(augment(X, rng), augment(X, rng))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(max_shift=-1), ValueError, "max_shift"),
    (dict(max_shift=1.5), TypeError, "max_shift"),
    (dict(max_scale=1.0), ValueError, "max_scale"),
    (dict(max_scale=-0.1), ValueError, "max_scale"),
    (dict(sigma=-1.0), ValueError, "sigma"),
    (dict(sigma="0.1"), TypeError, "sigma"),
])
def test_signal_augment_checks_its_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        SignalAugment(**kwargs)


def test_bad_arguments_name_themselves(X):
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="shifts"):
        translate_signals(X, 1.5)
    with pytest.raises(ValueError, match="shifts"):
        translate_signals(X, [1, 2])
    with pytest.raises(ValueError, match="factors"):
        scale_signals(X, 0.0)
    with pytest.raises(ValueError, match="max_shift"):
        random_translate_signals(X, 40, rng=rng)
    with pytest.raises(ValueError, match="max_scale"):
        random_scale_signals(X, 1.0, rng=rng)
    with pytest.raises(TypeError, match="rng"):
        SignalAugment(max_shift=2)(X, 0)
    with pytest.raises(ValueError, match="X"):
        translate_signals(X[0], 1)
