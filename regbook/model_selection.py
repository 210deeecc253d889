r"""Choosing the regularization strength by k-fold cross-validation, from scratch.

Framework-agnostic (NumPy only). The pieces, in the order a reader meets them:

- :func:`kfold_indices` -- deterministic k-fold splits ``[(train_idx, val_idx), ...]``; the list
  can be passed unchanged to scikit-learn as ``cv=`` (``RidgeCV``, ``LassoCV``, ``GridSearchCV``).
- :func:`cross_validate_lam` -- the validation mean squared error of a penalised linear model
  (``"ridge"``, ``"lasso"`` or any ``fit(X, y, lam) -> (coef, intercept)``) for every
  :math:`\lambda` and every fold, with its mean and standard error over the folds.
- :func:`one_standard_error_rule` -- the largest :math:`\lambda` whose mean validation error is
  within one standard error of the minimum (Hastie, Tibshirani & Friedman, 2009, section 7.10).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

from regbook._validate import check_array, check_bool, check_int, check_seed, check_Xy

__all__ = [
    "kfold_indices",
    "CVResult",
    "cross_validate_lam",
    "one_standard_error_rule",
]

FitFunction = Callable[[np.ndarray, np.ndarray, float], "tuple[np.ndarray, float]"]


# --- the splitter ----------------------------------------------------------------------------

def kfold_indices(n_samples: int, n_splits: int = 5, *, shuffle: bool = True,
                  seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""Deterministic k-fold splits of ``range(n_samples)``.

    The (optionally shuffled) indices are cut into ``n_splits`` consecutive blocks
    :math:`V_1, \dots, V_K`; the first :math:`n \bmod K` blocks hold
    :math:`\lceil n/K \rceil` indices and the others :math:`\lfloor n/K \rfloor` (scikit-learn's
    ``KFold`` sizes). Fold :math:`k` validates on :math:`V_k` and trains on the rest,
    :math:`T_k = \{0, \dots, n-1\} \setminus V_k`. Every index is in exactly one validation
    block. Without shuffling the folds equal ``sklearn.model_selection.KFold(n_splits)``'s.

    Parameters
    ----------
    n_samples : int
        Number of examples :math:`n`, at least ``n_splits``.
    n_splits : int
        Number of folds :math:`K \ge 2`.
    shuffle : bool
        Permute the indices with ``numpy.random.default_rng(seed)`` before cutting them.
    seed : int
        Seed of the permutation, in ``[0, 2**32 - 1]`` (ignored when ``shuffle=False``).

    Returns
    -------
    list of (train_idx, val_idx)
        ``n_splits`` pairs of sorted ``int64`` index arrays; pass the list as ``cv=`` to
        scikit-learn.
    """
    n_splits = check_int(n_splits, "n_splits", minimum=2)
    n_samples = check_int(n_samples, "n_samples", minimum=n_splits)
    shuffle = check_bool(shuffle, "shuffle")
    seed = check_seed(seed)
    order = np.arange(n_samples, dtype=np.int64)
    if shuffle:
        order = np.random.default_rng(seed).permutation(order)
    sizes = np.full(n_splits, n_samples // n_splits, dtype=np.int64)
    sizes[: n_samples % n_splits] += 1
    stops = np.cumsum(sizes)
    folds = []
    for start, stop in zip(stops - sizes, stops):
        in_val = np.zeros(n_samples, dtype=bool)
        in_val[order[start:stop]] = True
        folds.append((np.flatnonzero(~in_val), np.flatnonzero(in_val)))
    return folds


# --- cross-validation of lam -----------------------------------------------------------------

@dataclass(frozen=True)
class CVResult:
    r"""Validation errors of one model over a grid of :math:`\lambda` and a set of folds.

    Attributes
    ----------
    lams : numpy.ndarray, shape (m,)
        The grid, in the order given.
    fold_mse : numpy.ndarray, shape (m, K)
        :math:`\mathrm{MSE}_k(\lambda_j)`, the mean squared error on validation fold :math:`k`
        of the model trained on the other folds with :math:`\lambda_j` (the same numbers as
        ``LassoCV.mse_path_``, up to the order of the grid).
    mean : numpy.ndarray, shape (m,)
        :math:`\overline{\mathrm{CV}}(\lambda_j) = \frac1K\sum_k \mathrm{MSE}_k(\lambda_j)`.
    se : numpy.ndarray, shape (m,)
        Standard error of that mean, :math:`s_j/\sqrt K` with :math:`s_j` the sample standard
        deviation (``ddof=1``) of the :math:`K` fold errors.
    """

    lams: np.ndarray
    fold_mse: np.ndarray
    mean: np.ndarray
    se: np.ndarray

    @property
    def best_index(self) -> int:
        """Index of the smallest mean error (the first one on ties, as scikit-learn)."""
        return int(np.argmin(self.mean))

    @property
    def best_lam(self) -> float:
        r""":math:`\hat\lambda = \arg\min_j \overline{\mathrm{CV}}(\lambda_j)`."""
        return float(self.lams[self.best_index])

    @property
    def lam_1se(self) -> float:
        """The one-standard-error choice, :func:`one_standard_error_rule` of this curve."""
        return one_standard_error_rule(self.lams, self.mean, self.se)


def _check_fit(fit) -> FitFunction:
    if isinstance(fit, str):
        if fit not in ("ridge", "lasso"):
            raise ValueError(f"fit must be 'ridge', 'lasso' or a callable, got {fit!r}")
        # NumPy only; imported here to keep `import regbook` light. The solvers' core, not
        # regbook.np.ridge / lasso: X, y and lams are validated once, here, not per fold.
        from regbook.np.linear import _solve

        if fit == "ridge":
            return lambda X, y, lam: _solve(X, y, 0.0, lam)
        return lambda X, y, lam: _solve(X, y, lam, 0.0)
    if not callable(fit):
        raise TypeError(f"fit must be 'ridge', 'lasso' or a callable, got {type(fit).__name__}")
    return fit


def _check_lams(lams) -> np.ndarray:
    lams = check_array(lams, "lams", ndim=1)
    if np.any(lams < 0):
        raise ValueError(f"lams must all be >= 0, got min {lams.min()}")
    return lams


def _check_folds(folds, n_samples: int) -> list[tuple[np.ndarray, np.ndarray]]:
    if isinstance(folds, (str, bytes)) or not isinstance(folds, Iterable):
        raise TypeError("folds must be a list (or iterable) of (train_idx, val_idx) pairs, "
                        f"got {type(folds).__name__}")
    folds = list(folds)  # also accepts a generator such as KFold(...).split(X)
    if not folds:
        raise ValueError("folds must not be empty")
    checked = []
    for k, pair in enumerate(folds):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"folds[{k}] must be a (train_idx, val_idx) pair")
        train, val = (np.asarray(part) for part in pair)
        for name, part in ((f"folds[{k}][0] (train)", train), (f"folds[{k}][1] (val)", val)):
            if part.ndim != 1 or part.size == 0 or part.dtype.kind not in "iu":
                raise ValueError(f"{name} must be a non-empty 1-D array of integer indices")
            if part.min() < 0 or part.max() >= n_samples:
                raise ValueError(f"{name} has indices outside [0, {n_samples - 1}]")
        if np.intersect1d(train, val).size:
            raise ValueError(f"folds[{k}]: train and val indices overlap")
        checked.append((train, val))
    return checked


