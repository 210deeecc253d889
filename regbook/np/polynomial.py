"""Polynomial regression from scratch: features, a least-squares fit and predictions.

Used by the Overfitting chapter. The features are powers of :math:`z = 2x - 1` rather than of
:math:`x`: the same polynomials, but a much better conditioned design matrix on :math:`[0, 1]`.
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_float, check_int

__all__ = ["polynomial_features", "fit_polynomial", "predict_polynomial"]


def polynomial_features(x: np.ndarray, degree: int) -> np.ndarray:
    r"""The design matrix :math:`\Phi_{ik} = z_i^k`, :math:`z = 2x - 1`, :math:`k = 0..d`.

    Parameters
    ----------
    x : array_like, shape (n,)
        Inputs, nominally in [0, 1].
    degree : int
        Polynomial degree :math:`d \ge 0`.

    Returns
    -------
    numpy.ndarray, shape (n, degree + 1)
        Column ``k`` holds :math:`z^k`; column 0 is all ones (the intercept).
    """
    return _features(check_array(x, "x", ndim=1), check_int(degree, "degree", minimum=0))


def _features(x: np.ndarray, degree: int) -> np.ndarray:
    # polynomial_features on validated arguments.
    return np.vander(2.0 * x - 1.0, degree + 1, increasing=True)


def fit_polynomial(x: np.ndarray, y: np.ndarray, degree: int, *, lam: float = 0.0) -> np.ndarray:
    r"""Fit a degree-``degree`` polynomial by (optionally L2-penalised) least squares.

    Minimises the book's objective

    .. math:: \frac{1}{2n}\lVert \Phi c - y \rVert^2 + \frac{\lambda}{2}\sum_{k \ge 1} c_k^2,

    leaving the intercept :math:`c_0` unpenalised. With :math:`\lambda = 0` this is ordinary
    least squares, solved with an SVD (``numpy.linalg.lstsq``), which also copes with more
    coefficients than points (it returns the minimum-norm interpolant).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Inputs and targets.
    degree : int
        Polynomial degree, >= 0.
    lam : float
        L2 strength :math:`\lambda \ge 0`.

    Returns
    -------
    numpy.ndarray, shape (degree + 1,)
        Coefficients of :math:`1, z, \dots, z^d`.
    """
    x = check_array(x, "x", ndim=1)
    y = check_array(y, "y", ndim=1)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    degree = check_int(degree, "degree", minimum=0)
    lam = check_float(lam, "lam", minimum=0.0)
    phi = _features(x, degree)
    n = len(y)
    if lam == 0.0:
        return np.linalg.lstsq(phi, y, rcond=None)[0]
    # Augmented least squares: rows sqrt(n*lam) * e_k for k >= 1 encode the penalty.
    penalty_rows = np.sqrt(n * lam) * np.eye(degree + 1)[1:]
    a = np.vstack([phi, penalty_rows])
    b = np.concatenate([y, np.zeros(degree)])
    return np.linalg.lstsq(a, b, rcond=None)[0]


def predict_polynomial(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    r"""Evaluate :math:`\hat y = \Phi(x)\, c` for coefficients from :func:`fit_polynomial`."""
    coef = check_array(coef, "coef", ndim=1)
    return polynomial_features(x, len(coef) - 1) @ coef
