r"""Penalised least squares from scratch: ridge, lasso, elastic net and the lasso path.

Every solver minimises the book's objective

.. math:: F(w, b) = \frac{1}{2n}\lVert y - Xw - b\mathbf 1\rVert^2
          + \lambda_1\lVert w\rVert_1 + \frac{\lambda_2}{2}\lVert w\rVert_2^2

with the intercept :math:`b` unpenalised: with ``fit_intercept=True`` the columns of
:math:`X` and :math:`y` are centred, the centred problem is solved for :math:`w`, and
:math:`b = \bar y - \bar x^\top w`. Ridge is :math:`\lambda_1 = 0`, the lasso
:math:`\lambda_2 = 0`.

The lasso and elastic net use an exact *active-set* method (the feature-sign search of Lee,
Battle, Raina & Ng, 2007) inside a working-set loop, stopped by the same duality-gap rule as
scikit-learn's coordinate descent; see :func:`lasso`. That machinery lives in the private
module :mod:`regbook.np._active_set`; the objective :math:`F` itself is
:func:`regbook.objectives.lasso_objective` (also ``regbook.np.lasso_objective``).
"""

from __future__ import annotations

import numpy as np

from regbook._threads import one_blas_thread
from regbook._validate import check_array, check_bool, check_float, check_int, check_Xy
from regbook.np._active_set import _enet_centred, _gap, _lapack, _WorkingSet
from regbook.np._lasso_warm_start import _PREDICT_MIN_FEATURES, _pdas_start
from regbook.objectives import lasso_objective  # noqa: F401  (its old home, kept importable)

__all__ = ["ridge", "lasso", "elastic_net", "lasso_path", "duality_gap"]


# --- validation, centring and the shared core ------------------------------------------------

def _check_solver_options(fit_intercept, tol, max_iter) -> tuple[bool, float, int]:
    return (check_bool(fit_intercept, "fit_intercept"), check_float(tol, "tol", minimum=0.0),
            check_int(max_iter, "max_iter", minimum=1))


def _check_coef(coef, X: np.ndarray) -> np.ndarray:
    coef = check_array(coef, "coef", ndim=1)
    if coef.shape[0] != X.shape[1]:
        raise ValueError(f"coef must have {X.shape[1]} entries (one per column of X), got "
                         f"{coef.shape[0]}")
    return coef


def _centre(X: np.ndarray, y: np.ndarray, fit_intercept: bool):
    if not fit_intercept:
        return X, y, np.zeros(X.shape[1]), 0.0
    x_mean, y_mean = X.mean(axis=0), float(y.mean())
    return X - x_mean, y - y_mean, x_mean, y_mean


def _solve(X: np.ndarray, y: np.ndarray, lam1: float, lam2: float, fit_intercept: bool = True,
           tol: float = 1e-10, max_iter: int = 1000) -> tuple[np.ndarray, float]:
    # The core of ridge, lasso and elastic_net, on validated arguments: centre, solve, b.
    Xc, yc, x_mean, y_mean = _centre(X, y, fit_intercept)
    if lam1 == 0.0:
        coef = _ridge_centred(Xc, yc, lam2)
    else:
        _lapack()                      # load SciPy first, so that its BLAS is limited too
        with one_blas_thread():
            # The support and signs predicted (PDAS), then the certified working-set loop
            # from there; stacklevel 4: a non-convergence warning points at the reader's call.
            state, w0 = _WorkingSet(Xc, yc), None
            if X.shape[1] >= _PREDICT_MIN_FEATURES:
                w0, exact = _pdas_start(state, lam1, lam2)
                if not exact:          # a working set grown afresh, from w0's support
                    state = _WorkingSet(Xc, yc)
            coef = _enet_centred(Xc, yc, lam1, lam2, w0, tol, max_iter, state,
                                 stacklevel=4)[0]
    return coef, y_mean - float(x_mean @ coef)


# --- ridge -----------------------------------------------------------------------------------

