import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.preprocessing import PolynomialFeatures

from regbook import data
from regbook import np as rnp


def test_features_are_powers_of_2x_minus_1():
    x = np.array([0.0, 0.25, 1.0])
    expected = np.array([[1, -1, 1, -1], [1, -0.5, 0.25, -0.125], [1, 1, 1, 1]])
    np.testing.assert_allclose(rnp.polynomial_features(x, 3), expected)


def test_exact_polynomial_is_recovered():
    x = np.linspace(0, 1, 12)
    z = 2 * x - 1
    y = 0.5 - 2 * z + 3 * z**3
    np.testing.assert_allclose(rnp.fit_polynomial(x, y, 3), [0.5, -2, 0, 3], atol=1e-10)


def test_least_squares_fit_matches_numpy_polyfit():
    x, y = data.make_polynomial_regression(30, seed=0)
    ours = rnp.predict_polynomial(rnp.fit_polynomial(x, y, 5), x)
    reference = np.polyval(np.polyfit(x, y, 5), x)
    np.testing.assert_allclose(ours, reference, rtol=1e-8, atol=1e-10)


def test_penalised_fit_matches_sklearn_ridge_after_conversion():
    # Book: 1/(2n)||y - Phi c||^2 + lam/2 ||c[1:]||^2; sklearn Ridge: ||.||^2 + alpha ||w||^2
    # with an unpenalised intercept, so alpha = n * lam.
    x, y = data.make_polynomial_regression(25, seed=1)
    lam = 1e-3
    coef = rnp.fit_polynomial(x, y, 6, lam=lam)
    feats = PolynomialFeatures(6, include_bias=False).fit_transform((2 * x - 1)[:, None])
    ridge = Ridge(alpha=len(y) * lam, solver="svd").fit(feats, y)
    np.testing.assert_allclose(coef[1:], ridge.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(coef[0], ridge.intercept_, rtol=1e-7)


def test_training_error_never_increases_with_degree():
    x, y = data.make_polynomial_regression(20, seed=2)
    errors = [rnp.mse(y, rnp.predict_polynomial(rnp.fit_polynomial(x, y, d), x))
              for d in range(12)]
    assert all(b <= a + 1e-10 for a, b in zip(errors, errors[1:]))


@given(st.integers(min_value=0, max_value=6), st.integers(min_value=0, max_value=10_000))
def test_residual_is_orthogonal_to_features(degree, seed):
    x, y = data.make_polynomial_regression(20, seed=seed)
    coef = rnp.fit_polynomial(x, y, degree)
    phi = rnp.polynomial_features(x, degree)
    np.testing.assert_allclose(phi.T @ (y - phi @ coef), 0.0, atol=1e-8)


@pytest.mark.parametrize("call, error, match", [
    (lambda: rnp.fit_polynomial([0.1, 0.2], [1.0], 1), ValueError, "same shape"),
    (lambda: rnp.fit_polynomial([0.1, 0.2], [1.0, 2.0], -1), ValueError, "degree"),
    (lambda: rnp.fit_polynomial([0.1, 0.2], [1.0, 2.0], 1, lam=-0.1), ValueError, "lam"),
    (lambda: rnp.fit_polynomial([0.1, np.nan], [1.0, 2.0], 1), ValueError, "x"),
    (lambda: rnp.fit_polynomial(["a", "b"], [1.0, 2.0], 1), TypeError, "x"),
    (lambda: rnp.fit_polynomial([[0.1, 0.2]], [1.0, 2.0], 1), ValueError, "x"),
    (lambda: rnp.fit_polynomial([], [], 1), ValueError, "empty"),
])
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_fit_polynomial_validates_each_argument_once(monkeypatch):
    from regbook.np import polynomial

    names = []
    original = polynomial.check_array
    monkeypatch.setattr(polynomial, "check_array",
                        lambda x, name, **kw: names.append(name) or original(x, name, **kw))
    rnp.fit_polynomial(np.linspace(0, 1, 8), np.arange(8.0), 3, lam=0.1)
    assert names == ["x", "y"]


@pytest.mark.parametrize("degree, error", [(2.5, TypeError), (True, TypeError), (-1, ValueError)])
def test_bad_degree_is_named(degree, error):
    with pytest.raises(error, match="^degree must"):
        rnp.fit_polynomial([0.1, 0.2], [1.0, 2.0], degree)
