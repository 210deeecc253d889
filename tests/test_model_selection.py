"""regbook.model_selection: the k-fold splitter, the CV curve and the one-standard-error rule.

Gold models: scikit-learn's KFold (unshuffled folds), RidgeCV / GridSearchCV(Ridge) and LassoCV
fed the SAME folds, with lam converted to each estimator's alpha by regbook.convert.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn.linear_model import LassoCV, Ridge, RidgeCV
from sklearn.model_selection import GridSearchCV, KFold

from regbook import convert, data
from regbook import np as rnp
from regbook.model_selection import (
    CVResult,
    cross_validate_lam,
    kfold_indices,
    one_standard_error_rule,
)

K = 6  # 264 diabetes training rows / 6 = 44: every training fold has 220 rows


@pytest.fixture(scope="module")
def diabetes():
    split = data.diabetes_split()
    return split.X_train, split.y_train


@pytest.fixture(scope="module")
def folds(diabetes):
    return kfold_indices(len(diabetes[1]), K, seed=3)


def _lasso_grid(X, y, m=12):
    lam_max = np.max(np.abs((X - X.mean(0)).T @ (y - y.mean()))) / len(y)
    return lam_max * np.geomspace(1.0, 1e-4, m)


# --- splitter --------------------------------------------------------------------------------

@given(n=st.integers(2, 60), k=st.integers(2, 12), seed=st.integers(0, 2**31),
       shuffle=st.booleans())
def test_every_index_is_validated_exactly_once(n, k, seed, shuffle):
    assume(k <= n)
    folds = kfold_indices(n, k, shuffle=shuffle, seed=seed)
    assert len(folds) == k
    all_val = np.concatenate([val for _, val in folds])
    np.testing.assert_array_equal(np.sort(all_val), np.arange(n))
    for train, val in folds:
        assert np.intersect1d(train, val).size == 0
        np.testing.assert_array_equal(np.union1d(train, val), np.arange(n))


@given(n=st.integers(2, 60), k=st.integers(2, 12))
def test_fold_sizes_differ_by_at_most_one_larger_first(n, k):
    assume(k <= n)
    sizes = [len(val) for _, val in kfold_indices(n, k)]
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)
    assert all(train.dtype == np.int64 and val.dtype == np.int64
               for train, val in kfold_indices(n, k))


def test_unshuffled_folds_equal_sklearn_kfold():
    for n, k in [(10, 3), (17, 5), (264, 6)]:
        ours = kfold_indices(n, k, shuffle=False)
        for (tr, va), (tr_sk, va_sk) in zip(ours, KFold(k).split(np.zeros((n, 1)))):
            np.testing.assert_array_equal(tr, tr_sk)
            np.testing.assert_array_equal(va, va_sk)


def test_same_seed_same_folds_other_seed_other_folds():
    a, b, c = (kfold_indices(50, 5, seed=s) for s in (7, 7, 8))
    for (ta, va), (tb, vb) in zip(a, b):
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(va, vb)
    assert any(not np.array_equal(va, vc) for (_, va), (_, vc) in zip(a, c))


def test_shuffle_changes_the_folds():
    shuffled = kfold_indices(40, 4, seed=0)
    plain = kfold_indices(40, 4, shuffle=False)
    assert not np.array_equal(shuffled[0][1], plain[0][1])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_samples=10, n_splits=1), ValueError, "n_splits must be >= 2"),
    (dict(n_samples=3, n_splits=4), ValueError, "n_samples must be >= 4"),
    (dict(n_samples=10.0, n_splits=2), TypeError, "n_samples must be an integer"),
    (dict(n_samples=10, n_splits=2, seed=-1), ValueError, "seed must be >= 0"),
    (dict(n_samples=10, n_splits=2, shuffle="yes"), TypeError, "shuffle must be a bool"),
    (dict(n_samples=10, n_splits=2, shuffle="False"), TypeError, "shuffle must be a bool"),
    (dict(n_samples=10, n_splits=2, shuffle=0), TypeError, "shuffle must be a bool"),
    (dict(n_samples=10, n_splits=2, seed=2**32), ValueError, "seed must be <= 4294967295"),
    (dict(n_samples=10, n_splits=2, seed=1.0), TypeError, "seed must be an integer"),
])
def test_splitter_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        kfold_indices(**kwargs)


# --- the CV curve against scikit-learn on the same folds ------------------------------------

def test_ridge_curve_equals_gridsearch_ridge_on_same_folds(diabetes, folds):
    X, y = diabetes
    lams = np.geomspace(1e-6, 10.0, 15)
    ours = cross_validate_lam("ridge", X, y, lams, folds)
    n_train = len(y) - len(y) // K
    alphas = [convert.sklearn_ridge_alpha(lam, n_train) for lam in lams]
    gs = GridSearchCV(Ridge(), {"alpha": alphas}, cv=folds,
                      scoring="neg_mean_squared_error").fit(X, y)
    np.testing.assert_allclose(ours.mean, -gs.cv_results_["mean_test_score"], rtol=1e-9)
    fold_scores = np.stack([-gs.cv_results_[f"split{k}_test_score"] for k in range(K)], axis=1)
    np.testing.assert_allclose(ours.fold_mse, fold_scores, rtol=1e-9)


def test_ridge_choice_equals_ridgecv_on_same_folds(diabetes, folds):
    X, y = diabetes
    lams = np.geomspace(1e-6, 10.0, 15)
    ours = cross_validate_lam("ridge", X, y, lams, folds)
    n_train = len(y) - len(y) // K
    assert all(len(train) == n_train for train, _ in folds)  # one alpha per lam needs this
    alphas = [convert.sklearn_ridge_alpha(lam, n_train) for lam in lams]
    sk = RidgeCV(alphas=alphas, cv=folds, scoring="neg_mean_squared_error").fit(X, y)
    assert convert.lam_from_sklearn_ridge_alpha(sk.alpha_, n_train) == pytest.approx(
        ours.best_lam, rel=1e-12)
    assert -sk.best_score_ == pytest.approx(ours.mean.min(), rel=1e-9)
    assert ours.best_lam not in (lams[0], lams[-1])  # an interior minimum, so the test can fail


def test_ridge_per_fold_with_unequal_folds_equals_sklearn_ridge(diabetes):
    # 100 rows in 3 folds: training sizes 66, 67, 67, so alpha = n_train * lam per fold.
    X, y = diabetes[0][:100], diabetes[1][:100]
    folds = kfold_indices(100, 3, seed=1)
    lam = 0.01
    ours = cross_validate_lam("ridge", X, y, [lam], folds)
    for k, (train, val) in enumerate(folds):
        model = Ridge(alpha=convert.sklearn_ridge_alpha(lam, len(train))).fit(X[train], y[train])
        mse = np.mean((y[val] - model.predict(X[val])) ** 2)
        assert ours.fold_mse[0, k] == pytest.approx(mse, rel=1e-9)


def test_lasso_curve_equals_lassocv_mse_path_on_same_folds(diabetes, folds):
    X, y = diabetes
    lams = _lasso_grid(X, y)
    ours = cross_validate_lam("lasso", X, y, lams, folds)
    sk = LassoCV(alphas=[convert.sklearn_lasso_alpha(lam) for lam in lams], cv=folds,
                 tol=1e-12, max_iter=100_000).fit(X, y)
    order = np.argsort(-lams)  # LassoCV sorts its alphas in decreasing order
    np.testing.assert_allclose(sk.alphas_, lams[order], rtol=1e-15)
    np.testing.assert_allclose(ours.fold_mse[order], sk.mse_path_, rtol=1e-8)
    assert sk.alpha_ == pytest.approx(ours.best_lam, rel=1e-12)
    assert ours.best_lam not in (lams.min(), lams.max())


def test_lasso_choice_equals_lassocv_on_sparse_problem():
    X, y, _ = data.make_sparse_regression(90, 20, 4, noise=1.0, seed=2)
    folds = kfold_indices(90, 5, seed=4)
    lams = _lasso_grid(X, y, m=15)
    ours = cross_validate_lam("lasso", X, y, lams, folds)
    sk = LassoCV(alphas=lams, cv=folds, tol=1e-12, max_iter=100_000).fit(X, y)
    assert sk.alpha_ == pytest.approx(ours.best_lam, rel=1e-12)


def test_callable_fit_gets_training_rows_only():
    X, y, _ = data.make_sparse_regression(30, 3, 2, seed=0)
    folds = kfold_indices(30, 3, seed=0)
    seen = []

    def fit(X_train, y_train, lam):
        seen.append(len(y_train))
        return rnp.ridge(X_train, y_train, lam)

    result = cross_validate_lam(fit, X, y, [0.1, 1.0], folds)
    assert seen == [20] * 6
    np.testing.assert_allclose(result.fold_mse,
                               cross_validate_lam("ridge", X, y, [0.1, 1.0], folds).fold_mse)


def test_folds_may_come_from_a_sklearn_split_generator():
    X, y, _ = data.make_sparse_regression(30, 4, 2, seed=1)
    ours = cross_validate_lam("ridge", X, y, [0.1], kfold_indices(30, 3, shuffle=False))
    theirs = cross_validate_lam("ridge", X, y, [0.1], KFold(3).split(X))
    np.testing.assert_array_equal(ours.fold_mse, theirs.fold_mse)


def test_standard_error_is_fold_std_over_sqrt_k():
    X, y, _ = data.make_sparse_regression(40, 5, 2, noise=1.0, seed=5)
    result = cross_validate_lam("ridge", X, y, [0.01, 0.1], kfold_indices(40, 4, seed=0))
    expected = np.std(result.fold_mse, axis=1, ddof=1) / 2.0
    np.testing.assert_allclose(result.se, expected)
    np.testing.assert_allclose(result.mean, result.fold_mse.mean(axis=1))
    assert isinstance(result, CVResult) and np.all(result.se > 0)


@pytest.mark.parametrize("fit, lams, folds, error, match", [
    ("ols", [0.1], None, ValueError, "fit must be 'ridge', 'lasso'"),
    (3, [0.1], None, TypeError, "fit must be"),
    ("ridge", [-0.1], None, ValueError, "lams must all be >= 0"),
    ("ridge", [], None, ValueError, "lams must not be empty"),
    ("ridge", [[0.1]], None, ValueError, "lams must be 1-dimensional"),
    ("ridge", [0.1], "abc", TypeError, "folds must be a list"),
    ("ridge", [0.1], 5, TypeError, "folds must be a list"),
    ("ridge", [0.1], [], ValueError, "folds must not be empty"),
    ("ridge", [0.1], [(np.arange(5), np.arange(5, 10))], ValueError, "at least 2 folds"),
    ("ridge", [0.1], [(np.arange(6), np.arange(5, 10))] * 2, ValueError, "overlap"),
    ("ridge", [0.1], [(np.arange(5), np.arange(5, 11))] * 2, ValueError, "outside"),
    ("ridge", [0.1], [(np.arange(5.0), np.arange(5, 10))] * 2, ValueError, "integer indices"),
    ("ridge", [0.1], [(np.arange(5),)] * 2, TypeError, "pair"),
])
def test_cross_validate_rejects_bad_arguments(fit, lams, folds, error, match):
    X, y, _ = data.make_sparse_regression(10, 3, 1, seed=0)
    folds = kfold_indices(10, 2) if folds is None else folds
    with pytest.raises(error, match=match):
        cross_validate_lam(fit, X, y, lams, folds)


def test_cross_validate_rejects_mismatched_rows():
    X, y, _ = data.make_sparse_regression(10, 3, 1, seed=0)
    with pytest.raises(ValueError, match="X and y lengths differ: 10 and 9"):
        cross_validate_lam("ridge", X, y[:-1], [0.1], kfold_indices(9, 3))


@pytest.mark.parametrize("name", ["ridge", "lasso"])
def test_named_fit_equals_the_public_solver_and_validates_once(monkeypatch, diabetes, folds,
                                                               name):
    # "ridge"/"lasso" run the solvers' core on the data validated once by cross_validate_lam:
    # the same numbers as regbook.np.ridge / lasso, without re-checking every fold.
    from regbook import np as rnp
    from regbook.np import linear

    X, y = diabetes
    lams = np.array([0.5, 0.05, 0.005])
    public = cross_validate_lam(getattr(rnp, name), X, y, lams, folds)
    calls = []
    original = linear.check_Xy
    monkeypatch.setattr(linear, "check_Xy", lambda *a, **k: calls.append(a) or original(*a, **k))
    named = cross_validate_lam(name, X, y, lams, folds)
    assert calls == []
    np.testing.assert_array_equal(named.fold_mse, public.fold_mse)


# --- one-standard-error rule -----------------------------------------------------------------

def test_one_se_rule_takes_largest_lam_within_one_se():
    lams = np.array([0.01, 0.1, 1.0, 10.0])
    mean = np.array([5.0, 4.0, 4.4, 6.0])
    assert one_standard_error_rule(lams, mean, np.array([0.1, 0.5, 0.1, 0.1])) == 1.0
    assert one_standard_error_rule(lams, mean, np.array([0.1, 0.3, 0.1, 0.1])) == 0.1


def test_one_se_rule_ignores_the_order_of_the_grid():
    lams = np.array([10.0, 0.01, 1.0, 0.1])
    mean = np.array([6.0, 5.0, 4.4, 4.0])
    se = np.array([0.1, 0.1, 0.1, 0.5])
    assert one_standard_error_rule(lams, mean, se) == 1.0


def test_one_se_lam_of_a_cv_result_is_at_least_the_best(diabetes, folds):
    X, y = diabetes
    result = cross_validate_lam("lasso", X, y, _lasso_grid(X, y), folds)
    assert result.lam_1se >= result.best_lam
    j = int(np.flatnonzero(result.lams == result.lam_1se)[0])
    assert result.mean[j] <= result.mean.min() + result.se[result.best_index]


@pytest.mark.parametrize("lams, mean, se, match", [
    ([0.1, 1.0], [1.0], [0.1, 0.1], "same length"),
    ([0.1, 1.0], [1.0, 2.0], [0.1, -0.1], "se must all be >= 0"),
    ([0.1, np.nan], [1.0, 2.0], [0.1, 0.1], "lams must contain only finite"),
])
def test_one_se_rule_rejects_bad_arguments(lams, mean, se, match):
    with pytest.raises(ValueError, match=match):
        one_standard_error_rule(lams, mean, se)


def test_model_selection_is_a_lazy_submodule_of_regbook():
    import regbook

    assert regbook.model_selection.kfold_indices is kfold_indices
    assert "model_selection" in regbook.__all__
