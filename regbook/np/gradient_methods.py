r"""Gradient methods for penalised linear regression that record their whole path.

Each fitter minimises the book's objective

.. math:: F(w, b) = \frac{1}{2n}\lVert Xw + b - y\rVert^2 + \lambda_1\lVert w\rVert_1
          + \frac{\lambda_2}{2}\lVert w\rVert^2

by iterating on :math:`(w, b)` from :math:`(w_0, 0)`; the intercept :math:`b` takes plain
gradient steps (it is never penalised). They differ in how they treat the L1 term:

- :func:`gradient_descent`: no L1 term (:math:`\lambda_1 = 0`), plain gradient steps;
- :func:`subgradient_descent`: steps along the subgradient :math:`\lambda_1\operatorname{sign}(w)`;
- :func:`ista`: proximal gradient steps, a gradient step on the smooth part followed by
  soft-thresholding; :func:`fista` adds Nesterov momentum (Beck & Teboulle, 2009).

Every fitter returns a :class:`regbook.history.FitPath` (also ``regbook.np.FitPath``) with the
weights and the objective after every step, for plots. The default step size is :math:`1/L`,
with :math:`L` the Lipschitz constant of the gradient of the smooth part.
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_bool, check_float, check_int, check_Xy
from regbook.history import FitPath
from regbook.np.penalties import soft_threshold
from regbook.objectives import _lasso_objective

__all__ = ["gradient_descent", "subgradient_descent", "ista", "fista", "lipschitz_constant"]


def _lipschitz(X: np.ndarray, lam2: float, fit_intercept: bool) -> float:
    design = np.column_stack([X, np.ones(len(X))]) if fit_intercept else X
    return float(np.linalg.norm(design, 2) ** 2 / len(X) + lam2)


def lipschitz_constant(X: np.ndarray, lam2: float = 0.0, *, fit_intercept: bool = True) -> float:
    r"""Lipschitz constant of the gradient of the smooth part of :math:`F`.

    .. math:: L = \frac{\sigma_{\max}([X\ \mathbf 1])^2}{n} + \lambda_2

    (without the column of ones when ``fit_intercept=False``). Gradient steps of size
    :math:`1/L` never increase the objective. :math:`L = 0` only when the smooth part is
    constant (:math:`X = 0`, no intercept, :math:`\lambda_2 = 0`).
    """
    X = check_array(X, "X", ndim=2)
    lam2 = check_float(lam2, "lam2", minimum=0.0)
    return _lipschitz(X, lam2, check_bool(fit_intercept, "fit_intercept"))


def _default_lr(X: np.ndarray, lam2: float, fit_intercept: bool) -> float:
    # The descent lemma allows every step eta <= 1/L. L = 0 (a constant gradient: X = 0 without
    # an intercept and lam2 = 0) allows every eta > 0, and so does an L so small that 1/L
    # overflows: then take eta = 1 (see gradient_descent).
    L = _lipschitz(X, lam2, fit_intercept)
    return 1.0 / L if L > 0.0 and 1.0 / L < np.inf else 1.0


def _setup(X, y, lam1, lam2, lr, n_steps, fit_intercept, w0):
    # Validate once, at the public boundary; lam1 is the caller's ``lam``.
    X, y = check_Xy(X, y)
    lam1 = check_float(lam1, "lam", minimum=0.0)
    lam2 = check_float(lam2, "lam2", minimum=0.0)
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    if lr is None:
        lr = _default_lr(X, lam2, fit_intercept)
    lr = check_float(lr, "lr", minimum=0.0, include_min=False)
    if w0 is None:
        w = np.zeros(X.shape[1])
    else:
        w = check_array(w0, "w0", ndim=1).copy()
        if w.shape[0] != X.shape[1]:
            raise ValueError(f"w0 must have {X.shape[1]} entries (one per column of X), got "
                             f"{w.shape[0]}")
    return X, y, lam1, lam2, lr, n_steps, fit_intercept, w


def _smooth_grad(X, y, w, b, lam2, fit_intercept):
    r = X @ w + b - y
    gb = r.mean() if fit_intercept else 0.0
    return X.T @ r / len(y) + lam2 * w, gb


def _record(X, y, lam1, lam2, lr, ws, bs):
    coefs, intercepts = np.array(ws), np.array(bs)
    losses = np.array([_lasso_objective(X, y, w, b, lam1, lam2)
                       for w, b in zip(coefs, intercepts)])
    return FitPath(coefs=coefs, intercepts=intercepts, losses=losses, lr=lr)


def gradient_descent(X: np.ndarray, y: np.ndarray, *, lam2: float = 0.0, lr: float | None = None,
                     n_steps: int = 100, fit_intercept: bool = True,
                     w0: np.ndarray | None = None) -> FitPath:
    r"""Gradient descent on least squares with an optional L2 penalty.

    .. math:: w \leftarrow w - \eta\Big(\tfrac1n X^\top(Xw + b - y) + \lambda_2 w\Big), \qquad
              b \leftarrow b - \eta\,\tfrac1n \mathbf 1^\top(Xw + b - y)

    With the L2 term this is "weight decay": :math:`w \leftarrow (1 - \eta\lambda_2)w -
    \eta\nabla L(w)`.

    Parameters
    ----------
    X : array_like, shape (n, p)
    y : array_like, shape (n,)
    lam2 : float
        L2 strength :math:`\lambda_2 \ge 0`.
    lr : float, optional
        Step size :math:`\eta > 0`; default :math:`1/L` (:func:`lipschitz_constant`), the
        largest step for which the descent lemma guarantees that :math:`F` never increases.
        :math:`L = 0` happens only for an all-zero :math:`X` fitted without an intercept and
        with :math:`\lambda_2 = 0`: the smooth part is then the constant
        :math:`\lVert y\rVert^2/(2n)`, its gradient :math:`\lambda_2 w = 0` is constant, and
        *every* step size is safe (gradient descent does not move: every :math:`w` is a
        minimiser), so the default is :math:`\eta = 1` rather than a refusal of a well-posed
        problem. The same :math:`\eta = 1 \le 1/L` is used when :math:`L > 0` is so small
        that :math:`1/L` overflows.
    n_steps : int
        Number of steps, >= 1.
    fit_intercept : bool
        Learn :math:`b` (unpenalised) or keep it at 0.
    w0 : array_like, shape (p,), optional
        Starting weights (default zeros).

    Returns
    -------
    regbook.history.FitPath
    """
    X, y, _, lam2, lr, n_steps, fit_intercept, w = _setup(X, y, 0.0, lam2, lr, n_steps,
                                                          fit_intercept, w0)
    b = 0.0
    ws, bs = [w.copy()], [b]
    for _ in range(n_steps):
        gw, gb = _smooth_grad(X, y, w, b, lam2, fit_intercept)
        w, b = w - lr * gw, b - lr * gb
        ws.append(w)
        bs.append(b)
    return _record(X, y, 0.0, lam2, lr, ws, bs)


def subgradient_descent(X: np.ndarray, y: np.ndarray, lam: float, *, lam2: float = 0.0,
                        lr: float | None = None, n_steps: int = 100, decay: bool = False,
                        fit_intercept: bool = True, w0: np.ndarray | None = None) -> FitPath:
    r"""Subgradient descent on the lasso (or elastic-net) objective.

    .. math:: w \leftarrow w - \eta_t\Big(\tfrac1n X^\top(Xw + b - y) + \lambda_2 w
              + \lambda\operatorname{sign}(w)\Big)

    with :math:`\eta_t = \eta` or, with ``decay=True``, :math:`\eta/\sqrt{t + 1}` (the schedule
    under which subgradient descent provably converges). A coefficient lands on exactly 0 only
    by accident, so the iterates are dense: small coefficients jitter around 0 instead.

    Parameters
    ----------
    X, y, lam2, lr, n_steps, fit_intercept, w0
        As in :func:`gradient_descent`.
    lam : float
        L1 strength :math:`\lambda \ge 0`.
    decay : bool
        Shrink the step as :math:`1/\sqrt{t+1}`.

    Returns
    -------
    FitPath
    """
    X, y, lam, lam2, lr, n_steps, fit_intercept, w = _setup(X, y, lam, lam2, lr, n_steps,
                                                            fit_intercept, w0)
    b = 0.0
    ws, bs = [w.copy()], [b]
    for t in range(n_steps):
        eta = lr / np.sqrt(t + 1.0) if decay else lr
        gw, gb = _smooth_grad(X, y, w, b, lam2, fit_intercept)
        w, b = w - eta * (gw + lam * np.sign(w)), b - eta * gb
        ws.append(w)
        bs.append(b)
    return _record(X, y, lam, lam2, lr, ws, bs)


def _proximal(X, y, lam, lam2, lr, n_steps, fit_intercept, w0, accelerated):
    X, y, lam, lam2, lr, n_steps, fit_intercept, w = _setup(X, y, lam, lam2, lr, n_steps,
                                                            fit_intercept, w0)
    b = 0.0
    v, c, s = w.copy(), b, 1.0          # FISTA's extrapolated point and momentum scalar
    ws, bs = [w.copy()], [b]
    for _ in range(n_steps):
        gw, gb = _smooth_grad(X, y, v, c, lam2, fit_intercept)
        w_new = soft_threshold(v - lr * gw, lr * lam)
        b_new = c - lr * gb
        if accelerated:
            s_new = (1.0 + np.sqrt(1.0 + 4.0 * s * s)) / 2.0
            beta = (s - 1.0) / s_new
            v, c, s = w_new + beta * (w_new - w), b_new + beta * (b_new - b), s_new
        else:
            v, c = w_new, b_new
        w, b = w_new, b_new
        ws.append(w)
        bs.append(b)
    return _record(X, y, lam, lam2, lr, ws, bs)


def ista(X: np.ndarray, y: np.ndarray, lam: float, *, lam2: float = 0.0, lr: float | None = None,
         n_steps: int = 100, fit_intercept: bool = True, w0: np.ndarray | None = None) -> FitPath:
    r"""ISTA: proximal gradient descent on the lasso (or elastic-net) objective.

    A gradient step on the smooth part, then the proximal operator of
    :math:`\eta\lambda\lVert\cdot\rVert_1`, soft-thresholding:

    .. math:: w \leftarrow S_{\eta\lambda}\Big(w - \eta\big(\tfrac1n X^\top(Xw + b - y)
              + \lambda_2 w\big)\Big), \qquad S_t(z) = \operatorname{sign}(z)\max(|z| - t, 0).

    Every coefficient whose gradient step lands within :math:`\eta\lambda` of 0 becomes exactly
    0. With :math:`\eta \le 1/L` the objective never increases and converges as :math:`O(1/t)`.

    Parameters
    ----------
    X, y, lam2, lr, n_steps, fit_intercept, w0
        As in :func:`gradient_descent`; ``lam`` is the L1 strength :math:`\lambda \ge 0`, so
        the soft threshold of a step is :math:`\eta\lambda`.

    Returns
    -------
    FitPath
    """
    return _proximal(X, y, lam, lam2, lr, n_steps, fit_intercept, w0, accelerated=False)


def fista(X: np.ndarray, y: np.ndarray, lam: float, *, lam2: float = 0.0,
          lr: float | None = None, n_steps: int = 100, fit_intercept: bool = True,
          w0: np.ndarray | None = None) -> FitPath:
    r"""FISTA: :func:`ista` with Nesterov momentum (Beck & Teboulle, 2009).

    .. math:: w_{t} = S_{\eta\lambda}\big(v_t - \eta\nabla f(v_t)\big), \quad
              s_{t+1} = \tfrac{1 + \sqrt{1 + 4s_t^2}}{2}, \quad
              v_{t+1} = w_t + \tfrac{s_t - 1}{s_{t+1}}(w_t - w_{t-1}),

    with :math:`s_1 = 1`; the objective converges as :math:`O(1/t^2)` (not monotonically).
    """
    return _proximal(X, y, lam, lam2, lr, n_steps, fit_intercept, w0, accelerated=True)
