r"""Bayesian linear regression from scratch: the posterior, the evidence and its maximisation.

The model is Gaussian noise around a linear function and a Gaussian prior on the weights,

.. math:: y \mid X, w \sim \mathcal N\big(Xw + b\mathbf 1,\ \alpha^{-1} I_n\big), \qquad
          w \sim \mathcal N\big(0,\ \lambda_w^{-1} I_p\big),

with the *noise precision* :math:`\alpha = 1/\sigma^2` (scikit-learn's ``alpha_``) and the
*weight precision* :math:`\lambda_w = 1/\tau^2` (scikit-learn's ``lambda_``). The intercept
:math:`b` has a flat prior: as in :func:`regbook.np.ridge`, the columns of :math:`X` and
:math:`y` are centred and :math:`b = \bar y - \bar x^\top w`.

The posterior of :math:`w` is Gaussian, :math:`\mathcal N(m, S)`, with

.. math:: S = \big(\lambda_w I_p + \alpha X_c^\top X_c\big)^{-1}, \qquad
          m = \alpha S X_c^\top y_c = \big(X_c^\top X_c + \tfrac{\lambda_w}{\alpha} I_p
          \big)^{-1} X_c^\top y_c ,

so the posterior mean is the ridge solution of the book's objective
:math:`\frac{1}{2n}\lVert y - Xw - b\rVert^2 + \frac{\lambda}{2}\lVert w\rVert^2` with

.. math:: \lambda = \frac{\lambda_w}{n\alpha} = \frac{\sigma^2}{n\tau^2} .

:func:`bayesian_ridge` also chooses :math:`\alpha` and :math:`\lambda_w` from the training data
alone by maximising the evidence (MacKay's fixed-point updates, as scikit-learn's
``BayesianRidge``); :func:`posterior` keeps them fixed; :func:`log_evidence` is the log
marginal likelihood :math:`\log p(y_c \mid X_c, \alpha, \lambda_w)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from regbook._validate import check_array, check_bool, check_float, check_int, check_Xy

__all__ = ["BayesianFit", "bayesian_ridge", "posterior", "log_evidence"]


@dataclass(frozen=True)
class BayesianFit:
    r"""A Gaussian posterior over the weights of a linear model, and its predictive.

    Attributes
    ----------
    coef : numpy.ndarray, shape (p,)
        Posterior mean :math:`m` of the weights (also the MAP estimate).
    intercept : float
        :math:`b = \bar y - \bar x^\top m` (0 without an intercept).
    noise_precision : float
        :math:`\alpha = 1/\sigma^2` (scikit-learn's ``alpha_``).
    weight_precision : float
        :math:`\lambda_w = 1/\tau^2` (scikit-learn's ``lambda_``).
    lam : float
        The book's ridge strength :math:`\lambda = \lambda_w / (n\alpha)`: ``coef`` equals
        ``regbook.np.ridge(X, y, lam)[0]``.
    sigma : numpy.ndarray, shape (p, p)
        Posterior covariance :math:`S = (\lambda_w I + \alpha X_c^\top X_c)^{-1}`.
    n_iter : int
        Fixed-point iterations run (0 for :func:`posterior`).
    converged : bool
        Whether the iterations met ``tol`` (always True for :func:`posterior`).
    x_mean : numpy.ndarray, shape (p,)
        Column means the data were centred with (zeros without an intercept).
    n_samples : int
        Number of training examples :math:`n`.
    """

    coef: np.ndarray
    intercept: float
    noise_precision: float
    weight_precision: float
    lam: float
    sigma: np.ndarray = field(repr=False)
    n_iter: int
    converged: bool
    x_mean: np.ndarray = field(repr=False)
    n_samples: int

    def predict(self, X: np.ndarray, return_std: bool = False):
        r"""Predictive mean, and optionally standard deviation, at the rows of ``X``.

        The predictive distribution of a new target is Gaussian with

        .. math:: \mu(x) = x^\top m + b, \qquad
                  s^2(x) = \frac{1}{\alpha} + (x - \bar x)^\top S\,(x - \bar x),

        the noise variance plus the uncertainty about the weights (the intercept's own
        uncertainty is ignored, as scikit-learn's ``BayesianRidge.predict`` does).

        Parameters
        ----------
        X : array_like, shape (m, p)
        return_std : bool
            Also return :math:`s(x)`.

        Returns
        -------
        mean : numpy.ndarray, shape (m,)
        std : numpy.ndarray, shape (m,)
            Only with ``return_std=True``.
        """
        X = check_array(X, "X", ndim=2)
        return_std = check_bool(return_std, "return_std")
        if X.shape[1] != self.coef.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features but the model was fitted on "
                             f"{self.coef.shape[0]}")
        mean = X @ self.coef + self.intercept
        if not return_std:
            return mean
        Xc = X - self.x_mean
        var = np.einsum("ij,jk,ik->i", Xc, self.sigma, Xc) + 1.0 / self.noise_precision
        return mean, np.sqrt(var)


def _centre(X: np.ndarray, y: np.ndarray, fit_intercept: bool):
    if not fit_intercept:
        return X, y, np.zeros(X.shape[1]), 0.0
    x_mean, y_mean = X.mean(axis=0), float(y.mean())
    return X - x_mean, y - y_mean, x_mean, y_mean


class _SVD:
    """The SVD of the centred data, and the posterior it gives for any precisions."""

    def __init__(self, Xc: np.ndarray, yc: np.ndarray):
        n, p = Xc.shape
        self.X, self.y = Xc, yc
        # Full V only when n < p: the posterior covariance needs all p directions.
        self.U, d, self.Vt_full = np.linalg.svd(Xc, full_matrices=n < p)
        self.eig = d**2                               # nonzero eigenvalues of X^T X, (k,)
        self.eig_full = np.zeros(p)
        self.eig_full[:len(d)] = self.eig
        self.Vt = self.Vt_full[:len(d)]
        self.Xty = Xc.T @ yc

    def mean(self, alpha: float, lam_w: float) -> tuple[np.ndarray, float]:
        # m = (X^T X + (lam_w / alpha) I)^{-1} X^T y, and the residual sum of squares.
        shrink = self.eig + lam_w / alpha
        if self.X.shape[0] > self.X.shape[1]:
            coef = self.Vt.T @ ((self.Vt @ self.Xty) / shrink)
        else:
            coef = self.X.T @ (self.U @ ((self.U.T @ self.y) / shrink))
        return coef, float(np.sum((self.y - self.X @ coef) ** 2))

    def covariance(self, alpha: float, lam_w: float) -> np.ndarray:
        return (self.Vt_full.T / (alpha * self.eig_full + lam_w)) @ self.Vt_full

    def log_evidence(self, alpha: float, lam_w: float) -> float:
        n, p = self.X.shape
        coef, sse = self.mean(alpha, lam_w)
        logdet_a = float(np.sum(np.log(alpha * self.eig_full + lam_w)))
        return 0.5 * (p * math.log(lam_w) + n * math.log(alpha) - alpha * sse
                      - lam_w * float(coef @ coef) - logdet_a - n * math.log(2 * math.pi))


def _fit(X, y, fit_intercept, alpha, lam_w, svd, x_mean, y_mean, n_iter, converged):
    coef, _ = svd.mean(alpha, lam_w)
    n = X.shape[0]
    return BayesianFit(coef=coef, intercept=y_mean - float(x_mean @ coef) if fit_intercept
                       else 0.0, noise_precision=float(alpha), weight_precision=float(lam_w),
                       lam=float(lam_w / (n * alpha)), sigma=svd.covariance(alpha, lam_w),
                       n_iter=n_iter, converged=converged, x_mean=x_mean, n_samples=n)


def _check_precisions(noise_precision, weight_precision) -> tuple[float, float]:
    return (check_float(noise_precision, "noise_precision", minimum=0.0, include_min=False),
            check_float(weight_precision, "weight_precision", minimum=0.0, include_min=False))


def bayesian_ridge(X: np.ndarray, y: np.ndarray, *, fit_intercept: bool = True,
                   max_iter: int = 300, tol: float = 1e-3, alpha_1: float = 1e-6,
                   alpha_2: float = 1e-6, lambda_1: float = 1e-6,
                   lambda_2: float = 1e-6) -> BayesianFit:
    r"""Bayesian ridge regression: the precisions chosen by maximising the evidence.

    With Gamma hyper-priors :math:`\alpha \sim \Gamma(\alpha_1, \alpha_2)` and
    :math:`\lambda_w \sim \Gamma(\lambda_1, \lambda_2)` (shape, rate) on the two precisions of
    the model in :mod:`regbook.np.bayesian`, the function maximises
    :math:`\log p(y_c \mid X_c, \alpha, \lambda_w) + \log p(\alpha) + \log p(\lambda_w)` by
    MacKay's (1992) fixed-point iteration. With the eigenvalues :math:`d_j^2` of
    :math:`X_c^\top X_c` (from one SVD of :math:`X_c`), each iteration computes the posterior
    mean :math:`m` for the current precisions, the *effective number of parameters*

    .. math:: \gamma = \sum_j \frac{\alpha d_j^2}{\lambda_w + \alpha d_j^2},

    and the updates

    .. math:: \lambda_w \leftarrow \frac{\gamma + 2\lambda_1}{\lVert m\rVert^2 + 2\lambda_2},
              \qquad
              \alpha \leftarrow \frac{n - \gamma + 2\alpha_1}
              {\lVert y_c - X_c m\rVert^2 + 2\alpha_2},

    starting from :math:`\alpha = 1/\operatorname{Var}(y)`, :math:`\lambda_w = 1`, until the
    posterior mean moves by less than ``tol`` (in the sum of absolute changes) -- the same
    steps, starting point and stopping rule as scikit-learn's ``BayesianRidge``.

    **The book's** :math:`\lambda`. The log posterior is
    :math:`-\frac{\alpha}{2}\lVert y_c - X_c w\rVert^2 - \frac{\lambda_w}{2}\lVert w\rVert^2`
    plus a constant. Dividing by :math:`-n\alpha` gives

    .. math:: \frac{1}{2n}\lVert y_c - X_c w\rVert^2 + \frac{1}{2}\,
              \frac{\lambda_w}{n\alpha}\lVert w\rVert^2 ,

    the book's ridge objective with :math:`\lambda = \lambda_w / (n\alpha) = \sigma^2 /
    (n\tau^2)`: the returned ``lam``, for which ``coef`` equals
    ``regbook.np.ridge(X, y, lam)[0]``.

    Parameters
    ----------
    X : array_like, shape (n, p)
    y : array_like, shape (n,)
    fit_intercept : bool
        Centre the data and fit an unpenalised intercept, or force :math:`b = 0`.
    max_iter : int
        Most fixed-point iterations (>= 1).
    tol : float
        Stop when :math:`\sum_j |m_j^{(t)} - m_j^{(t-1)}| <` ``tol`` (>= 0).
    alpha_1, alpha_2, lambda_1, lambda_2 : float
        Shape and rate of the Gamma hyper-priors (>= 0); the defaults are scikit-learn's
        nearly flat ones.

    Returns
    -------
    BayesianFit
        Posterior mean and covariance at the chosen precisions, ``lam``, and ``predict``.
    """
    X, y = check_Xy(X, y)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    tol = check_float(tol, "tol", minimum=0.0)
    a1, a2, l1, l2 = (check_float(v, name, minimum=0.0) for v, name in (
        (alpha_1, "alpha_1"), (alpha_2, "alpha_2"), (lambda_1, "lambda_1"),
        (lambda_2, "lambda_2")))
    n = X.shape[0]
    alpha, lam_w = 1.0 / (float(y.var()) + np.finfo(np.float64).eps), 1.0
    Xc, yc, x_mean, y_mean = _centre(X, y, fit_intercept)
    svd = _SVD(Xc, yc)
    coef_old, converged = None, False
    for it in range(max_iter):
        coef, sse = svd.mean(alpha, lam_w)
        gamma = float(np.sum(alpha * svd.eig / (lam_w + alpha * svd.eig)))
        lam_w = (gamma + 2 * l1) / (float(coef @ coef) + 2 * l2)
        alpha = (n - gamma + 2 * a1) / (sse + 2 * a2)
        if it != 0 and float(np.sum(np.abs(coef_old - coef))) < tol:
            converged = True
            break
        coef_old = coef
    return _fit(X, y, fit_intercept, alpha, lam_w, svd, x_mean, y_mean, it + 1, converged)


def posterior(X: np.ndarray, y: np.ndarray, *, noise_precision: float, weight_precision: float,
              fit_intercept: bool = True) -> BayesianFit:
    r"""The Gaussian posterior of the weights for fixed precisions :math:`\alpha, \lambda_w`.

    .. math:: S = (\lambda_w I_p + \alpha X_c^\top X_c)^{-1}, \qquad m = \alpha S X_c^\top y_c,

    the ridge solution for the book's :math:`\lambda = \lambda_w/(n\alpha)` (see
    :func:`bayesian_ridge` for the derivation).

    Parameters
    ----------
    X : array_like, shape (n, p)
    y : array_like, shape (n,)
    noise_precision : float
        :math:`\alpha = 1/\sigma^2 > 0`.
    weight_precision : float
        :math:`\lambda_w = 1/\tau^2 > 0`.
    fit_intercept : bool
        Centre the data and fit an unpenalised intercept, or force :math:`b = 0`.

    Returns
    -------
    BayesianFit
        With ``n_iter=0``.
    """
    X, y = check_Xy(X, y)
    alpha, lam_w = _check_precisions(noise_precision, weight_precision)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    Xc, yc, x_mean, y_mean = _centre(X, y, fit_intercept)
    return _fit(X, y, fit_intercept, alpha, lam_w, _SVD(Xc, yc), x_mean, y_mean, 0, True)


def log_evidence(X: np.ndarray, y: np.ndarray, *, noise_precision: float,
                 weight_precision: float, fit_intercept: bool = True) -> float:
    r"""Log marginal likelihood :math:`\log p(y_c \mid X_c, \alpha, \lambda_w)` (no hyper-prior).

    Integrating the weights out, :math:`y_c \sim \mathcal N(0,\ \alpha^{-1} I_n +
    \lambda_w^{-1} X_c X_c^\top)`, whose log density is, with :math:`m` and :math:`S` the
    posterior mean and covariance,

    .. math:: \frac{p}{2}\log\lambda_w + \frac{n}{2}\log\alpha
              - \frac{\alpha}{2}\lVert y_c - X_c m\rVert^2 - \frac{\lambda_w}{2}\lVert m\rVert^2
              + \frac12\log\det S - \frac{n}{2}\log 2\pi .

    Parameters
    ----------
    X : array_like, shape (n, p)
    y : array_like, shape (n,)
    noise_precision, weight_precision : float
        :math:`\alpha > 0` and :math:`\lambda_w > 0`.
    fit_intercept : bool
        Evaluate it on the centred data (as :func:`bayesian_ridge` does) or on the raw data.

    Returns
    -------
    float
    """
    X, y = check_Xy(X, y)
    alpha, lam_w = _check_precisions(noise_precision, weight_precision)
    Xc, yc, _, _ = _centre(X, y, check_bool(fit_intercept, "fit_intercept"))
    return _SVD(Xc, yc).log_evidence(alpha, lam_w)
