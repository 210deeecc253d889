"""The lasso's predicted warm start (regbook.np._lasso_warm_start) and what it relies on.

PDAS predicts the support and signs of the lasso's solution before the feature-sign search;
it must end at a certified minimiser when it converges, hand over a sign-consistent point
when it does not, and leave the solver's answers those of scikit-learn.
"""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import Lasso

import regbook.np as rnp
from regbook import convert, data
from regbook.np._active_set import (_block, _CholeskyFactor, _enet_centred, _gap,
                                    _WorkingSet)
from regbook.np._lasso_warm_start import _pdas_start

# (n, p, correlation, lam / lam_max): sparse and dense solutions, n < p and n > p.
PROBLEMS = [(60, 120, 0.0, 0.1), (60, 120, 0.0, 0.002), (120, 240, 0.5, 0.005),
            (100, 40, 0.9, 0.01), (200, 50, 0.0, 0.002), (40, 300, 0.0, 0.01),
            (150, 300, 0.3, 0.002), (30, 30, 0.0, 0.001)]


def _problem(n, p, correlation, frac, seed=0, informative=None):
    informative = max(2, p // 20) if informative is None else informative
    X, y, _ = data.make_sparse_regression(n, p, informative, noise=0.5,
                                          correlation=correlation, seed=seed)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    return X, y, Xc, yc, frac * np.abs(Xc.T @ yc).max() / n


def _certified_gap(Xc, yc, w, lam1, lam2=0.0):
    r = yc - Xc @ w
    return _gap(len(yc), w, Xc.T @ r, r @ r, r @ yc, lam1, lam2)


def _dense():                  # about 230 non-zeros for n = 300: PDAS converges here
    return _problem(300, 600, 0.0, 0.005, informative=12)


def test_a_converged_prediction_is_a_certified_minimiser_of_a_dense_lasso():
    _, _, Xc, yc, lam = _dense()
    w, exact = _pdas_start(_WorkingSet(Xc, yc), lam, 0.0)
    assert exact
    assert np.count_nonzero(w) > 150                         # a dense solution
    assert _certified_gap(Xc, yc, w, lam) <= 1e-12 * (yc @ yc) / len(yc)


def test_the_loop_accepts_a_converged_prediction_without_a_feature_sign_step():
    _, _, Xc, yc, lam = _dense()
    state = _WorkingSet(Xc, yc)
    w0, exact = _pdas_start(state, lam, 0.0)
    w, gap, n_iter = _enet_centred(Xc, yc, lam, 0.0, w0, 1e-10, 100, state)
    assert exact and n_iter == 0
    np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("steps", [2, 3, 4])
def test_a_stopped_prediction_hands_over_a_sign_consistent_point(steps):
    _, _, Xc, yc, lam = _dense()
    w, exact = _pdas_start(_WorkingSet(Xc, yc), lam, 0.0, max_steps=steps)
    assert not exact
    # The optimum restricted to its support: X_S^T r / n = lam sign(w_S) there.
    support = np.flatnonzero(w)
    assert support.size > 0
    g = Xc[:, support].T @ (yc - Xc @ w) / len(yc)
    np.testing.assert_allclose(g, lam * np.sign(w[support]), rtol=0, atol=1e-9 * lam)


@pytest.mark.parametrize("n, p, correlation, frac", PROBLEMS)
def test_lasso_with_the_prediction_matches_scikit_learn_at_tol_1e_10(n, p, correlation, frac):
    X, y, _, _, lam = _problem(n, p, correlation, frac, seed=n + p)
    coef, intercept = rnp.lasso(X, y, lam, tol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # ConvergenceWarning at the tiny tolerance
        gold = Lasso(alpha=convert.sklearn_lasso_alpha(lam), tol=1e-15,
                     max_iter=200_000).fit(X, y)
    assert rnp.duality_gap(X, y, coef, lam) <= 1e-10 * np.sum((y - y.mean()) ** 2) / n
    f = rnp.lasso_objective(X, y, coef, intercept, lam)
    f_gold = rnp.lasso_objective(X, y, gold.coef_, gold.intercept_, lam)
    assert f <= f_gold + 1e-12 * max(1.0, abs(f_gold)), (n, p, correlation, frac)


@pytest.mark.parametrize("n, p, correlation, frac", PROBLEMS)
@pytest.mark.parametrize("lam2_frac", [0.0, 0.01])
def test_the_prediction_does_not_change_the_certified_answer(n, p, correlation, frac,
                                                            lam2_frac):
    # The loop from the predicted start and the loop from 0 reach the same minimiser.
    _, _, Xc, yc, lam = _problem(n, p, correlation, frac, seed=2 * n + p)
    lam2 = lam2_frac * np.abs(Xc.T @ yc).max() / n
    state = _WorkingSet(Xc, yc)
    w0, _ = _pdas_start(state, lam, lam2)
    w, gap, _ = _enet_centred(Xc, yc, lam, lam2, w0, 1e-12, 1000, state)
    plain, gap_plain, _ = _enet_centred(Xc, yc, lam, lam2, None, 1e-12, 1000)
    bound = 1e-12 * (yc @ yc) / n
    assert gap <= bound and gap_plain <= bound
    np.testing.assert_allclose(w, plain, rtol=0, atol=1e-6 * max(1.0, np.abs(plain).max()))


def test_refactor_refuses_a_block_with_a_dependent_feature():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 6))
    X[:, 4] = X[:, 1] - 2 * X[:, 2]                           # in the span of two others
    G = X.T @ X / 30
    factor = _CholeskyFactor()
    assert factor.refactor(G, np.array([0, 1, 2, 3]))
    np.testing.assert_allclose(factor.R.T @ factor.R, G[:4, :4], atol=1e-12)
    assert not factor.refactor(G, np.array([0, 1, 2, 4]))
    assert factor.order.size == 0                             # cleared


