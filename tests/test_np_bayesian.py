"""Bayesian linear regression (regbook.np.bayesian).

The gold model is scikit-learn's BayesianRidge (same Gamma hyper-priors, same start and
stopping rule) run to a tight tolerance; the posterior at fixed precisions is checked against
regbook.np.ridge with the book's lambda = weight_precision / (n * noise_precision), and the
evidence against the Gaussian marginal density written out directly.
"""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import BayesianRidge

from regbook import data
from regbook import np as rnp
from regbook.np.bayesian import BayesianFit, bayesian_ridge, log_evidence, posterior

TIGHT = dict(tol=1e-10, max_iter=10_000)


def _diabetes():
    return load_diabetes(return_X_y=True)


def _wide():                     # n < p: the full SVD branch
    X, y, _ = data.make_sparse_regression(30, 60, 5, noise=0.5, seed=1)
    return X, y


def _tall():                     # a synthetic problem with n > p and a non-zero mean
    X, y, _ = data.make_sparse_regression(200, 15, 6, noise=1.0, correlation=0.3, seed=3)
    return X + 2.0, y + 5.0


PROBLEMS = {"diabetes": _diabetes, "wide": _wide, "tall": _tall}


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name", PROBLEMS)
def test_equals_sklearn_bayesian_ridge(name, fit_intercept):
    X, y = PROBLEMS[name]()
    priors = dict(alpha_1=1e-3, alpha_2=2e-3, lambda_1=3e-3, lambda_2=1e-2)
    ours = bayesian_ridge(X, y, fit_intercept=fit_intercept, **priors, **TIGHT)
    sk = BayesianRidge(fit_intercept=fit_intercept, **priors, **TIGHT).fit(X, y)
    assert ours.converged
    assert _rel(ours.coef, sk.coef_) < 1e-6
    assert abs(ours.intercept - sk.intercept_) < 1e-6 * max(1.0, abs(sk.intercept_))
    assert abs(ours.noise_precision / sk.alpha_ - 1) < 1e-6
    assert abs(ours.weight_precision / sk.lambda_ - 1) < 1e-6
    assert _rel(ours.sigma, sk.sigma_) < 1e-6
    X_new = X[::3] + 0.1
    mean, std = ours.predict(X_new, return_std=True)
    sk_mean, sk_std = sk.predict(X_new, return_std=True)
    assert _rel(mean, sk_mean) < 1e-6 and _rel(std, sk_std) < 1e-6
    assert np.array_equal(ours.predict(X_new), mean)


@pytest.mark.parametrize("name", PROBLEMS)
def test_default_settings_stop_at_sklearns_iteration(name):
    X, y = PROBLEMS[name]()
    ours, sk = bayesian_ridge(X, y), BayesianRidge().fit(X, y)
    assert ours.n_iter == sk.n_iter_
    assert abs(ours.noise_precision / sk.alpha_ - 1) < 1e-9


def test_max_iter_stops_early_and_says_so():
    X, y = _diabetes()
    fit = bayesian_ridge(X, y, max_iter=2, tol=0.0)
    assert fit.n_iter == 2 and not fit.converged


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name", PROBLEMS)
def test_posterior_mean_is_ridge_with_the_books_lambda(name, fit_intercept):
    X, y = PROBLEMS[name]()
    n = len(y)
    for alpha, lam_w in ((0.3, 2.0), (1e-3, 5.0), (10.0, 0.01)):
        post = posterior(X, y, noise_precision=alpha, weight_precision=lam_w,
                         fit_intercept=fit_intercept)
        lam = lam_w / (n * alpha)
        assert post.lam == pytest.approx(lam, rel=1e-15)
        coef, intercept = rnp.ridge(X, y, lam, fit_intercept=fit_intercept)
        assert _rel(post.coef, coef) < 1e-9
        assert abs(post.intercept - intercept) < 1e-9 * max(1.0, abs(intercept))
        # S = (lam_w I + alpha Xc^T Xc)^{-1}, and m = alpha S Xc^T yc
        Xc = X - X.mean(0) if fit_intercept else X
        yc = y - y.mean() if fit_intercept else y
        S = np.linalg.inv(lam_w * np.eye(X.shape[1]) + alpha * Xc.T @ Xc)
        assert _rel(post.sigma, S) < 1e-8
        assert _rel(post.coef, alpha * S @ Xc.T @ yc) < 1e-8


def test_fitted_lam_is_the_map_scaling():
    # lam = sigma^2 / (n tau^2) with sigma^2 = 1 / alpha and tau^2 = 1 / lam_w
    X, y = _diabetes()
    fit = bayesian_ridge(X, y)
    sigma2, tau2 = 1 / fit.noise_precision, 1 / fit.weight_precision
    assert fit.lam == pytest.approx(sigma2 / (len(y) * tau2), rel=1e-14)
    assert _rel(fit.coef, rnp.ridge(X, y, fit.lam)[0]) < 1e-9


