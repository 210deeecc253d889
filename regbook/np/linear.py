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
scikit-learn's coordinate descent; see :func:`lasso`.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg.lapack

from regbook._threads import one_blas_thread
from regbook._validate import check_array, check_float, check_int
from regbook.np.penalties import soft_threshold

__all__ = ["ridge", "lasso", "elastic_net", "lasso_path", "lasso_objective", "duality_gap"]


# --- validation and centring -----------------------------------------------------------------

def _check_Xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = check_array(X, "X", ndim=2)
    y = check_array(y, "y", ndim=1)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got {X.shape[0]} and "
                         f"{y.shape[0]}")
    return X, y


def _check_fit_intercept(fit_intercept) -> bool:
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be a bool, got {type(fit_intercept).__name__}")
    return bool(fit_intercept)


def _centre(X: np.ndarray, y: np.ndarray, fit_intercept: bool):
    if not fit_intercept:
        return X, y, np.zeros(X.shape[1]), 0.0
    x_mean, y_mean = X.mean(axis=0), float(y.mean())
    return X - x_mean, y - y_mean, x_mean, y_mean


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
    X, y = _check_Xy(X, y)
    lam = check_float(lam, "lam", minimum=0.0)
    fit_intercept = _check_fit_intercept(fit_intercept)
    Xc, yc, x_mean, y_mean = _centre(X, y, fit_intercept)
    coef = _ridge_centred(Xc, yc, lam)
    return coef, y_mean - float(x_mean @ coef)


# --- objective and duality gap ---------------------------------------------------------------

def lasso_objective(X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float,
                    lam1: float, lam2: float = 0.0) -> float:
    r"""The book's elastic-net objective :math:`F(w, b)` (the lasso for :math:`\lambda_2 = 0`).

    .. math:: F(w, b) = \frac{1}{2n}\lVert y - Xw - b\rVert^2 + \lambda_1\lVert w\rVert_1
              + \frac{\lambda_2}{2}\lVert w\rVert^2
    """
    X, y = _check_Xy(X, y)
    coef = check_array(coef, "coef", ndim=1)
    if coef.shape[0] != X.shape[1]:
        raise ValueError(f"coef must have {X.shape[1]} entries, got {coef.shape[0]}")
    intercept = check_float(intercept, "intercept")
    lam1 = check_float(lam1, "lam1", minimum=0.0)
    lam2 = check_float(lam2, "lam2", minimum=0.0)
    r = y - X @ coef - intercept
    return float(r @ r / (2 * len(y)) + lam1 * np.abs(coef).sum() + 0.5 * lam2 * coef @ coef)


def _gap(n: int, w, Xtr, rr: float, ry: float, lam1: float, lam2: float) -> float:
    # scikit-learn's duality gap (enet_coordinate_descent), divided by n to the book's scale,
    # from Xtr = X^T r, rr = r.r and ry = r.y with r = y - X w on the centred data.
    alpha, beta = lam1 * n, lam2 * n
    xta = Xtr - beta * w if beta else Xtr
    dual_norm = float(np.max(np.abs(xta))) if xta.size else 0.0
    if dual_norm > alpha:
        const = alpha / dual_norm
        gap = 0.5 * rr * (1.0 + const * const)
    else:
        const = 1.0
        gap = rr
    gap += alpha * float(np.abs(w).sum()) - const * ry
    gap += 0.5 * beta * (1.0 + const * const) * float(w @ w)
    return gap / n


