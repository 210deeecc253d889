"""The lasso's updated Cholesky factor (regbook.np._active_set._CholeskyFactor).

Features enter and leave the factor of the active Gram block G_AA in random sequences; after
every update it must equal a fresh factorisation (the Cholesky factor is unique up to the signs
of its rows), and the solver that uses it must find the same minimiser as one that factorises
afresh at every step.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regbook.np import _active_set
from regbook.np._active_set import _CholeskyFactor, _feature_sign, _sign_solution


def _gram(n, p, seed, correlation=0.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) + correlation * rng.standard_normal((n, 1))
    return X.T @ X / n


def _assert_is_the_factor_of(factor, G):
    order, R = factor.order, factor.R
    assert len(set(order.tolist())) == len(order), "a feature is in the factor twice"
    assert R.shape == (len(order), len(order))
    np.testing.assert_array_equal(R, np.triu(R))                 # upper triangular
    if len(order) == 0:
        return
    G_aa = G[np.ix_(order, order)]
    fresh = np.linalg.cholesky(G_aa).T                            # the unique one, diag > 0
    np.testing.assert_allclose(np.abs(R), np.abs(fresh), rtol=0, atol=1e-9 * np.abs(G).max())
    b = np.linspace(-1.0, 2.0, len(order))
    np.testing.assert_allclose(factor.solve(b), np.linalg.solve(G_aa, b), rtol=1e-8,
                               atol=1e-10)


def _random_update(factor, p, rng):
    # Remove 1-5 features (when there are some), or append 1-5 of the others.
    outside = np.setdiff1d(np.arange(p), factor.order)
    if len(factor.order) and (rng.random() < 0.5 or outside.size == 0):
        size = min(len(factor.order), int(rng.integers(1, 6)))
        return "remove", rng.choice(factor.order, size, replace=False)
    return "append", rng.choice(outside, min(outside.size, int(rng.integers(1, 6))),
                                replace=False)


@settings(max_examples=30, deadline=None)
@given(st.integers(5, 40), st.floats(0.0, 3.0), st.integers(1, 60), st.integers(0, 2**31))
def test_random_entering_and_leaving_sequences_match_a_fresh_factorisation(p, correlation,
                                                                           n_updates, seed):
    G = _gram(3 * p, p, seed, correlation)                         # positive definite
    rng = np.random.default_rng(seed + 1)
    factor = _CholeskyFactor()
    for _ in range(n_updates):
        kind, features = _random_update(factor, p, rng)
        if kind == "remove":
            factor.remove(features)
        else:
            accepted = factor.append(G, features)
            np.testing.assert_array_equal(np.sort(accepted), np.sort(features))
        _assert_is_the_factor_of(factor, G)


def test_a_long_sequence_of_updates_stays_accurate():
    G = _gram(200, 80, seed=3, correlation=1.0)
    rng = np.random.default_rng(4)
    factor = _CholeskyFactor()
    factor.append(G, rng.permutation(80)[:40])
    for _ in range(2000):
        kind, features = _random_update(factor, 80, rng)
        factor.remove(features) if kind == "remove" else factor.append(G, features)
    _assert_is_the_factor_of(factor, G)


def test_appending_many_at_once_equals_appending_one_by_one():
    G = _gram(60, 30, seed=5)
    together, one_by_one = _CholeskyFactor(), _CholeskyFactor()
    together.append(G, np.arange(30))
    for j in np.arange(30)[::-1]:
        one_by_one.append(G, np.array([j]))
    for factor in (together, one_by_one):
        _assert_is_the_factor_of(factor, G)


def test_removing_every_feature_leaves_an_empty_factor_that_can_grow_again():
    G = _gram(40, 12, seed=6)
    factor = _CholeskyFactor()
    factor.append(G, np.arange(12))
    factor.remove(factor.order[[0, 5, 11]])                      # first, middle, last
    _assert_is_the_factor_of(factor, G)
    factor.remove(factor.order.copy())
    assert factor.order.size == 0 and factor.R.shape == (0, 0)
    factor.append(G, np.array([3, 1]))
    _assert_is_the_factor_of(factor, G)


# --- singular and ill-conditioned blocks -----------------------------------------------------

def test_more_features_than_the_rank_keeps_a_full_rank_subset():
    # n = 10 examples, 25 features: any 10 columns are independent, 11 are not.
    rng = np.random.default_rng(7)
    X = rng.standard_normal((10, 25))
    G = X.T @ X / 10
    factor = _CholeskyFactor()
    accepted = factor.append(G, np.arange(25))
    assert accepted.size == 10
    _assert_is_the_factor_of(factor, G)
    factor.remove(accepted[:3])
    assert factor.append(G, np.setdiff1d(np.arange(25), factor.order)).size == 3
    _assert_is_the_factor_of(factor, G)


def test_a_duplicated_column_is_refused_and_an_independent_one_accepted():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((50, 6))
    X = np.column_stack([X, X[:, 2], rng.standard_normal(50)])     # 6 duplicates 2
    G = X.T @ X / 50
    factor = _CholeskyFactor()
    factor.append(G, np.arange(6))
    np.testing.assert_array_equal(factor.append(G, np.array([6, 7])), [7])
    _assert_is_the_factor_of(factor, G)
    factor.remove(np.array([2]))                                   # its twin may now enter
    np.testing.assert_array_equal(factor.append(G, np.array([6])), [6])
    _assert_is_the_factor_of(factor, G)


@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e8])
def test_refusal_is_relative_to_each_columns_own_scale(scale):
    rng = np.random.default_rng(9)
    X = rng.standard_normal((30, 5))
    X = np.column_stack([X, scale * (X[:, 0] + 1e-3 * rng.standard_normal(30)),   # nearly
                         scale * (X[:, 1] - X[:, 3])])                               # exactly
    G = X.T @ X / 30
    factor = _CholeskyFactor()
    factor.append(G, np.arange(5))
    np.testing.assert_array_equal(factor.append(G, np.array([5, 6])), [5])


def test_a_singular_active_set_falls_back_to_a_fresh_solve():
    # Both twins non-zero (as after a coordinate step): the factor cannot hold them, and the
    # system goes to _newton_target (a fresh Cholesky, then the eigendecomposition).
    rng = np.random.default_rng(10)
    X = rng.standard_normal((80, 40))
    X = np.column_stack([X, X[:, 0]])
    G, q = X.T @ X / 80, X.T @ rng.standard_normal(80) / 80
    theta = np.sign(rng.standard_normal(41))
    theta[40] = theta[0]                             # a consistent system: twins, same sign
    x = 0.1 * theta
    factor = _CholeskyFactor()
    active, target, quad = _sign_solution(G, q, 0.01, x, theta, factor, None)
    assert "G" in quad and factor.order.size == 40
    np.testing.assert_array_equal(active, np.arange(41))
    rhs = q - 0.01 * theta
    np.testing.assert_array_equal(target, _active_set._newton_target(G, rhs, x, theta))
    np.testing.assert_allclose(G @ target, rhs, atol=1e-8)


def test_just_activated_dependent_features_wait_for_a_later_round():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((80, 40))
    X = np.column_stack([X, X[:, 0], rng.standard_normal(80)])     # 40 twins 0, 41 is new
    G, q = X.T @ X / 80, rng.standard_normal(42)
    x = np.zeros(42)
    x[:40] = 0.1
    theta = np.sign(x)
    theta[[40, 41]] = 1.0
    active, target, quad = _sign_solution(G, q, 0.01, x, theta, _CholeskyFactor(),
                                          np.array([40, 41]))
    assert "R" in quad and theta[40] == 0.0 and theta[41] == 1.0
    np.testing.assert_array_equal(np.sort(active), np.r_[np.arange(40), 41])
    G_aa = G[np.ix_(active, active)]
    np.testing.assert_allclose(G_aa @ target, q[active] - 0.01 * theta[active], atol=1e-9)


def test_a_non_finite_solution_clears_the_factor_and_solves_afresh(monkeypatch):
    G = _gram(200, 50, seed=12)
    q = np.linspace(-1.0, 1.0, 50)
    theta, x = np.ones(50), np.full(50, 0.1)
    factor = _CholeskyFactor()
    factor.append(G, np.arange(50))
    monkeypatch.setattr(factor, "solve", lambda rhs: np.full_like(rhs, np.nan))
    active, target, quad = _sign_solution(G, q, 0.01, x, theta, factor, None)
    assert "G" in quad and factor.order.size == 0
    np.testing.assert_allclose(G @ target, q - 0.01, atol=1e-9)


# --- the solver that uses it -----------------------------------------------------------------

def _feature_sign_both_ways(monkeypatch, G, q, lam):
    results = []
    for update_from in (1, 10**9):                  # always update / always factorise afresh
        monkeypatch.setattr(_active_set, "_UPDATE_FROM", update_from)
        x, converged = _feature_sign(G, q, lam, np.zeros(len(q)), max_steps=10_000)
        assert converged
        results.append(x)
    return results


def _lasso_objective(G, q, lam, x):
    return 0.5 * x @ G @ x - q @ x + lam * np.abs(x).sum()


@settings(max_examples=20, deadline=None)
@given(st.integers(10, 60), st.integers(5, 90), st.floats(0.01, 0.5), st.integers(0, 2**31))
def test_feature_sign_finds_the_same_minimiser_as_with_fresh_factorisations(n, p, fraction,
                                                                            seed):
    # n < p included: singular G, more candidates than the rank of the data.
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, p)), rng.standard_normal(n)
    G, q = X.T @ X / n, X.T @ y / n
    lam = fraction * np.abs(q).max()
    with pytest.MonkeyPatch.context() as monkeypatch:
        updated, fresh = _feature_sign_both_ways(monkeypatch, G, q, lam)
    f_updated, f_fresh = (_lasso_objective(G, q, lam, x) for x in (updated, fresh))
    assert f_updated == pytest.approx(f_fresh, rel=1e-9, abs=1e-12)
    if np.linalg.matrix_rank(X[:, (updated != 0) | (fresh != 0)]) == np.count_nonzero(
            (updated != 0) | (fresh != 0)):                # a unique minimiser
        np.testing.assert_allclose(updated, fresh, rtol=0, atol=1e-8)


def test_feature_sign_at_a_dense_solution_near_the_rank_of_the_data(monkeypatch):
    # About as many non-zeros as examples: the block reaches rank n - 1 and features are refused.
    rng = np.random.default_rng(13)
    X = rng.standard_normal((60, 150))
    X -= X.mean(axis=0)
    y = X[:, :10] @ rng.standard_normal(10) + rng.standard_normal(60)
    y -= y.mean()
    G, q = X.T @ X / 60, X.T @ y / 60
    lam = 0.002 * np.abs(q).max()
    updated, fresh = _feature_sign_both_ways(monkeypatch, G, q, lam)
    assert np.count_nonzero(updated) >= 50
    assert _lasso_objective(G, q, lam, updated) == pytest.approx(
        _lasso_objective(G, q, lam, fresh), rel=1e-10)
    g = G @ updated - q                                            # optimality conditions
    nz = updated != 0
    np.testing.assert_allclose(g[nz], -lam * np.sign(updated[nz]), atol=1e-9)
    assert np.all(np.abs(g[~nz]) <= lam * (1 + 1e-9))
