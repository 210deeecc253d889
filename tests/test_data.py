import numpy as np
import pytest

from regbook import data


def test_polynomial_regression_is_deterministic_and_shaped():
    x1, y1 = data.make_polynomial_regression(50, noise=0.2, seed=3)
    x2, y2 = data.make_polynomial_regression(50, noise=0.2, seed=3)
    assert x1.shape == y1.shape == (50,)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(y1, data.make_polynomial_regression(50, noise=0.2, seed=4)[1])


def test_polynomial_regression_noise_has_requested_scale():
    x, y = data.make_polynomial_regression(20_000, noise=0.5, seed=0)
    assert np.all((x >= 0) & (x <= 1))
    residual = y - data.true_curve(x)
    assert abs(residual.std() - 0.5) < 0.01
    assert abs(residual.mean()) < 0.01


def test_polynomial_regression_without_noise_lies_on_the_curve():
    x, y = data.make_polynomial_regression(30, noise=0.0, seed=1)
    np.testing.assert_allclose(y, np.sin(2 * np.pi * x))


def test_sparse_regression_has_known_support():
    X, y, coef = data.make_sparse_regression(40, 100, 5, noise=0.0, seed=2)
    assert X.shape == (40, 100) and y.shape == (40,)
    np.testing.assert_array_equal(np.flatnonzero(coef), np.arange(5))
    assert np.all((np.abs(coef[:5]) >= 1) & (np.abs(coef[:5]) <= 3))
    np.testing.assert_allclose(y, X @ coef)


def test_sparse_regression_correlation_is_as_requested():
    X, _, _ = data.make_sparse_regression(20_000, 4, 2, correlation=0.7, seed=0)
    corr = np.corrcoef(X, rowvar=False)
    off_diagonal = corr[~np.eye(4, dtype=bool)]
    np.testing.assert_allclose(off_diagonal, 0.7, atol=0.02)
    np.testing.assert_allclose(X.std(axis=0), 1.0, atol=0.02)


def test_digits_split_is_fixed_and_disjoint():
    a, b = data.digits_split(), data.digits_split()
    assert a.sizes == (1077, 360, 360)
    for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.X_train.dtype == np.float32 and a.y_train.dtype == np.int64
    assert a.X_train.min() >= 0 and a.X_train.max() <= 1
    rows = {tuple(r) for r in a.X_test}
    # the bundled data has a handful of duplicate images; the splits share almost none
    assert sum(tuple(r) in rows for r in a.X_train) <= 5


def test_digits_small_training_split_keeps_val_and_test():
    full, small = data.digits_split(), data.digits_split(n_train=100)
    assert small.sizes == (100, 360, 360)
    np.testing.assert_array_equal(full.X_test, small.X_test)
    np.testing.assert_array_equal(full.X_val, small.X_val)
    assert set(np.unique(small.y_train)) == set(range(10))  # stratified: every class present


def test_diabetes_split_sizes_and_determinism():
    a, b = data.diabetes_split(), data.diabetes_split()
    assert a.sizes == (264, 89, 89)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.X_train.shape[1] == 10


@pytest.mark.parametrize("call, match", [
    (lambda: data.make_polynomial_regression(0), "n_samples"),
    (lambda: data.make_polynomial_regression(10, noise=-1.0), "noise"),
    (lambda: data.make_polynomial_regression(10, noise=float("nan")), "noise"),
    (lambda: data.make_sparse_regression(10, 5, 6), "n_informative"),
    (lambda: data.make_sparse_regression(10, 5, 2, correlation=1.0), "correlation"),
    (lambda: data.digits_split(n_train=5), "n_train"),
    (lambda: data.digits_split(n_train=5000), "n_train"),
    (lambda: data.digits_split(val_fraction=0.5, test_fraction=0.5), "val_fraction"),
    (lambda: data.diabetes_split(test_fraction=0.0), "test_fraction"),
])
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_integer_size_is_a_type_error():
    with pytest.raises(TypeError, match="n_samples"):
        data.make_polynomial_regression(10.0)