def _ridge_centred(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    # Well-conditioned lam > 0: solve the smaller of the two positive definite systems,
    #   primal (n >= p):  (X^T X + n lam I) w = X^T y,
    #   dual   (n <  p):  (X X^T + n lam I) a = y,  w = X^T a.
    # Their condition number is at most 1 + ||X||_F^2 / (n lam); above 1e8 (or lam = 0) the
    # normal equations would lose too many digits, and the SVD is used instead.
    n, p = X.shape
    if lam > 0.0 and float(np.einsum("ij,ij->", X, X)) < 1e8 * n * lam:
        primal = n >= p
        A, rhs = (X.T @ X, X.T @ y) if primal else (X @ X.T, y)
        A[np.diag_indices_from(A)] += n * lam
        # numpy's own LAPACK: alternating numpy's and scipy's (separate) OpenBLAS thread pools
        # made this 3x slower on a 2-core machine (benchmarks/README.md).
        solution = np.linalg.solve(A, rhs)
        return solution if primal else X.T @ solution
    return _ridge_svd(X, y, lam)


def _ridge_svd(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    # w = V diag(s / (s^2 + n lam)) U^T y from the thin SVD X = U S V^T: one formula for
    # n >= p and n < p, and with lam = 0 the minimum-norm least-squares solution.
    n = X.shape[0]
    u, s, vt = np.linalg.svd(X, full_matrices=False)
    denom = s * s + n * lam
    cutoff = (s[0] if s.size else 0.0) * max(X.shape) * np.finfo(float).eps
    keep = s > cutoff
    factors = np.zeros_like(s)
    factors[keep] = s[keep] / denom[keep]
    return vt.T @ (factors * (u.T @ y))


def ridge(X: np.ndarray, y: np.ndarray, lam: float, *,
          fit_intercept: bool = True) -> tuple[np.ndarray, float]:
    r"""Ridge regression, solved exactly.

    Minimises :math:`\frac{1}{2n}\lVert y - Xw - b\rVert^2 + \frac{\lambda}{2}\lVert w\rVert^2`.
    Setting the gradient to zero gives, for the centred data :math:`X_c, y_c`,

    .. math:: \hat w = (X_c^\top X_c + n\lambda I_p)^{-1} X_c^\top y_c
              = X_c^\top (X_c X_c^\top + n\lambda I_n)^{-1} y_c ,

    two forms of one solution. For :math:`\lambda > 0` both matrices are positive definite, and
    the function solves the smaller one: the :math:`p \times p` "primal" system when
    :math:`n \ge p`, the :math:`n \times n` "dual" one when there are more features than
    examples, at a cost of :math:`O(np\min(n, p))`. Their condition number is at most
    :math:`1 + \lVert X_c\rVert_F^2 / (n\lambda)`; when that exceeds :math:`10^8`, or
    :math:`\lambda = 0`, it uses the thin SVD :math:`X_c = U\,\mathrm{diag}(d)\,V^\top`
    instead, which never forms :math:`X_c^\top X_c`,

    .. math:: \hat w = V\,\mathrm{diag}\!\Big(\frac{d_j}{d_j^2 + n\lambda}\Big) U^\top y_c ,

    which at :math:`\lambda = 0` is the minimum-norm least-squares solution.
    scikit-learn's ``Ridge(alpha)`` is the same with :math:`\alpha = n\lambda`
    (:func:`regbook.convert.sklearn_ridge_alpha`).

    Parameters
    ----------
    X : array_like, shape (n, p)
    y : array_like, shape (n,)
    lam : float
        :math:`\lambda \ge 0`.
    fit_intercept : bool
        Fit an unpenalised intercept (centre the data) or force :math:`b = 0`.

    Returns
    -------
    coef : numpy.ndarray, shape (p,)
    intercept : float
    """
    X, y = check_Xy(X, y)
    lam = check_float(lam, "lam", minimum=0.0)
    return _solve(X, y, 0.0, lam, check_bool(fit_intercept, "fit_intercept"))


# --- duality gap -----------------------------------------------------------------------------

def duality_gap(X: np.ndarray, y: np.ndarray, coef: np.ndarray, lam1: float, lam2: float = 0.0,
                *, fit_intercept: bool = True) -> float:
    r"""The duality gap of ``coef`` for the book's elastic-net objective (0 at the optimum).

    With :math:`r = y_c - X_c w`, the dual point :math:`\theta = r\,\min(1, n\lambda_1 /
    \lVert X_c^\top r - n\lambda_2 w\rVert_\infty)` (scikit-learn's choice) gives
    :math:`F(w) - D(\theta) \ge F(w) - F(w^\star) \ge 0`, a certificate of accuracy.
    """
    X, y = check_Xy(X, y)
    coef = _check_coef(coef, X)
    lam1 = check_float(lam1, "lam1", minimum=0.0)
    lam2 = check_float(lam2, "lam2", minimum=0.0)
    Xc, yc, _, _ = _centre(X, y, check_bool(fit_intercept, "fit_intercept"))
    r = yc - Xc @ coef
    return _gap(len(yc), coef, Xc.T @ r, float(r @ r), float(r @ yc), lam1, lam2)


# --- lasso and elastic net -------------------------------------------------------------------

def elastic_net(X: np.ndarray, y: np.ndarray, lam1: float, lam2: float, *,
                fit_intercept: bool = True, tol: float = 1e-10,
                max_iter: int = 1000) -> tuple[np.ndarray, float]:
    r"""The elastic net (Zou & Hastie, 2005), solved to a duality-gap tolerance.

    Minimises

    .. math:: \frac{1}{2n}\lVert y - Xw - b\rVert^2 + \lambda_1\lVert w\rVert_1
              + \frac{\lambda_2}{2}\lVert w\rVert_2^2 ,

    which is scikit-learn's ``ElasticNet(alpha, l1_ratio)`` with :math:`\alpha = \lambda_1 +
    \lambda_2`, ``l1_ratio`` :math:`= \lambda_1 / \alpha`
    (:func:`regbook.convert.sklearn_elasticnet_params`). With :math:`\lambda_1 = 0` it is
    :func:`ridge`. See :func:`lasso` for the algorithm and the stopping rule.

    Returns
    -------
    coef : numpy.ndarray, shape (p,)
    intercept : float
    """
    X, y = check_Xy(X, y)
    lam1 = check_float(lam1, "lam1", minimum=0.0)
    lam2 = check_float(lam2, "lam2", minimum=0.0)
    return _solve(X, y, lam1, lam2, *_check_solver_options(fit_intercept, tol, max_iter))


def lasso(X: np.ndarray, y: np.ndarray, lam: float, *, fit_intercept: bool = True,
          tol: float = 1e-10, max_iter: int = 1000) -> tuple[np.ndarray, float]:
    r"""The lasso (Tibshirani, 1996), solved to a duality-gap tolerance.

    Minimises :math:`\frac{1}{2n}\lVert y - Xw - b\rVert^2 + \lambda\lVert w\rVert_1`, which is
    exactly scikit-learn's ``Lasso(alpha=lam)``.

    **Algorithm.** An outer working-set loop: compute the correlations :math:`X^\top r` of the
    residual with every feature, stop if the duality gap is small, otherwise add the features
    that violate :math:`|x_j^\top r|/n \le \lambda` most to the current support and solve the
    lasso restricted to that working set *exactly* with a feature-sign (active-set) search on
    its Gram matrix: the non-zero coefficients solve the linear system
    :math:`G_{AA} w_A = X_A^\top y / n - \lambda\,\mathrm{sign}(w_A)`, so the zeros are exact
    zeros and the non-zeros exact up to rounding. With 32 features or more, the loop starts
    from a *predicted* support and signs (primal-dual active-set steps, which solve that
    system on a guessed sign pattern without a line search; ``regbook.np._lasso_warm_start``):
    on a dense solution they usually find it outright, and the loop only certifies it.

    **Stopping rule** (scikit-learn's): with :math:`y` centred, stop when the duality gap of
    :func:`duality_gap` is at most ``tol`` :math:`\cdot\lVert y\rVert^2 / n`, or when no
    coefficient violates the optimality conditions at all.

    Parameters
    ----------
    X : array_like, shape (n, p)
    y : array_like, shape (n,)
    lam : float
        :math:`\lambda \ge 0` (0 gives minimum-norm least squares).
    fit_intercept : bool
        Fit an unpenalised intercept (centre the data) or force :math:`b = 0`.
    tol : float
        Relative duality-gap tolerance, >= 0.
    max_iter : int
        Maximum number of working-set iterations, >= 1 (a ``RuntimeWarning`` if reached).

    Returns
    -------
    coef : numpy.ndarray, shape (p,)
    intercept : float
    """
    X, y = check_Xy(X, y)
    lam = check_float(lam, "lam", minimum=0.0)
    return _solve(X, y, lam, 0.0, *_check_solver_options(fit_intercept, tol, max_iter))


# --- lasso path ------------------------------------------------------------------------------

def lasso_path(X: np.ndarray, y: np.ndarray, lams, *, fit_intercept: bool = True,
               tol: float = 1e-10, max_iter: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    r"""Lasso solutions for a grid of strengths, each warm-started from the next larger one.

    Solves :func:`lasso` for every :math:`\lambda` in ``lams``. Above
    :math:`\lambda_{\max} = \lVert X_c^\top y_c\rVert_\infty / n` every coefficient is 0.
    (scikit-learn's ``lasso_path`` does not centre: compare with ``fit_intercept=False`` or
    centred data; it also returns coefficients as ``(p, n_lams)``.)

    Parameters
    ----------
    X : array_like, shape (n, p)
    y : array_like, shape (n,)
    lams : array_like, shape (k,)
        Non-negative strengths, in any order.
    fit_intercept, tol, max_iter
        As in :func:`lasso`.

    Returns
    -------
    coefs : numpy.ndarray, shape (k, p)
        Row ``i`` is the solution for ``lams[i]``.
    intercepts : numpy.ndarray, shape (k,)
    """
    X, y = check_Xy(X, y)
    lams = check_array(lams, "lams", ndim=1)
    if np.any(lams < 0):
        raise ValueError(f"lams must all be >= 0, got min {lams.min()}")
    fit_intercept, tol, max_iter = _check_solver_options(fit_intercept, tol, max_iter)
    Xc, yc, x_mean, y_mean = _centre(X, y, fit_intercept)
    coefs = np.zeros((len(lams), X.shape[1]))
    w, state = None, _WorkingSet(Xc, yc)          # shared by every lam, largest first
    _lapack()                      # load SciPy first, so that its BLAS is limited too
    with one_blas_thread():
        for i in np.argsort(-lams, kind="stable"):
            if lams[i] == 0.0:
                w = _ridge_centred(Xc, yc, 0.0)
            else:
                w = _enet_centred(Xc, yc, float(lams[i]), 0.0, w, tol, max_iter, state,
                                  stacklevel=3)[0]
            coefs[i] = w
    return coefs, y_mean - coefs @ x_mean
