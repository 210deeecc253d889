"""Ridge, lasso, elastic net, the lasso path and the gradient methods (regbook.np).

The gold models are scikit-learn's solvers run to a tiny tolerance, after the documented
conversion of the strength (regbook.convert): Lasso(alpha = lam), Ridge(alpha = n lam),
ElasticNet(alpha = lam1 + lam2, l1_ratio = lam1 / alpha).
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, Lasso, Ridge
from sklearn.linear_model import lasso_path as sklearn_lasso_path

from regbook import convert, data
from regbook import np as rnp

GOLD_TOL = 1e-15          # scikit-learn's relative duality-gap tolerance for the references
FRACTIONS = (0.5, 0.1, 0.02, 0.005)   # lam as a fraction of lam_max


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y


def _sparse_wide():            # n < p, known sparse support
    X, y, _ = data.make_sparse_regression(50, 200, 5, noise=0.5, seed=1)
    return X, y


def _correlated():             # strongly equicorrelated features
    X, y, _ = data.make_sparse_regression(80, 40, 8, noise=0.5, correlation=0.9, seed=2)
    return X, y


DATASETS = {"diabetes": _diabetes, "sparse n<p": _sparse_wide, "correlated": _correlated}


def lam_max(X, y):
    Xc, yc = X - X.mean(0), y - y.mean()
    return np.abs(Xc.T @ yc).max() / len(y)


def gold_lasso(X, y, lam, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # ConvergenceWarning at the tiny tolerance
        model = Lasso(alpha=convert.sklearn_lasso_alpha(lam), tol=GOLD_TOL, max_iter=200_000,
                      **kwargs).fit(X, y)
    return model.coef_, model.intercept_


# --- ridge -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("lam", [1e-3, 0.1, 10.0])
def test_ridge_matches_sklearn_ridge_after_conversion(name, lam):
    X, y = DATASETS[name]()
    coef, intercept = rnp.ridge(X, y, lam)
    gold = Ridge(alpha=convert.sklearn_ridge_alpha(lam, len(y)), solver="svd").fit(X, y)
    np.testing.assert_allclose(coef, gold.coef_, rtol=1e-8, atol=1e-10)
    assert intercept == pytest.approx(gold.intercept_, rel=1e-10, abs=1e-10)


def test_ridge_without_intercept_matches_sklearn():
    X, y = _correlated()
    coef, intercept = rnp.ridge(X, y, 0.05, fit_intercept=False)
    gold = Ridge(alpha=0.05 * len(y), fit_intercept=False, solver="svd").fit(X, y)
    np.testing.assert_allclose(coef, gold.coef_, rtol=1e-9, atol=1e-12)
    assert intercept == 0.0


def test_ridge_with_more_features_than_rows_matches_the_dual_formula():
    # w = X^T (X X^T + n lam I)^{-1} y: an (n, n) system, exact for n < p.
    X, y = _sparse_wide()
    lam = 0.01
    Xc, yc = X - X.mean(0), y - y.mean()
    dual = Xc.T @ np.linalg.solve(Xc @ Xc.T + len(y) * lam * np.eye(len(y)), yc)
    np.testing.assert_allclose(rnp.ridge(X, y, lam)[0], dual, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("lam", [1e-6, 0.1, 10.0])
def test_ridge_normal_equations_solution_equals_the_svd_formula(name, lam):
    # The solver solves the primal (n >= p) or dual (n < p) system; the textbook's SVD
    # formula w = V diag(d / (d^2 + n lam)) U^T y is an independent route to the same w.
    X, y = DATASETS[name]()
    Xc, yc = X - X.mean(0), y - y.mean()
    U, d, Vt = np.linalg.svd(Xc, full_matrices=False)
    svd = Vt.T @ (d / (d**2 + len(y) * lam) * (U.T @ yc))
    np.testing.assert_allclose(rnp.ridge(X, y, lam)[0], svd, rtol=1e-7,
                               atol=1e-9 * np.abs(svd).max())


@pytest.mark.parametrize("lam", [1e-300, 1e-12])
def test_ridge_on_rank_deficient_data_with_tiny_lam_stays_finite_and_optimal(lam):
    # Duplicated columns make X^T X singular; a tiny lam leaves the system (numerically)
    # singular, where the solver must switch to the SVD.
    X, y = _diabetes()
    X = np.column_stack([X, X[:, :3]])
    coef, intercept = rnp.ridge(X, y, lam)
    assert np.all(np.isfinite(coef))
    r = X @ coef + intercept - y
    np.testing.assert_allclose(X.T @ r / len(y), 0.0, atol=1e-6)


def test_ridge_gradient_vanishes_at_the_solution():
    X, y = _diabetes()
    lam = 0.02
    coef, intercept = rnp.ridge(X, y, lam)
    r = X @ coef + intercept - y
    np.testing.assert_allclose(X.T @ r / len(y) + lam * coef, 0.0, atol=1e-9)
    assert abs(r.mean()) < 1e-9                         # intercept not penalised


def test_ridge_with_zero_lam_is_minimum_norm_least_squares():
    X, y = _sparse_wide()
    Xc, yc = X - X.mean(0), y - y.mean()
    np.testing.assert_allclose(rnp.ridge(X, y, 0.0)[0], np.linalg.pinv(Xc) @ yc, atol=1e-9)


# --- lasso -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("fraction", FRACTIONS)
def test_lasso_matches_sklearn_lasso(name, fraction):
    X, y = DATASETS[name]()
    lam = fraction * lam_max(X, y)
    coef, intercept = rnp.lasso(X, y, lam)
    gold_coef, gold_intercept = gold_lasso(X, y, lam)
    ours = rnp.lasso_objective(X, y, coef, intercept, lam)
    gold = rnp.lasso_objective(X, y, gold_coef, gold_intercept, lam)
    assert ours <= gold * (1 + 1e-9)                   # at least as good, to 1e-9 relative
    assert ours == pytest.approx(gold, rel=1e-9)
    np.testing.assert_allclose(coef, gold_coef, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(coef != 0, gold_coef != 0)    # same exact zeros
    assert intercept == pytest.approx(gold_intercept, abs=1e-6)


def test_lasso_without_intercept_matches_sklearn():
    X, y = _correlated()
    y = y + 3.0
    lam = 0.05 * lam_max(X, y)
    coef, intercept = rnp.lasso(X, y, lam, fit_intercept=False)
    gold_coef, _ = gold_lasso(X, y, lam, fit_intercept=False)
    assert intercept == 0.0
    np.testing.assert_allclose(coef, gold_coef, atol=1e-6)
    np.testing.assert_array_equal(coef != 0, gold_coef != 0)


@pytest.mark.parametrize("name", DATASETS)
def test_lasso_is_all_zeros_from_lam_max_on(name):
    X, y = DATASETS[name]()
    coef, intercept = rnp.lasso(X, y, lam_max(X, y))
    assert np.count_nonzero(coef) == 0
    assert intercept == pytest.approx(y.mean())
    assert np.count_nonzero(rnp.lasso(X, y, 0.99 * lam_max(X, y))[0]) >= 1


@settings(max_examples=25)
@given(st.integers(5, 40), st.integers(1, 30), st.floats(0.0, 0.95), st.floats(0.001, 1.0),
       st.integers(0, 10_000))
def test_lasso_solution_satisfies_the_optimality_conditions(n, p, rho, fraction, seed):
    # KKT: x_j^T r / n = lam sign(w_j) on the support, |x_j^T r / n| <= lam off it.
    # tol=0: stop only when the active-set search has solved the problem exactly.
    X, y, _ = data.make_sparse_regression(n, p, min(3, p), noise=0.3, correlation=rho,
                                          seed=seed)
    lam = fraction * lam_max(X, y) + 1e-12
    coef, intercept = rnp.lasso(X, y, lam, tol=0.0)
    corr = X.T @ (y - X @ coef - intercept) / n
    scale = lam + 1e-9 * np.abs(corr).max()
    support = coef != 0
    np.testing.assert_allclose(corr[support], lam * np.sign(coef[support]), atol=1e-8 * scale)
    assert np.all(np.abs(corr[~support]) <= lam + 1e-8 * scale)
    assert rnp.duality_gap(X, y, coef, lam) <= 1e-10 * np.var(y) + 1e-12


def test_lasso_duality_gap_certifies_the_tolerance():
    X, y = _diabetes()
    for tol in (1e-4, 1e-10):
        coef, _ = rnp.lasso(X, y, 0.05, tol=tol)
        yc = y - y.mean()
        assert 0.0 <= rnp.duality_gap(X, y, coef, 0.05) <= tol * (yc @ yc) / len(y)


def test_lasso_with_zero_lam_is_least_squares():
    X, y = _diabetes()
    coef, intercept = rnp.lasso(X, y, 0.0)
    ols = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)[0]
    np.testing.assert_allclose(np.append(coef, intercept), ols, rtol=1e-8)


def test_lasso_handles_duplicated_features():
    # Singular Gram matrix: the objective is still matched exactly.
    X, y = _diabetes()
    X2 = np.column_stack([X, X[:, 2]])
    lam = 0.1
    coef, intercept = rnp.lasso(X2, y, lam)
    gold_coef, gold_intercept = gold_lasso(X2, y, lam)
    assert rnp.lasso_objective(X2, y, coef, intercept, lam) == pytest.approx(
        rnp.lasso_objective(X2, y, gold_coef, gold_intercept, lam), rel=1e-9)
    np.testing.assert_allclose(coef[[2]] + coef[[10]], gold_coef[[2]] + gold_coef[[10]],
                               atol=1e-6)


def test_lasso_warns_when_it_runs_out_of_iterations():
    X, y = _sparse_wide()
    with pytest.warns(RuntimeWarning, match="did not converge"):
        rnp.lasso(X, y, 0.001 * lam_max(X, y), max_iter=1, tol=0.0)


# --- elastic net -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("lam1, lam2", [(0.1, 0.1), (0.02, 0.5), (0.3, 0.01)])
def test_elastic_net_matches_sklearn_after_conversion(name, lam1, lam2):
    X, y = DATASETS[name]()
    lam1 = lam1 * lam_max(X, y)
    coef, intercept = rnp.elastic_net(X, y, lam1, lam2)
    alpha, l1_ratio = convert.sklearn_elasticnet_params(lam1, lam2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gold = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=GOLD_TOL,
                          max_iter=200_000).fit(X, y)
    ours = rnp.lasso_objective(X, y, coef, intercept, lam1, lam2)
    theirs = rnp.lasso_objective(X, y, gold.coef_, gold.intercept_, lam1, lam2)
    assert ours == pytest.approx(theirs, rel=1e-9)
    np.testing.assert_allclose(coef, gold.coef_, atol=1e-6)
    np.testing.assert_array_equal(coef != 0, gold.coef_ != 0)


def test_elastic_net_without_l1_is_ridge():
    X, y = _correlated()
    np.testing.assert_allclose(rnp.elastic_net(X, y, 0.0, 0.3)[0], rnp.ridge(X, y, 0.3)[0])


def test_elastic_net_without_l2_is_the_lasso():
    X, y = _correlated()
    np.testing.assert_allclose(rnp.elastic_net(X, y, 0.05, 0.0)[0], rnp.lasso(X, y, 0.05)[0])


# --- lasso path --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DATASETS)
def test_lasso_path_matches_sklearn_lasso_path(name):
    # sklearn's lasso_path does not centre: give it centred data. precompute=False: its
    # Gram-matrix variant stalls about 1e-9 (relative) short of the optimum on diabetes.
    X, y = DATASETS[name]()
    Xc, yc = X - X.mean(0), y - y.mean()
    lams = lam_max(X, y) * np.geomspace(1.0, 1e-3, 25)
    coefs, intercepts = rnp.lasso_path(X, y, lams)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, gold, _ = sklearn_lasso_path(Xc, yc, alphas=lams, tol=GOLD_TOL, max_iter=200_000,
                                        precompute=False)
    np.testing.assert_allclose(coefs, gold.T, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(coefs != 0, gold.T != 0)
    np.testing.assert_allclose(intercepts, y.mean() - coefs @ X.mean(0))


def test_lasso_path_rows_equal_single_fits_in_any_order():
    X, y = _correlated()
    lams = np.array([0.01, 0.5, 0.1, 0.05])
    coefs, intercepts = rnp.lasso_path(X, y, lams)
    for lam, coef, intercept in zip(lams, coefs, intercepts):
        single, single_b = rnp.lasso(X, y, lam)
        np.testing.assert_allclose(coef, single, atol=1e-9)
        assert intercept == pytest.approx(single_b, abs=1e-9)


def test_lasso_path_support_shrinks_with_lam_on_diabetes():
    X, y = _diabetes()
    lams = lam_max(X, y) * np.geomspace(1.0, 1e-3, 30)
    sizes = np.count_nonzero(rnp.lasso_path(X, y, lams)[0], axis=1)
    assert sizes[0] == 0 and sizes[-1] == X.shape[1]
    assert np.all(np.diff(sizes) >= -1)       # mostly monotone (the lasso path may drop one)


# --- dense solutions: the active block's Cholesky factor is updated -------------------------

def _dense():                  # n < p and lam small: about as many non-zeros as examples
    X, y, _ = data.make_sparse_regression(60, 150, 10, noise=1.0, seed=3)
    return X, y, 0.002 * lam_max(X, y)


@pytest.mark.parametrize("tol", [1e-4, 1e-10])
def test_dense_lasso_near_the_rank_of_the_data_matches_sklearn(tol):
    X, y, lam = _dense()
    coef, intercept = rnp.lasso(X, y, lam, tol=tol)
    gold_coef, gold_intercept = gold_lasso(X, y, lam)
    assert np.count_nonzero(coef) >= 50                 # the factor grew, features were refused
    yc = y - y.mean()
    assert rnp.duality_gap(X, y, coef, lam) <= tol * (yc @ yc) / len(y)
    ours = rnp.lasso_objective(X, y, coef, intercept, lam)
    gold = rnp.lasso_objective(X, y, gold_coef, gold_intercept, lam)
    assert ours == pytest.approx(gold, rel=max(tol, 1e-9))
    if tol == 1e-10:
        np.testing.assert_allclose(coef, gold_coef, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(coef != 0, gold_coef != 0)


def test_dense_lasso_path_rows_equal_single_fits():
    # The path carries the working set and the factor from one lam to the next.
    X, y, lam = _dense()
    lams = lam / 0.002 * np.geomspace(0.5, 0.002, 12)
    coefs, _ = rnp.lasso_path(X, y, lams)
    for lam_i, coef in zip(lams, coefs):
        np.testing.assert_allclose(coef, rnp.lasso(X, y, lam_i)[0], rtol=0, atol=1e-8)


def test_scipys_blas_runs_one_thread_inside_the_lasso_even_when_the_lasso_loads_scipy():
    # SciPy is imported by the first lasso solve; it must be loaded before the solver limits
    # BLAS to one thread, or its own OpenBLAS would keep its default thread count.
    code = (
        "import numpy as np, regbook.np as rnp\n"
        "from regbook.np import _active_set\n"
        "seen = []\n"
        "solve = _active_set._CholeskyFactor.solve\n"
        "def spy(self, rhs):\n"
        "    from threadpoolctl import threadpool_info\n"
        "    seen.extend(p['num_threads'] for p in threadpool_info()\n"
        "                if p['user_api'] == 'blas')\n"
        "    return solve(self, rhs)\n"
        "_active_set._CholeskyFactor.solve = spy\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.standard_normal((60, 150)); y = X[:, :10].sum(1) + rng.standard_normal(60)\n"
        "rnp.lasso(X, y, 1e-3)\n"
        "print(len(seen) > 0, set(seen))\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env).stdout.strip()
    assert out == "True {1}"


# --- gradient methods --------------------------------------------------------------------------

def test_ista_and_fista_converge_to_the_lasso_solution():
    X, y, _ = data.make_sparse_regression(100, 20, 5, noise=0.5, seed=3)
    lam = 0.1 * lam_max(X, y)
    coef, intercept = rnp.lasso(X, y, lam)
    for fitter in (rnp.ista, rnp.fista):
        path = fitter(X, y, lam, n_steps=1000)
        np.testing.assert_allclose(path.coef, coef, atol=1e-6)
        assert path.intercept == pytest.approx(intercept, abs=1e-6)
        np.testing.assert_array_equal(path.coef != 0, coef != 0)


def test_ista_objective_never_increases():
    X, y = _diabetes()
    path = rnp.ista(X, y, 0.5, n_steps=300)
    assert np.all(np.diff(path.losses) <= 1e-12 * path.losses[:-1])
    assert path.losses.shape == (301,) and path.coefs.shape == (301, X.shape[1])


def test_ista_records_the_book_objective():
    X, y = _correlated()
    path = rnp.ista(X, y, 0.2, lam2=0.1, n_steps=5)
    for k in range(6):     # the very same function: equal to the last bit
        assert path.losses[k] == rnp.lasso_objective(
            X, y, path.coefs[k], path.intercepts[k], 0.2, 0.1)


def test_ista_step_is_soft_thresholded_gradient_step():
    X, y = _correlated()
    lr = 0.01
    path = rnp.ista(X, y, 0.3, lr=lr, n_steps=1, fit_intercept=False)
    grad = X.T @ (X @ np.zeros(X.shape[1]) - y) / len(y)
    np.testing.assert_allclose(path.coef, rnp.soft_threshold(-lr * grad, lr * 0.3))


def test_subgradient_descent_never_reaches_exact_zeros():
    X, y = _sparse_wide()
    lam = 0.1 * lam_max(X, y)
    sub = rnp.subgradient_descent(X, y, lam, n_steps=500)
    prox = rnp.ista(X, y, lam, n_steps=500)
    assert np.count_nonzero(sub.coef == 0) == 0
    assert np.count_nonzero(prox.coef == 0) > X.shape[1] // 2


def test_subgradient_step_uses_sign_of_w():
    X, y = _correlated()
    w0 = np.linspace(-1, 1, X.shape[1])
    path = rnp.subgradient_descent(X, y, 0.3, lr=0.01, n_steps=1, w0=w0, fit_intercept=False)
    grad = X.T @ (X @ w0 - y) / len(y) + 0.3 * np.sign(w0)
    np.testing.assert_allclose(path.coef, w0 - 0.01 * grad)


def test_gradient_descent_converges_to_ridge():
    X, y = _diabetes()
    path = rnp.gradient_descent(X, y, lam2=0.01, n_steps=20_000)
    coef, intercept = rnp.ridge(X, y, 0.01)
    np.testing.assert_allclose(path.coef, coef, rtol=1e-6, atol=1e-6)
    assert path.intercept == pytest.approx(intercept, rel=1e-8)


def test_gradient_descent_with_l2_is_weight_decay():
    X, y = _correlated()
    lr, lam2 = 0.05, 0.2
    w0 = np.linspace(-1, 1, X.shape[1])
    path = rnp.gradient_descent(X, y, lam2=lam2, lr=lr, n_steps=1, w0=w0, fit_intercept=False)
    grad_loss = X.T @ (X @ w0 - y) / len(y)
    np.testing.assert_allclose(path.coef, (1 - lr * lam2) * w0 - lr * grad_loss)


# --- bad input ---------------------------------------------------------------------------------

X_OK, Y_OK = np.arange(12.0).reshape(4, 3) ** 0.5, np.array([1.0, 2.0, 0.5, 3.0])

SOLVERS = {
    "ridge": lambda X, y, lam, **kw: rnp.ridge(X, y, lam, **kw),
    "lasso": lambda X, y, lam, **kw: rnp.lasso(X, y, lam, **kw),
    "elastic_net": lambda X, y, lam, **kw: rnp.elastic_net(X, y, lam, 0.1, **kw),
    "lasso_path": lambda X, y, lam, **kw: rnp.lasso_path(X, y, [lam], **kw),
    "ista": lambda X, y, lam, **kw: rnp.ista(X, y, lam, n_steps=2, **kw),
    "subgradient_descent": lambda X, y, lam, **kw: rnp.subgradient_descent(X, y, lam,
                                                                          n_steps=2, **kw),
}


# The strength's name as each solver's caller spells it (SOLVERS passes it positionally).
LAM_NAME = {"ridge": "lam", "lasso": "lam", "elastic_net": "lam1", "lasso_path": "lams",
            "ista": "lam", "subgradient_descent": "lam"}


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("lam, error", [(-0.1, ValueError), (float("nan"), ValueError),
                                        (float("inf"), ValueError), ("0.1", TypeError),
                                        (True, TypeError)])
def test_bad_lam_is_rejected_under_the_callers_name(solver, lam, error):
    with pytest.raises(error, match=rf"^{LAM_NAME[solver]} must"):
        SOLVERS[solver](X_OK, Y_OK, lam)


@pytest.mark.parametrize("call, name", [
    (lambda: rnp.lasso(X_OK, Y_OK, lam=float("inf")), "lam"),
    (lambda: rnp.elastic_net(X_OK, Y_OK, 0.1, lam2=float("inf")), "lam2"),
    (lambda: rnp.lasso_path(X_OK, Y_OK, [0.1, float("inf")]), "lams"),
    (lambda: rnp.lasso_path(X_OK, Y_OK, [0.1, -1.0]), "lams"),
    (lambda: rnp.gradient_descent(X_OK, Y_OK, lam2=float("nan")), "lam2"),
    (lambda: rnp.fista(X_OK, Y_OK, float("inf")), "lam"),
    (lambda: rnp.ista(X_OK, Y_OK, 0.1, lam2=-1.0), "lam2"),
    (lambda: rnp.lasso_objective(X_OK, Y_OK, np.ones(3), 0.0, lam1=-1.0), "lam1"),
    (lambda: rnp.lasso_objective(X_OK, Y_OK, np.ones(3), float("nan"), 0.1), "intercept"),
    (lambda: rnp.duality_gap(X_OK, Y_OK, np.ones(3), 0.1, lam2=-1.0), "lam2"),
])
def test_messages_name_the_argument_as_the_caller_spelled_it(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        call()


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("X, y, error, match", [
    (X_OK, Y_OK[:3], ValueError, "X and y lengths differ: 4 and 3"),
    (X_OK[0], Y_OK, ValueError, "X must be 2-dimensional"),
    (X_OK, Y_OK[:, None], ValueError, "y must be 1-dimensional"),
    (np.empty((0, 3)), np.empty(0), ValueError, "empty"),
    (X_OK.astype(str), Y_OK, TypeError, "X must hold real numbers"),
    (X_OK, Y_OK.astype(object), TypeError, "y must hold real numbers"),
    (np.where(X_OK > 1, np.nan, X_OK), Y_OK, ValueError, "X must contain only finite"),
    (X_OK, np.array([1.0, np.inf, 0.0, 0.0]), ValueError, "y must contain only finite"),
])
def test_bad_data_is_rejected(solver, X, y, error, match):
    with pytest.raises(error, match=match):
        SOLVERS[solver](X, y, 0.1)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("value", ["False", 0, 1, None])
def test_non_bool_fit_intercept_is_rejected(solver, value):
    with pytest.raises(TypeError, match="^fit_intercept must be a bool"):
        SOLVERS[solver](X_OK, Y_OK, 0.1, fit_intercept=value)


@pytest.mark.parametrize("call", [
    lambda: rnp.duality_gap(X_OK, Y_OK, np.zeros(3), 0.1, fit_intercept="False"),
    lambda: rnp.lipschitz_constant(X_OK, fit_intercept=1),
    lambda: rnp.gradient_descent(X_OK, Y_OK, fit_intercept="yes"),
    lambda: rnp.fista(X_OK, Y_OK, 0.1, fit_intercept=None),
])
def test_non_bool_fit_intercept_is_rejected_everywhere(call):
    with pytest.raises(TypeError, match="^fit_intercept must be a bool"):
        call()


@pytest.mark.parametrize("call, error, match", [
    (lambda: rnp.lasso(X_OK, Y_OK, 0.1, tol=-1.0), ValueError, "tol"),
    (lambda: rnp.lasso(X_OK, Y_OK, 0.1, max_iter=0), ValueError, "max_iter"),
    (lambda: rnp.lasso(X_OK, Y_OK, 0.1, max_iter=2.5), TypeError, "max_iter"),
    (lambda: rnp.elastic_net(X_OK, Y_OK, 0.1, -1.0), ValueError, "lam2"),
    (lambda: rnp.lasso_path(X_OK, Y_OK, [0.1, -0.1]), ValueError, "lams"),
    (lambda: rnp.lasso_path(X_OK, Y_OK, []), ValueError, "lams must not be empty"),
    (lambda: rnp.lasso_path(X_OK, Y_OK, [[0.1]]), ValueError, "lams must be 1-dimensional"),
    (lambda: rnp.ista(X_OK, Y_OK, 0.1, lr=0.0), ValueError, "lr"),
    (lambda: rnp.ista(X_OK, Y_OK, 0.1, n_steps=0), ValueError, "n_steps"),
    (lambda: rnp.ista(X_OK, Y_OK, 0.1, w0=np.ones(2)), ValueError, "w0 must have 3 entries"),
    (lambda: rnp.ista(X_OK, Y_OK, 0.1, w0=[np.nan] * 3), ValueError, "w0 must contain only"),
    (lambda: rnp.ista(X_OK, Y_OK, 0.1, lr=float("inf")), ValueError, "lr must be"),
    (lambda: rnp.lasso(X_OK, Y_OK, 0.1, tol=float("nan")), ValueError, "tol must be"),
    (lambda: rnp.lasso_path(X_OK, Y_OK, [0.1], max_iter=0), ValueError, "max_iter must be"),
    (lambda: rnp.gradient_descent(X_OK, Y_OK, lam2=-1.0), ValueError, "lam2"),
    (lambda: rnp.lasso_objective(X_OK, Y_OK, np.ones(2), 0.0, 0.1), ValueError,
     "coef must have 3 entries"),
    (lambda: rnp.duality_gap(X_OK, Y_OK, np.ones(2), 0.1), ValueError, "coef must have 3"),
    (lambda: rnp.lasso_objective(X_OK, Y_OK[:3], np.ones(3), 0.0, 0.1), ValueError,
     "X and y lengths differ"),
])
def test_bad_options_are_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_inputs_are_not_modified():
    X, y = X_OK.copy(), Y_OK.copy()
    rnp.lasso(X, y, 0.01)
    rnp.ridge(X, y, 0.01)
    rnp.ista(X, y, 0.01, n_steps=3)
    np.testing.assert_array_equal(X, X_OK)
    np.testing.assert_array_equal(y, Y_OK)


# --- validation happens once, at the public boundary ----------------------------------------

def _count_calls(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


@pytest.mark.parametrize("call", [
    lambda X, y: rnp.ridge(X, y, 0.1),
    lambda X, y: rnp.lasso(X, y, 0.1),
    lambda X, y: rnp.elastic_net(X, y, 0.1, 0.1),
    lambda X, y: rnp.lasso_path(X, y, [0.5, 0.1, 0.0]),
])
def test_solvers_validate_X_and_y_once(monkeypatch, call):
    from regbook.np import linear

    calls = _count_calls(monkeypatch, linear, "check_Xy")
    call(*_correlated())
    assert len(calls) == 1


@pytest.mark.parametrize("call", [
    lambda X, y: rnp.gradient_descent(X, y, n_steps=3),
    lambda X, y: rnp.subgradient_descent(X, y, 0.1, n_steps=3),
    lambda X, y: rnp.ista(X, y, 0.1, n_steps=3),
    lambda X, y: rnp.fista(X, y, 0.1, n_steps=3),
])
def test_gradient_methods_validate_once_even_with_the_default_step(monkeypatch, call):
    # lr=None needs the Lipschitz constant: it must not go back through lipschitz_constant's
    # own checks of X.
    from regbook.np import gradient_methods

    xy_calls = _count_calls(monkeypatch, gradient_methods, "check_Xy")
    array_calls = _count_calls(monkeypatch, gradient_methods, "check_array")
    call(*_correlated())
    assert len(xy_calls) == 1 and array_calls == []


@pytest.mark.parametrize("call", [
    lambda X, y: rnp.lasso(X, y, 1e-4, max_iter=1, tol=0.0),
    lambda X, y: rnp.elastic_net(X, y, 1e-4, 1e-4, max_iter=1, tol=0.0),
    lambda X, y: rnp.lasso_path(X, y, [1e-3, 1e-4], max_iter=1, tol=0.0),
])
def test_non_convergence_warning_points_at_the_readers_call(call):
    X, y = _sparse_wide()
    with pytest.warns(RuntimeWarning, match="did not converge") as record:
        call(X, y)
    assert record[0].filename == __file__


def test_lasso_objective_is_the_framework_agnostic_one():
    from regbook import objectives
    from regbook.history import FitPath

    assert rnp.lasso_objective is objectives.lasso_objective
    assert rnp.FitPath is FitPath
    X, y = _correlated()
    w, b = np.linspace(-1.0, 1.0, X.shape[1]), 0.3
    r = y - X @ w - b
    expected = r @ r / (2 * len(y)) + 0.2 * np.abs(w).sum() + 0.05 * w @ w
    assert rnp.lasso_objective(X, y, w, b, 0.2, 0.1) == pytest.approx(expected, rel=1e-14)


# --- degenerate data -------------------------------------------------------------------------

@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gradient_descent_on_all_zero_X_is_well_defined(fit_intercept):
    # X = 0, lam2 = 0: the smooth part's gradient in w is lam2 w = 0, so every w is optimal
    # and every step size is safe (L = 0 without an intercept): w stays at w0.
    X, y = np.zeros((6, 3)), np.arange(6.0)
    w0 = np.array([1.0, -2.0, 0.5])
    path = rnp.gradient_descent(X, y, n_steps=5, fit_intercept=fit_intercept, w0=w0)
    np.testing.assert_array_equal(path.coefs, np.tile(w0, (6, 1)))
    assert np.all(np.isfinite(path.losses)) and path.lr > 0
    if fit_intercept:                      # L = 1 (the column of ones): b -> mean(y) in 1 step
        assert path.lr == pytest.approx(1.0) and path.intercept == pytest.approx(y.mean())
    else:
        assert path.intercept == 0.0
        assert rnp.lipschitz_constant(X, fit_intercept=False) == 0.0


def test_gradient_descent_on_all_zero_X_with_l2_shrinks_to_zero():
    # With lam2 > 0 and X = 0: L = lam2, the default step 1/lam2 reaches w = 0 in one step.
    X, y = np.zeros((6, 3)), np.arange(6.0)
    path = rnp.gradient_descent(X, y, lam2=0.5, n_steps=2, fit_intercept=False,
                                w0=np.ones(3))
    assert path.lr == pytest.approx(2.0)
    np.testing.assert_allclose(path.coef, 0.0, atol=1e-15)


@pytest.mark.parametrize("fitter", [rnp.ista, rnp.fista, rnp.subgradient_descent])
def test_proximal_and_subgradient_methods_on_all_zero_X_do_not_divide_by_zero(fitter):
    X, y = np.zeros((5, 2)), np.ones(5)
    path = fitter(X, y, 0.1, n_steps=50, fit_intercept=False, w0=np.array([0.3, -0.2]))
    assert np.all(np.isfinite(path.coefs))
    assert path.lr == 1.0                  # L = 0: every step is safe, the default is 1
    if fitter is not rnp.subgradient_descent:      # soft-thresholding reaches exact zeros
        np.testing.assert_array_equal(path.coef, 0.0)