def cross_validate_lam(fit: Union[str, FitFunction], X: np.ndarray, y: np.ndarray,
                       lams: Sequence[float], folds: Iterable[tuple[np.ndarray, np.ndarray]]
                       ) -> CVResult:
    r"""K-fold cross-validated mean squared error of a penalised linear model, per :math:`\lambda`.

    For every fold :math:`(T_k, V_k)` and every :math:`\lambda_j` the model is fitted on
    :math:`T_k` only (intercept included) and scored on :math:`V_k`:

    .. math::
        \mathrm{MSE}_k(\lambda) = \frac{1}{|V_k|}\sum_{i\in V_k}
            \big(y_i - x_i^\top \hat w_{-k}(\lambda) - \hat b_{-k}(\lambda)\big)^2,
        \qquad
        \overline{\mathrm{CV}}(\lambda) = \frac1K\sum_{k=1}^K \mathrm{MSE}_k(\lambda),

    .. math::
        \mathrm{SE}(\lambda) = \frac{1}{\sqrt K}\sqrt{\frac{1}{K-1}\sum_{k=1}^K
            \big(\mathrm{MSE}_k(\lambda) - \overline{\mathrm{CV}}(\lambda)\big)^2}.

    The fold errors are averaged with equal weights, as ``LassoCV`` and ``GridSearchCV`` do.

    Parameters
    ----------
    fit : {"ridge", "lasso"} or callable
        ``"ridge"`` / ``"lasso"`` use :func:`regbook.np.ridge` / :func:`regbook.np.lasso` (the
        book's scaling: ``Lasso(alpha=lam)``, ``Ridge(alpha=n_train * lam)``); a callable is
        called as ``fit(X_train, y_train, lam)`` and returns ``(coef, intercept)``.
    X : array_like, shape (n, p)
    y : array_like, shape (n,)
    lams : array_like, shape (m,)
        Grid of :math:`\lambda \ge 0`, any order.
    folds : list of (train_idx, val_idx)
        Integer index arrays, train and validation disjoint; for example :func:`kfold_indices`
        or scikit-learn's ``KFold(...).split(X)``. At least two folds, for a standard error.

    Returns
    -------
    CVResult
        With ``fold_mse`` ``(m, K)``, ``mean``, ``se``, ``best_lam`` and ``lam_1se``.
    """
    fit = _check_fit(fit)
    X, y = check_Xy(X, y)
    lams = _check_lams(lams)
    folds = _check_folds(folds, X.shape[0])
    if len(folds) < 2:
        raise ValueError("folds must hold at least 2 folds for a standard error, got "
                         f"{len(folds)}")
    fold_mse = np.empty((lams.size, len(folds)))
    for k, (train, val) in enumerate(folds):
        for j, lam in enumerate(lams):
            coef, intercept = fit(X[train], y[train], float(lam))
            residual = y[val] - X[val] @ np.asarray(coef) - intercept
            fold_mse[j, k] = float(residual @ residual) / val.size
    mean = fold_mse.mean(axis=1)
    se = fold_mse.std(axis=1, ddof=1) / np.sqrt(len(folds))
    return CVResult(lams=lams.copy(), fold_mse=fold_mse, mean=mean, se=se)