def duality_gap(X: np.ndarray, y: np.ndarray, coef: np.ndarray, lam1: float, lam2: float = 0.0,
                *, fit_intercept: bool = True) -> float:
    r"""The duality gap of ``coef`` for the book's elastic-net objective (0 at the optimum).

    With :math:`r = y_c - X_c w`, the dual point :math:`\theta = r\,\min(1, n\lambda_1 /
    \lVert X_c^\top r - n\lambda_2 w\rVert_\infty)` (scikit-learn's choice) gives
    :math:`F(w) - D(\theta) \ge F(w) - F(w^\star) \ge 0`, a certificate of accuracy.
    """
    X, y = _check_Xy(X, y)
    coef = check_array(coef, "coef", ndim=1)
    if coef.shape[0] != X.shape[1]:
        raise ValueError(f"coef must have {X.shape[1]} entries, got {coef.shape[0]}")
    lam1 = check_float(lam1, "lam1", minimum=0.0)
    lam2 = check_float(lam2, "lam2", minimum=0.0)
    Xc, yc, _, _ = _centre(X, y, _check_fit_intercept(fit_intercept))
    r = yc - Xc @ coef
    return _gap(len(yc), coef, Xc.T @ r, float(r @ r), float(r @ yc), lam1, lam2)


# --- the exact subproblem solver -------------------------------------------------------------

def _quad_objective(G, q, lam, points):
    # 0.5 x^T G x - q^T x + lam ||x||_1 for each row x of `points`.
    return 0.5 * np.einsum("ij,ij->i", points @ G, points) - points @ q \
        + lam * np.abs(points).sum(axis=1)


def _newton_target(G, rhs, x, theta):
    r"""Where to walk to minimise :math:`\tfrac12 x^\top G x - r^\top x` from ``x``.

    Cholesky when :math:`G` is positive definite. When it is singular (more active features
    than the rank of the data, e.g. :math:`n < p` with a small :math:`\lambda`), the quadratic
    either has a minimiser (the pseudo-inverse Newton step) or decreases without bound along
    the null-space part :math:`d` of :math:`r`; then walk along :math:`d` far enough that a
    coefficient crosses zero, where the line search stops. ``None`` when no non-zero
    coefficient would cross (the caller then takes coordinate steps instead).
    """
    _, solution, info = scipy.linalg.lapack.dposv(G, rhs)     # Cholesky solve
    if info == 0 and np.all(np.isfinite(solution)):
        return solution
    evals, evecs = np.linalg.eigh(G)
    null = evals <= 1e-10 * max(evals[-1], 1e-300)
    coords = evecs.T @ (rhs - G @ x)
    step = evecs[:, ~null] @ (coords[~null] / evals[~null])
    d = evecs[:, null] @ coords[null]
    if np.abs(d).max(initial=0.0) <= 1e-12 * (np.abs(rhs).max() + 1e-300):
        return x + step
    shrinking = (d * theta < 0) & (x != 0)          # non-zero coefficients heading for 0
    if not shrinking.any():
        return None                                 # no safe stop on this ray
    reach = np.max(np.abs(x[shrinking] / d[shrinking]))
    return x + step + 2.0 * reach * d


def _coordinate_step(G, q, lam, x, g, i):
    # Exact minimisation over coordinate i; keeps g = G x - q up to date.
    new = soft_threshold(np.array([x[i] - g[i] / G[i, i]]), lam / G[i, i])[0]
    delta = new - x[i]
    if delta != 0.0:
        x[i] = new
        g += delta * G[:, i]


