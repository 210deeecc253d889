"""Random ReLU features and the minimum-norm least-squares fit (double-descent chapter)."""

import numpy as np
import pytest

from regbook.np import ridge
from regbook.np.random_features import min_norm_least_squares, random_relu_features


def _data(n, p, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, p)), rng.standard_normal(n)


@pytest.mark.parametrize("n, p", [(40, 10), (10, 40)])   # over- and under-determined
def test_min_norm_equals_pinv_and_the_ridge_limit(n, p):
    Phi, y = _data(n, p)
    coef = min_norm_least_squares(Phi, y)
    assert np.allclose(coef, np.linalg.pinv(Phi) @ y, rtol=1e-10, atol=1e-12)
    gaps = [np.abs(ridge(Phi, y, lam, fit_intercept=False)[0] - coef).max()
            for lam in (1e-2, 1e-4, 1e-6, 1e-8)]
    assert np.all(np.diff(gaps) < 0) and gaps[-1] < 1e-6 * np.abs(coef).max()
    assert np.allclose(ridge(Phi, y, 0.0, fit_intercept=False)[0], coef, atol=1e-10)
    if p > n:
        assert np.allclose(Phi @ coef, y, atol=1e-10)          # interpolates


def test_min_norm_is_the_limit_of_gradient_descent_from_zero():
    Phi, y = _data(10, 30)
    w = np.zeros(30)
    step = 1.0 / np.linalg.norm(Phi, 2) ** 2
    for _ in range(3000):
        w -= step * Phi.T @ (Phi @ w - y)
    assert np.allclose(w, min_norm_least_squares(Phi, y), atol=1e-8)


def test_min_norm_accepts_several_targets():
    Phi, y = _data(10, 30)
    Y = np.stack([y, 2 * y], axis=1)
    coef = min_norm_least_squares(Phi, Y)
    assert coef.shape == (30, 2)
    assert np.allclose(coef[:, 1], 2 * min_norm_least_squares(Phi, y))


def test_features_are_deterministic_per_seed_and_nested():
    X, _ = _data(20, 5)
    a, Wa = random_relu_features(X, 50, seed=3)
    b, Wb = random_relu_features(X, 50, seed=3)
    c, _ = random_relu_features(X, 50, seed=4)
    small, Ws = random_relu_features(X, 7, seed=3)
    assert np.array_equal(a, b) and np.array_equal(Wa, Wb) and not np.array_equal(a, c)
    assert np.array_equal(Ws, Wa[:, :7]) and np.array_equal(small, a[:, :7])
    assert a.shape == (20, 50) and Wa.shape == (5, 50) and np.all(a >= 0)
    assert np.allclose(a, np.maximum(X @ Wa, 0))


def test_feature_weights_have_variance_scale_squared_over_d():
    X = np.ones((1, 8))
    _, W = random_relu_features(X, 20000, seed=0, scale=2.0)
    assert abs(W.var() - 4.0 / 8) < 0.02 * 4.0 / 8


@pytest.mark.parametrize("call, match", [
    (lambda X, y: random_relu_features(X[0], 5, seed=0), "X"),
    (lambda X, y: random_relu_features(X, 0, seed=0), "n_features"),
    (lambda X, y: random_relu_features(X, 2.5, seed=0), "n_features"),
    (lambda X, y: random_relu_features(X, 5, seed=-1), "seed"),
    (lambda X, y: random_relu_features(X, 5, seed=0, scale=0.0), "scale"),
    (lambda X, y: random_relu_features(np.full((3, 2), np.nan), 5, seed=0), "X"),
    (lambda X, y: min_norm_least_squares(X, y[:-1]), "Phi and y"),
    (lambda X, y: min_norm_least_squares(X[0], y), "Phi"),
    (lambda X, y: min_norm_least_squares(X, np.array(["a"] * len(y))), "y"),
    (lambda X, y: min_norm_least_squares(X, y[:, None, None]), "y"),
])
def test_bad_input_is_refused_naming_the_argument(call, match):
    X, y = _data(6, 3)
    with pytest.raises((TypeError, ValueError), match=match):
        call(X, y)