@pytest.mark.parametrize("name", ["tall", "wide"])
def test_map_maximises_the_log_posterior_and_the_scaling_holds(name):
    # -log p(w | y) = n alpha F(w) + const, F the book's ridge objective with lam = lam_w/(n alpha)
    X, y = PROBLEMS[name]()
    n, p = X.shape
    alpha, lam_w = 0.7, 3.0
    lam = lam_w / (n * alpha)
    Xc, yc = X - X.mean(0), y - y.mean()

    def neg_log_post(w):
        return 0.5 * alpha * np.sum((yc - Xc @ w) ** 2) + 0.5 * lam_w * w @ w

    def book(w):
        return np.sum((yc - Xc @ w) ** 2) / (2 * n) + lam / 2 * w @ w

    rng = np.random.default_rng(0)
    ws = rng.normal(size=(20, p))
    gaps = [neg_log_post(w) - n * alpha * book(w) for w in ws]
    assert np.ptp(gaps) < 1e-9 * max(abs(neg_log_post(w)) for w in ws)
    m = posterior(X, y, noise_precision=alpha, weight_precision=lam_w).coef
    assert all(neg_log_post(m) < neg_log_post(m + 1e-3 * d) for d in rng.normal(size=(20, p)))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name", PROBLEMS)
def test_log_evidence_is_the_gaussian_marginal_density(name, fit_intercept):
    X, y = PROBLEMS[name]()
    alpha, lam_w = 0.05, 0.2
    Xc = X - X.mean(0) if fit_intercept else X
    yc = y - y.mean() if fit_intercept else y
    C = np.eye(len(y)) / alpha + Xc @ Xc.T / lam_w
    _, logdet = np.linalg.slogdet(C)
    direct = -0.5 * (yc @ np.linalg.solve(C, yc) + logdet + len(y) * np.log(2 * np.pi))
    ours = log_evidence(X, y, noise_precision=alpha, weight_precision=lam_w,
                        fit_intercept=fit_intercept)
    assert ours == pytest.approx(direct, rel=1e-10)


def test_log_evidence_matches_sklearns_score_with_the_hyper_priors():
    X, y = _diabetes()
    fit = bayesian_ridge(X, y, **TIGHT)
    sk = BayesianRidge(compute_score=True, **TIGHT).fit(X, y)
    a, lw = fit.noise_precision, fit.weight_precision
    hyper = 1e-6 * (np.log(a) - a + np.log(lw) - lw)
    ours = log_evidence(X, y, noise_precision=a, weight_precision=lw) + hyper
    assert ours == pytest.approx(sk.scores_[-1], rel=1e-10)


def test_fitted_precisions_maximise_the_evidence():
    # With nearly flat hyper-priors the fixed point is a stationary point of the evidence.
    X, y = _diabetes()
    fit = bayesian_ridge(X, y, **TIGHT)
    a, lw = fit.noise_precision, fit.weight_precision
    best = log_evidence(X, y, noise_precision=a, weight_precision=lw)
    for fa, fl in ((1.05, 1), (0.95, 1), (1, 1.2), (1, 0.8)):
        assert log_evidence(X, y, noise_precision=a * fa, weight_precision=lw * fl) < best


def test_predictive_std_is_noise_plus_weight_uncertainty():
    X, y = _tall()
    fit = bayesian_ridge(X, y)
    x = X[:5]
    xc = x - X.mean(0)
    var = 1 / fit.noise_precision + np.einsum("ij,jk,ik->i", xc, fit.sigma, xc)
    assert np.allclose(fit.predict(x, return_std=True)[1] ** 2, var, rtol=1e-12)
    assert np.all(fit.predict(x, return_std=True)[1] > fit.noise_precision ** -0.5)


def test_result_is_frozen():
    X, y = _tall()
    fit = bayesian_ridge(X, y)
    assert isinstance(fit, BayesianFit)
    with pytest.raises(AttributeError):
        fit.lam = 1.0


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(max_iter=2.5), TypeError, "max_iter"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(alpha_1=-1e-6), ValueError, "alpha_1"),
    (dict(alpha_2="1"), TypeError, "alpha_2"),
    (dict(lambda_1=np.nan), ValueError, "lambda_1"),
    (dict(lambda_2=-1.0), ValueError, "lambda_2"),
    (dict(fit_intercept="yes"), TypeError, "fit_intercept"),
])
def test_bad_options_are_refused_by_name(kwargs, exc, name):
    X, y = _tall()
    with pytest.raises(exc, match=name):
        bayesian_ridge(X, y, **kwargs)


def test_bad_data_is_refused_by_name():
    X, y = _tall()
    with pytest.raises(ValueError, match="X"):
        bayesian_ridge(X[0], y)
    with pytest.raises(ValueError, match="lengths differ"):
        bayesian_ridge(X, y[:-1])
    with pytest.raises(ValueError, match="y"):
        bayesian_ridge(X, np.where(np.arange(len(y)) == 3, np.nan, y))
    with pytest.raises(TypeError, match="X"):
        bayesian_ridge(X.astype(str), y)


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(noise_precision=0.0, weight_precision=1.0), ValueError, "noise_precision"),
    (dict(noise_precision=1.0, weight_precision=-2.0), ValueError, "weight_precision"),
    (dict(noise_precision=True, weight_precision=1.0), TypeError, "noise_precision"),
])
def test_bad_precisions_are_refused_by_name(kwargs, exc, name):
    X, y = _tall()
    with pytest.raises(exc, match=name):
        posterior(X, y, **kwargs)
    with pytest.raises(exc, match=name):
        log_evidence(X, y, **kwargs)


def test_predict_refuses_bad_input_by_name():
    X, y = _tall()
    fit = bayesian_ridge(X, y)
    with pytest.raises(ValueError, match="features"):
        fit.predict(X[:, :3])
    with pytest.raises(TypeError, match="return_std"):
        fit.predict(X, return_std=1)
    with pytest.raises(ValueError, match="X"):
        fit.predict(X[0])


def test_importing_it_does_not_import_scipy():
    code = "import regbook.np.bayesian, sys; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