def _feature_sign(G: np.ndarray, q: np.ndarray, lam: float, x: np.ndarray,
                  max_steps: int) -> tuple[np.ndarray, bool]:
    r"""Minimise :math:`\tfrac12 x^\top G x - q^\top x + \lambda\lVert x\rVert_1` exactly.

    Feature-sign search: guess the signs :math:`\theta` of the non-zero coefficients, solve the
    resulting linear system :math:`G_{AA}x_A = q_A - \lambda\theta_A` in closed form, and walk
    towards its solution only as far as the objective keeps decreasing (a sign change ends the
    walk, with the coefficients that crossed set to 0); once the signs are consistent,
    activate every zero coefficient that violates the optimality condition
    :math:`|g_i| \le \lambda`, with the sign that lowers the objective. Every step strictly
    lowers the objective (an exact coordinate step is the fallback), so the sign patterns
    never repeat and the search ends at the exact minimiser. Returns ``(x, converged)``.
    """
    x = x.copy()
    g = G @ x - q
    activate = not x.any()          # a warm start first re-solves on its own signs
    for _ in range(max_steps):
        activate = activate or not x.any()
        if activate:
            new = np.flatnonzero((x == 0.0) & (np.abs(g) > lam))
            if new.size == 0:
                return x, True
            theta = np.sign(x)
            theta[new] = -np.sign(g[new])
        else:
            theta = np.sign(x)
        active = np.flatnonzero(theta)
        xa, ta, G_aa, q_a = x[active], theta[active], G[np.ix_(active, active)], q[active]
        target = _newton_target(G_aa, q_a - lam * ta, xa, ta)
        if target is None:
            for j in range(len(x)):                 # one sweep of exact coordinate steps
                _coordinate_step(G, q, lam, x, g, j)
            activate = False
            continue
        flipped = np.sign(target) != ta
        if not flipped.any():
            x[active] = target
            g = G @ x - q
            activate = True
            continue
        # Walk from xa to target. Candidate stops: every sign change and the target itself,
        # each with the coefficients that have crossed zero by then set to exactly 0 (the
        # first stop is the classic feature-sign point; later ones drop several at once).
        d = target - xa
        with np.errstate(divide="ignore", invalid="ignore"):
            t_cross = np.where(flipped, xa / (xa - target), np.inf)
        stops = np.unique(np.concatenate([t_cross[(t_cross > 0) & (t_cross < 1)], [1.0]]))
        points = xa + stops[:, None] * d
        points[t_cross[None, :] <= stops[:, None]] = 0.0
        values = _quad_objective(G_aa, q_a, lam, points)
        current = _quad_objective(G_aa, q_a, lam, xa[None, :])[0]
        best = int(np.argmin(values))
        if values[best] < current:
            x[active] = points[best]
            g = G @ x - q
            activate = False
        else:
            # No progress along the segment (a just-activated coefficient wants the other
            # sign, or G_AA is singular): take one exact coordinate step on the worst
            # violator of the optimality conditions, which strictly lowers the objective.
            viol = np.where(x == 0.0, np.abs(g) - lam, np.abs(g + lam * np.sign(x)))
            _coordinate_step(G, q, lam, x, g, int(np.argmax(viol)))
            activate = False
    return x, False