def test_the_working_set_gram_grown_in_chunks_equals_a_direct_product():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((40, 120)), rng.standard_normal(40)
    state = _WorkingSet(X, y)                                 # n < p: grown, not precomputed
    for chunk in np.array_split(rng.permutation(120)[:90], [5, 40, 41, 70]):
        state.grow(chunk)
        Xw = X[:, state.work]
        np.testing.assert_allclose(state.G, Xw.T @ Xw / 40, rtol=0, atol=1e-12)


@pytest.mark.parametrize("size", [3, 100])
def test_the_correlations_are_the_same_by_either_product(size):
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((40, 120)), rng.standard_normal(40)
    w = np.zeros(120)
    support = np.sort(rng.choice(120, size, replace=False))
    w[support] = rng.standard_normal(size)
    Xtr, rr, ry = _WorkingSet(X, y).correlations(w, support)
    r = y - X @ w
    np.testing.assert_allclose(Xtr, X.T @ r, rtol=1e-12, atol=1e-12)
    assert rr == pytest.approx(r @ r, rel=1e-12) and ry == pytest.approx(r @ y, rel=1e-12)


@pytest.mark.parametrize("rows, cols", [(5, 30), (30, 5), (12, 12)])
def test_a_block_of_a_view_of_a_larger_buffer_is_the_fancy_indexed_block(rows, cols):
    rng = np.random.default_rng(3)
    G = rng.standard_normal((80, 80))[:50, :50]             # as _WorkingSet.G: a view
    r, c = rng.choice(50, rows, replace=False), rng.choice(50, cols, replace=False)
    np.testing.assert_array_equal(_block(G, r, c), G[np.ix_(r, c)])


def test_a_refactored_factor_is_upper_triangular_and_updates_exactly():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((60, 40))
    G = X.T @ X / 60
    factor = _CholeskyFactor()
    assert factor.refactor(G, np.arange(30))
    assert factor.R.flags.f_contiguous
    np.testing.assert_array_equal(np.tril(factor.R, -1), 0.0)
    factor.remove(np.array([3, 17, 29]))
    accepted = factor.append(G, np.arange(30, 36))              # (in its pivoting order)
    np.testing.assert_array_equal(np.sort(accepted), np.arange(30, 36))
    order = factor.order
    np.testing.assert_allclose(factor.R.T @ factor.R, G[np.ix_(order, order)], atol=1e-12)


def test_the_correlations_from_the_working_set_columns_are_the_direct_ones():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((40, 120)), rng.standard_normal(40)
    state = _WorkingSet(X, y)
    state.grow(rng.permutation(120)[:70])
    w = np.zeros(120)
    support = np.sort(rng.choice(state.work, 50, replace=False))  # dense: 4 * 50 > 120
    w[support] = rng.standard_normal(50)
    Xtr, rr, ry = state.correlations(w, support)
    r = y - X @ w
    np.testing.assert_allclose(Xtr, X.T @ r, rtol=1e-12, atol=1e-12)
    assert rr == pytest.approx(r @ r, rel=1e-12) and ry == pytest.approx(r @ y, rel=1e-12)
