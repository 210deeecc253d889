"""Penalty converters (regbook.convert.penalties): formulas, round trips, scikit-learn parity.

The Keras and PyTorch sides (regularizer values and gradients, optimizer steps) are tested in
the framework test files; here each converter is checked against its formula, against the
NumPy penalties, and -- for scikit-learn -- against the fitted estimators themselves. The
``*_mse`` converters (Keras ``loss="mse"``, ``torch.nn.MSELoss``) are checked here against
Keras and PyTorch themselves.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import ElasticNet, Lasso, Ridge

from regbook import convert, data
from regbook import np as rnp

lams = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False,
                 allow_subnormal=False)
sizes = st.integers(min_value=1, max_value=10**6)
W = np.array([1.0, -2.0, 3.0, 0.0, -0.5])


# --- formulas ----------------------------------------------------------------------------------

def test_keras_l1_factor_equals_lam():
    assert convert.keras_l1(0.3) == 0.3
    # Keras adds c * sum|w|: the book's penalty.
    assert convert.keras_l1(0.3) * np.abs(W).sum() == pytest.approx(rnp.l1_penalty(W, 0.3))


def test_keras_l2_factor_is_half_lam():
    assert convert.keras_l2(0.2) == 0.1
    # Keras adds c * sum w^2 (no 1/2): l2(0.1) on [1, -2, 3] is 1.4 = book's lam = 0.2.
    assert convert.keras_l2(0.2) * np.sum(W**2) == pytest.approx(rnp.l2_penalty(W, 0.2))


def test_torch_weight_decay_adds_the_book_l2_gradient():
    # torch.optim.SGD adds wd * w to the gradient.
    wd = convert.torch_weight_decay(0.05)
    np.testing.assert_allclose(wd * W, rnp.l2_grad(W, 0.05))


def test_sklearn_alphas():
    assert convert.sklearn_lasso_alpha(0.7) == 0.7
    assert convert.sklearn_ridge_alpha(0.01, 250) == pytest.approx(2.5)
    assert convert.lam_from_sklearn_ridge_alpha(2.5, 250) == pytest.approx(0.01)
    assert convert.sklearn_elasticnet_params(0.3, 0.1) == pytest.approx((0.4, 0.75))
    assert convert.lams_from_sklearn_elasticnet(0.4, 0.75) == pytest.approx((0.3, 0.1))


def test_elasticnet_params_without_any_penalty():
    assert convert.sklearn_elasticnet_params(0.0, 0.0) == (0.0, 1.0)


@pytest.mark.parametrize("lam1, lam2, expected", [(0.5, 0.0, (0.5, 1.0)), (0.0, 0.5, (0.5, 0.0))])
def test_elasticnet_params_at_the_ends_are_lasso_and_ridge(lam1, lam2, expected):
    assert convert.sklearn_elasticnet_params(lam1, lam2) == expected


# --- round trips -------------------------------------------------------------------------------

@given(lams)
def test_single_factor_round_trips(lam):
    assert convert.lam_from_keras_l1(convert.keras_l1(lam)) == lam
    assert convert.lam_from_keras_l2(convert.keras_l2(lam)) == lam
    assert convert.lam_from_torch_weight_decay(convert.torch_weight_decay(lam)) == lam
    assert convert.lam_from_sklearn_lasso_alpha(convert.sklearn_lasso_alpha(lam)) == lam


@given(lams)
def test_mse_factor_round_trips(lam):
    assert convert.lam_from_keras_l1_mse(convert.keras_l1_mse(lam)) == lam
    assert convert.lam_from_keras_l2_mse(convert.keras_l2_mse(lam)) == lam
    assert convert.lam_from_torch_weight_decay_mse(convert.torch_weight_decay_mse(lam)) == lam


@given(lams, sizes)
def test_ridge_alpha_round_trips(lam, n):
    back = convert.lam_from_sklearn_ridge_alpha(convert.sklearn_ridge_alpha(lam, n), n)
    assert back == pytest.approx(lam, rel=1e-15, abs=0.0)


@given(lams, lams)
def test_elasticnet_round_trips(lam1, lam2):
    # lam2 = alpha (1 - r) loses digits when lam2 << lam1: compare on the scale of alpha.
    back = convert.lams_from_sklearn_elasticnet(*convert.sklearn_elasticnet_params(lam1, lam2))
    assert back == pytest.approx((lam1, lam2), rel=1e-12, abs=1e-14 * (lam1 + lam2))


@given(lams, st.sampled_from(convert.PENALTY_FORMS), st.sampled_from(convert.PENALTY_FORMS),
       sizes)
def test_rescaling_preserves_the_penalty_coefficient(lam, a, b, m):
    other = convert.rescale_lam(lam, from_form=a, to_form=b, n_samples=m)
    assert convert.penalty_coefficient(other, b, n_samples=m) == pytest.approx(
        convert.penalty_coefficient(lam, a, n_samples=m), rel=1e-12, abs=1e-300)
    assert convert.rescale_lam(other, from_form=b, to_form=a, n_samples=m) == pytest.approx(
        lam, rel=1e-12, abs=1e-300)


def test_penalty_coefficients_of_each_form():
    got = [convert.penalty_coefficient(2.0, f, n_samples=10) for f in convert.PENALTY_FORMS]
    assert got == pytest.approx([2.0, 1.0, 0.2, 0.1])


# --- the conversions make the libraries solve the book's problem --------------------------------

def _problem():
    X, y, _ = data.make_sparse_regression(60, 12, 4, noise=0.5, correlation=0.3, seed=5)
    return X, y


def _kkt_residual(X, y, coef, intercept, lam1, lam2):
    # Largest violation of the book objective's optimality conditions.
    corr = X.T @ (y - X @ coef - intercept) / len(y) - lam2 * coef
    on = coef != 0
    return max(np.abs(corr[on] - lam1 * np.sign(coef[on])).max(initial=0.0),
               (np.abs(corr[~on]) - lam1).max(initial=0.0),
               abs(np.mean(y - X @ coef - intercept)))


def test_sklearn_lasso_with_converted_alpha_solves_the_book_lasso():
    X, y = _problem()
    lam = 0.2
    model = Lasso(alpha=convert.sklearn_lasso_alpha(lam), tol=1e-14, max_iter=100_000).fit(X, y)
    assert _kkt_residual(X, y, model.coef_, model.intercept_, lam, 0.0) < 1e-7
    # ... and a wrong conversion (the MSE-without-1/2 habit, alpha = lam / 2) does not.
    wrong = Lasso(alpha=lam / 2, tol=1e-14, max_iter=100_000).fit(X, y)
    assert _kkt_residual(X, y, wrong.coef_, wrong.intercept_, lam, 0.0) > 1e-2


def test_sklearn_ridge_with_converted_alpha_solves_the_book_ridge():
    X, y = _problem()
    lam, n = 0.05, len(y)
    model = Ridge(alpha=convert.sklearn_ridge_alpha(lam, n)).fit(X, y)
    assert _kkt_residual(X, y, model.coef_, model.intercept_, 0.0, lam) < 1e-10
    wrong = Ridge(alpha=lam).fit(X, y)                      # forgetting the factor n
    assert _kkt_residual(X, y, wrong.coef_, wrong.intercept_, 0.0, lam) > 1e-2


def test_sklearn_elasticnet_with_converted_params_solves_the_book_elastic_net():
    X, y = _problem()
    lam1, lam2 = 0.1, 0.3
    alpha, l1_ratio = convert.sklearn_elasticnet_params(lam1, lam2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14,
                           max_iter=100_000).fit(X, y)
    assert _kkt_residual(X, y, model.coef_, model.intercept_, lam1, lam2) < 1e-7
    coef, intercept = rnp.elastic_net(X, y, lam1, lam2)
    np.testing.assert_allclose(model.coef_, coef, atol=1e-8)


def test_andrew_ng_lam_over_2m_is_the_book_lam_over_m():
    # Ng's course: J = 1/(2m) sum (h - y)^2 + lam_ng/(2m) sum w^2. Solve it by its normal
    # equations (X^T X + lam_ng I) w = X^T y and compare with the book's ridge after rescaling.
    X, y = _problem()
    Xc, yc = X - X.mean(0), y - y.mean()
    lam_ng, m = 3.0, len(y)
    w_ng = np.linalg.solve(Xc.T @ Xc + lam_ng * np.eye(X.shape[1]), Xc.T @ yc)
    lam_book = convert.rescale_lam(lam_ng, from_form="lam/(2m)", to_form="lam/2", n_samples=m)
    assert lam_book == pytest.approx(lam_ng / m)
    np.testing.assert_allclose(rnp.ridge(X, y, lam_book)[0], w_ng, rtol=1e-10)


# --- with a squared error without the 1/2: Keras loss="mse", torch.nn.MSELoss -------------------

def test_mse_factors_double_l1_keep_keras_l2_and_double_torch_weight_decay():
    assert convert.keras_l1_mse(0.3) == 0.6 == 2 * convert.keras_l1(0.3)
    assert convert.keras_l2_mse(0.3) == 0.3 == 2 * convert.keras_l2(0.3)
    assert convert.torch_weight_decay_mse(0.3) == 0.6 == 2 * convert.torch_weight_decay(0.3)


def _keras_dense(regularizer, kernel=None, bias=None):
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((12,)),
                              keras.layers.Dense(1, kernel_regularizer=regularizer,
                                                 kernel_initializer="zeros")])
    if kernel is not None:
        model.layers[0].set_weights([kernel[:, None], np.array([bias])])
    return model


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_keras_loss_mse_with_converted_factor_is_twice_the_book_objective(penalty):
    # What Keras itself reports: evaluate() = mean r^2 + the kernel regularizer.
    keras = pytest.importorskip("keras")
    X, y = _problem()
    lam = 0.25                                               # exact in float32
    rng = np.random.default_rng(0)
    for _ in range(3):
        w, b = rng.standard_normal(X.shape[1]), float(rng.standard_normal())
        half_mse = rnp.mse(y, X @ w + b) / 2
        if penalty == "l1":
            reg = keras.regularizers.L1(convert.keras_l1_mse(lam))
            book = half_mse + rnp.l1_penalty(w, lam)
        else:
            reg = keras.regularizers.L2(convert.keras_l2_mse(lam))
            book = half_mse + rnp.l2_penalty(w, lam)
        model = _keras_dense(reg, w, b)
        model.compile(loss="mse")
        value = model.evaluate(X, y[:, None], batch_size=len(y), verbose=0)
        assert value == pytest.approx(2 * book, rel=1e-6)
        # ... and the plain converter (which assumes the book's 1/2) is off.
        plain = (keras.regularizers.L1(convert.keras_l1(lam)) if penalty == "l1"
                 else keras.regularizers.L2(convert.keras_l2(lam)))
        model = _keras_dense(plain, w, b)
        model.compile(loss="mse")
        wrong = model.evaluate(X, y[:, None], batch_size=len(y), verbose=0)
        assert abs(wrong - 2 * book) > 1e-2 * book


def test_keras_fit_with_loss_mse_and_keras_l2_mse_reaches_the_book_ridge():
    keras = pytest.importorskip("keras")
    X, y = _problem()
    lam, steps = 0.25, 400
    model = _keras_dense(keras.regularizers.L2(convert.keras_l2_mse(lam)))
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.2))
    # One epoch over the full batch repeated `steps` times: `steps` full-batch SGD steps.
    model.fit(np.tile(X, (steps, 1)), np.tile(y, steps)[:, None], batch_size=len(y),
              epochs=1, shuffle=False, verbose=0)
    kernel = model.layers[0].get_weights()[0].ravel()
    np.testing.assert_allclose(kernel, rnp.ridge(X, y, lam)[0], atol=1e-5)
    assert np.abs(kernel - rnp.ridge(X, y, 2 * lam)[0]).max() > 1e-2


@pytest.mark.parametrize("convert_wd, reaches_book", [(convert.torch_weight_decay_mse, True),
                                                      (convert.torch_weight_decay, False)])
def test_torch_mseloss_with_weight_decay_reaches_the_book_ridge(convert_wd, reaches_book):
    torch = pytest.importorskip("torch")
    X, y = _problem()
    lam = 0.25
    linear = torch.nn.Linear(X.shape[1], 1).double()
    opt = torch.optim.SGD([{"params": [linear.weight], "weight_decay": convert_wd(lam)},
                           {"params": [linear.bias], "weight_decay": 0.0}], lr=0.2)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)[:, None]
    for _ in range(500):
        opt.zero_grad()
        torch.nn.MSELoss()(linear(Xt), yt).backward()
        opt.step()
    gap = np.abs(linear.weight.detach().numpy().ravel() - rnp.ridge(X, y, lam)[0]).max()
    assert (gap < 1e-10) if reaches_book else (gap > 1e-2), gap


# --- bad input ---------------------------------------------------------------------------------

ONE_ARG = [convert.keras_l1, convert.keras_l2, convert.lam_from_keras_l1,
           convert.lam_from_keras_l2, convert.torch_weight_decay,
           convert.lam_from_torch_weight_decay, convert.sklearn_lasso_alpha,
           convert.lam_from_sklearn_lasso_alpha, convert.keras_l1_mse, convert.keras_l2_mse,
           convert.lam_from_keras_l1_mse, convert.lam_from_keras_l2_mse,
           convert.torch_weight_decay_mse, convert.lam_from_torch_weight_decay_mse]


@pytest.mark.parametrize("f", ONE_ARG, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad, error", [(-1.0, ValueError), (float("nan"), ValueError),
                                        (float("inf"), ValueError), ("1", TypeError),
                                        (None, TypeError)])
def test_single_factor_converters_reject_bad_values(f, bad, error):
    with pytest.raises(error, match="must"):
        f(bad)


@pytest.mark.parametrize("call, error, match", [
    (lambda: convert.sklearn_ridge_alpha(-0.1, 10), ValueError, "lam"),
    (lambda: convert.sklearn_ridge_alpha(0.1, 0), ValueError, "n_samples"),
    (lambda: convert.sklearn_ridge_alpha(0.1, 10.0), TypeError, "n_samples"),
    (lambda: convert.lam_from_sklearn_ridge_alpha(float("nan"), 10), ValueError, "alpha"),
    (lambda: convert.lam_from_sklearn_ridge_alpha(1.0, -3), ValueError, "n_samples"),
    (lambda: convert.sklearn_elasticnet_params(-0.1, 0.1), ValueError, "lam1"),
    (lambda: convert.sklearn_elasticnet_params(0.1, float("inf")), ValueError, "lam2"),
    (lambda: convert.lams_from_sklearn_elasticnet(0.1, 1.5), ValueError, "l1_ratio"),
    (lambda: convert.lams_from_sklearn_elasticnet(-0.1, 0.5), ValueError, "alpha"),
    (lambda: convert.penalty_coefficient(0.1, "lam/3"), ValueError, "form"),
    (lambda: convert.penalty_coefficient(0.1, "lam/m"), ValueError, "n_samples is required"),
    (lambda: convert.rescale_lam(0.1, from_form="lam", to_form="lam/(2m)"), ValueError,
     "n_samples"),
    (lambda: convert.rescale_lam(-0.1, from_form="lam", to_form="lam/2"), ValueError, "lam"),
    (lambda: convert.rescale_lam(0.1, from_form="lam", to_form="lam/m", n_samples=0),
     ValueError, "n_samples"),
])
def test_bad_arguments_are_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()