class _WorkingSet:
    r"""What the working-set loop reuses: :math:`X^\top y`, and Gram matrices :math:`X^\top X/n`.

    With :math:`n \ge p` the whole :math:`p \times p` Gram matrix is computed once, and the
    correlations :math:`X^\top r = X^\top y - X^\top X w` cost :math:`O(p\,|w|_0)` instead of
    a pass over :math:`X` (scikit-learn's ``precompute``). With :math:`n < p` only the rows and
    columns of the working set are computed, as features join it. One object serves a whole
    lasso path, so the working set and its Gram matrix carry over from one :math:`\lambda` to
    the next.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray):
        self.X, self.y, self.n = X, y, X.shape[0]
        self.Xty, self.yy = X.T @ y, float(y @ y)
        self.full = X.T @ X / self.n if self.n >= X.shape[1] else None
        self.work = np.empty(0, dtype=np.intp)
        self.G = np.empty((0, 0))                     # X_work^T X_work / n

    def correlations(self, w: np.ndarray, support: np.ndarray):
        """``(X^T r, r.r, r.y)`` for the residual ``r = y - X w`` (``w`` zero off ``support``)."""
        ws = w[support]
        if self.full is not None:
            Xtr = self.Xty - self.n * (self.full[:, support] @ ws)
            ry = self.yy - float(ws @ self.Xty[support])
            return Xtr, ry - float(ws @ Xtr[support]), ry
        r = self.y - self.X[:, support] @ ws if support.size else self.y
        return self.X.T @ r, float(r @ r), float(r @ self.y)

    def grow(self, features: np.ndarray) -> None:
        """Add ``features`` (not yet in the working set) and extend its Gram matrix."""
        if self.full is not None:
            self.work = np.concatenate([self.work, features])
            self.G = self.full[np.ix_(self.work, self.work)]
            return
        X_new = self.X[:, features]
        cross = self.X[:, self.work].T @ X_new / self.n
        self.G = np.block([[self.G, cross], [cross.T, X_new.T @ X_new / self.n]])
        self.work = np.concatenate([self.work, features])


def _enet_centred(X, y, lam1, lam2, w0, tol, max_iter, state=None):
    r"""Working-set loop around :func:`_feature_sign` on centred data: ``(w, gap, n_iter)``.

    Each pass computes :math:`X^\top r` once, checks the duality gap, adds the worst violators
    of :math:`|x_j^\top r|/n \le \lambda_1` (at most as many as the current support, at least
    10) to the working set and solves the problem restricted to it exactly. The working set
    only grows, so its Gram matrix is extended rather than recomputed; ``state`` (a
    :class:`_WorkingSet`) carries it along a path.
    """
    n, p = X.shape
    state = _WorkingSet(X, y) if state is None else state
    w = np.zeros(p) if w0 is None else w0.copy()
    tol_abs = tol * state.yy / n
    gap, solved = np.inf, False
    for it in range(1, max_iter + 1):
        support = np.flatnonzero(w)
        Xtr, rr, ry = state.correlations(w, support)
        gap = _gap(n, w, Xtr, rr, ry, lam1, lam2)
        if gap <= tol_abs:
            return w, gap, it - 1
        # Optimality of a zero coefficient: |x_j^T r / n| <= lam1.
        score = np.abs(Xtr) / n - lam1
        score[support] = -np.inf
        violators = np.flatnonzero(score > 0)
        if violators.size == 0 and solved:
            return w, gap, it - 1              # KKT hold to machine precision
        n_add = max(10, support.size)
        if violators.size > n_add:
            violators = violators[np.argpartition(-score[violators], n_add)[:n_add]]
        new = np.setdiff1d(np.union1d(support, violators), state.work, assume_unique=True)
        if new.size:
            state.grow(new)
        work, G = state.work, state.G
        if lam2:
            G = G + lam2 * np.eye(len(work))
        w[work], solved = _feature_sign(G, state.Xty[work] / n, lam1, w[work],
                                        max_steps=10 * work.size + 100)
    warnings.warn(f"lasso did not converge in max_iter={max_iter} working-set iterations "
                  f"(duality gap {gap:.3g} > {tol_abs:.3g})", RuntimeWarning, stacklevel=3)
    return w, gap, max_iter


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
    X, y = _check_Xy(X, y)
    lam1 = check_float(lam1, "lam1", minimum=0.0)
    lam2 = check_float(lam2, "lam2", minimum=0.0)
    fit_intercept = _check_fit_intercept(fit_intercept)
    tol = check_float(tol, "tol", minimum=0.0)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    Xc, yc, x_mean, y_mean = _centre(X, y, fit_intercept)
    if lam1 == 0.0:
        coef = _ridge_centred(Xc, yc, lam2)
    else:
        with one_blas_thread():
            coef = _enet_centred(Xc, yc, lam1, lam2, None, tol, max_iter)[0]
    return coef, y_mean - float(x_mean @ coef)


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
    zeros and the non-zeros exact up to rounding.

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
    return elastic_net(X, y, lam, 0.0, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter)


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
    X, y = _check_Xy(X, y)
    lams = check_array(lams, "lams", ndim=1)
    if np.any(lams < 0):
        raise ValueError("lams must be >= 0")
    fit_intercept = _check_fit_intercept(fit_intercept)
    tol = check_float(tol, "tol", minimum=0.0)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    Xc, yc, x_mean, y_mean = _centre(X, y, fit_intercept)
    coefs = np.zeros((len(lams), X.shape[1]))
    w, state = None, _WorkingSet(Xc, yc)          # shared by every lam, largest first
    with one_blas_thread():
        for i in np.argsort(-lams, kind="stable"):
            if lams[i] == 0.0:
                w = _ridge_centred(Xc, yc, 0.0)
            else:
                w = _enet_centred(Xc, yc, float(lams[i]), 0.0, w, tol, max_iter, state)[0]
            coefs[i] = w
    return coefs, y_mean - coefs @ x_mean