# --- the one-standard-error rule -------------------------------------------------------------

def one_standard_error_rule(lams: Sequence[float], mean: Sequence[float],
                            se: Sequence[float]) -> float:
    r"""The most regularised :math:`\lambda` within one standard error of the best.

    With :math:`j^\star = \arg\min_j \overline{\mathrm{CV}}(\lambda_j)` (Hastie, Tibshirani &
    Friedman, 2009, section 7.10),

    .. math::
        \lambda_{1\mathrm{SE}} = \max\big\{\lambda_j :
            \overline{\mathrm{CV}}(\lambda_j) \le \overline{\mathrm{CV}}(\lambda_{j^\star})
            + \mathrm{SE}(\lambda_{j^\star})\big\} .

    A larger :math:`\lambda` is a simpler model (smaller weights, and for the lasso fewer
    non-zero ones) whose error cannot be told apart from the best one's.

    Parameters
    ----------
    lams : array_like, shape (m,)
        Grid of :math:`\lambda \ge 0`, any order.
    mean, se : array_like, shape (m,)
        Mean cross-validated error and its standard error (``se >= 0``) at each :math:`\lambda`.

    Returns
    -------
    float
        :math:`\lambda_{1\mathrm{SE}} \ge \hat\lambda`.
    """
    lams = _check_lams(lams)
    mean = check_array(mean, "mean", ndim=1)
    se = check_array(se, "se", ndim=1)
    if not (mean.shape == se.shape == lams.shape):
        raise ValueError(f"lams, mean and se must have the same length, got {lams.size}, "
                         f"{mean.size} and {se.size}")
    if np.any(se < 0):
        raise ValueError(f"se must all be >= 0, got min {se.min()}")
    best = int(np.argmin(mean))
    within = mean <= mean[best] + se[best]
    return float(lams[within].max())
