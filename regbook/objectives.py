r"""The book's objectives, framework-agnostic (NumPy only), for every backend to report.

The penalised least-squares objective of the linear-model chapters,

.. math:: F(w, b) = \frac{1}{2n}\lVert y - Xw - b\mathbf 1\rVert^2
          + \lambda_1\lVert w\rVert_1 + \frac{\lambda_2}{2}\lVert w\rVert_2^2 ,

is what :mod:`regbook.np`'s solvers and gradient methods minimise and what ``fit_linear`` in
every backend records in its :class:`regbook.history.FitPath`. It is the lasso for
:math:`\lambda_2 = 0`, ridge regression for :math:`\lambda_1 = 0` and the elastic net otherwise.
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_float, check_Xy

__all__ = ["lasso_objective"]


def _lasso_objective(X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float,
                     lam1: float, lam2: float) -> float:
    # F(w, b) on arguments already validated: regbook's own loops call this (validate once).
    r = y - X @ coef - intercept
    return float(r @ r / (2 * len(y)) + lam1 * np.abs(coef).sum() + 0.5 * lam2 * coef @ coef)


def lasso_objective(X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float,
                    lam1: float, lam2: float = 0.0) -> float:
    r"""The book's elastic-net objective :math:`F(w, b)` (the lasso for :math:`\lambda_2 = 0`).

    .. math:: F(w, b) = \frac{1}{2n}\lVert y - Xw - b\rVert^2 + \lambda_1\lVert w\rVert_1
              + \frac{\lambda_2}{2}\lVert w\rVert^2

    Parameters
    ----------
    X : array_like, shape (n, p)
    y : array_like, shape (n,)
    coef : array_like, shape (p,)
        The weights :math:`w`.
    intercept : float
        The intercept :math:`b` (not penalised).
    lam1, lam2 : float
        :math:`\lambda_1, \lambda_2 \ge 0`.

    Returns
    -------
    float
    """
    X, y = check_Xy(X, y)
    coef = check_array(coef, "coef", ndim=1)
    if coef.shape[0] != X.shape[1]:
        raise ValueError(f"coef must have {X.shape[1]} entries (one per column of X), got "
                         f"{coef.shape[0]}")
    intercept = check_float(intercept, "intercept")
    lam1 = check_float(lam1, "lam1", minimum=0.0)
    lam2 = check_float(lam2, "lam2", minimum=0.0)
    return _lasso_objective(X, y, coef, intercept, lam1, lam2)
