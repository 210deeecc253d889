r"""The lasso's active-set machinery, behind :func:`regbook.np.lasso` (private).

:func:`regbook.np.lasso`, :func:`regbook.np.elastic_net` and :func:`regbook.np.lasso_path`
minimise, on centred data,

.. math:: \frac{1}{2n}\lVert y - Xw\rVert^2 + \lambda_1\lVert w\rVert_1
          + \frac{\lambda_2}{2}\lVert w\rVert_2^2

with the pieces below, in the order a reader meets them:

- :func:`_gap` -- scikit-learn's duality gap, the stopping rule;
- :class:`_CholeskyFactor` -- the Cholesky factor of the active block of the Gram matrix,
  updated as features enter and leave instead of recomputed;
- :func:`_feature_sign` -- the exact solver of the problem restricted to a working set (the
  feature-sign search of Lee, Battle, Raina & Ng, 2007), with its helpers
  :func:`_walk_values`, :func:`_newton_target`, :func:`_sign_solution` and
  :func:`_coordinate_step`;
- :class:`_WorkingSet` -- the Gram matrices, correlations and factor the outer loop reuses;
- :func:`_enet_centred` -- the outer working-set loop.

Every argument here has been validated by the public function that called it. SciPy (for
LAPACK's Cholesky, triangular and QR routines) is loaded on the first solve, not on import.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from regbook.np.penalties import soft_threshold


# --- the duality gap -------------------------------------------------------------------------

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


# --- the Cholesky factor of the active block -------------------------------------------------

@functools.cache
def _lapack():
    """SciPy's LAPACK, imported on first use: ``import regbook.np`` stays light (SciPy takes
    ~200 ms to import). The solvers call this before limiting BLAS to one thread, so that the
    limit covers SciPy's own OpenBLAS too (``regbook._threads``)."""
    from scipy.linalg import lapack

    return lapack


_UPDATE_FROM = 32      # smaller active blocks are factorised afresh: cheaper than updating
_PIVOT_RTOL = 1e-10    # enters if (distance to the span of the others / length)^2 > this
_ACTIVATE_MIN = 32     # an activation round adds at most max(32, k / 4) violators, worst first


def _block(G: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    # G[np.ix_(rows, cols)] by two gathers, the shorter index first: faster. (Not np.take:
    # on a view of a larger buffer, as _WorkingSet's G is, it was much slower, copying G.)
    if len(rows) <= len(cols):
        return G[rows][:, cols]
    return G[:, cols][rows]


class _CholeskyFactor:
    r"""An upper-triangular :math:`R` with :math:`R^\top R = G_{AA}`, updated as :math:`A` changes.

    ``order`` lists the features of :math:`A` (indices into :math:`G`) in the order of the rows
    of :math:`R`. A feature-sign step adds or removes a few features, so rather than factorise
    :math:`G_{AA}` afresh (:math:`O(k^3)` for :math:`k` features) the factor is updated:

    - **append** features :math:`N`: with :math:`R_{12} = R^{-\top} G_{AN}` (a triangular
      solve), the factor of the bordered block is
      :math:`\begin{pmatrix} R & R_{12} \\ 0 & R_{22}\end{pmatrix}` with
      :math:`R_{22}^\top R_{22} = G_{NN} - R_{12}^\top R_{12}`, the Schur complement:
      :math:`O(k^2|N| + |N|^3)` (for one feature, one triangular solve and a square root);
    - **remove** features: the rows and columns before the first removed one do not change;
      the block after it is triangularised again by a QR decomposition that only involves the
      removed rows: :math:`O(|\text{removed}|\,t^2)` for the :math:`t` features after it;
    - **solve** :math:`G_{AA}x = b` by two triangular solves, :math:`O(k^2)`;
    - **refactor** afresh (:math:`O(k^3)`, no pivoting), cheaper than updating when most of
      :math:`A` changes at once (the PDAS predictor of :mod:`regbook.np._lasso_warm_start`).

    The Schur complement is factorised with pivoting (LAPACK's ``dpstrf``), each feature on the
    scale of its own :math:`G_{jj}`: a feature whose column's squared distance to the span of
    the factor's columns is at most :data:`_PIVOT_RTOL` times its squared length would make
    :math:`G_{AA}` singular or ill-conditioned, and is refused (:meth:`append` returns the
    features it accepted). Removing features only moves the others further from the span of
    the rest, so every pivot stays that far from zero.
    """

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        """Forget every feature (the next :meth:`append` factorises afresh)."""
        self.order = np.empty(0, dtype=np.intp)
        self.R = np.empty((0, 0), order="F")

    def refactor(self, G: np.ndarray, features: np.ndarray) -> bool:
        """Factorise ``G[features, features]`` afresh (no pivoting); False if not positive
        definite (the factor is then cleared). Cheaper than updating when most rows change."""
        block = _block(G, features, features)
        lengths = np.diag(block).copy()
        # (block.T is block, F-ordered: LAPACK factorises it in place, without a copy)
        R, info = _lapack().dpotrf(block.T, overwrite_a=1)
        # As in append: each pivot R_jj^2 is the squared distance of feature j to the span
        # of the ones before it; refuse the block if one is at most _PIVOT_RTOL G_jj.
        if info != 0 or np.any(np.square(np.diag(R)) <= _PIVOT_RTOL * lengths):
            self.clear()
            return False
        self.R, self.order = R, features.copy()
        return True

    def append(self, G: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Append those of ``features`` that keep the block well-conditioned; return them."""
        lapack = _lapack()      # (LAPACK directly: scipy.linalg's wrappers cost more here)
        k = len(self.order)
        cross = _block(G, self.order, features)
        R12 = lapack.dtrtrs(self.R, cross, trans=1)[0] if k else cross     # R^-T G_AN
        schur = _block(G, features, features) - R12.T @ R12
        scale = np.sqrt(np.maximum(G[features, features], 1e-300))
        c, piv, rank, _ = lapack.dpstrf(schur / np.outer(scale, scale), tol=_PIVOT_RTOL)
        keep = piv[:rank] - 1                             # LAPACK's pivots count from 1
        R = np.empty((k + rank, k + rank), order="F")
        R[:k, :k], R[k:, :k] = self.R, 0.0
        R[:k, k:] = R12[:, keep]
        R[k:, k:] = np.triu(c[:rank, :rank]) * scale[keep]
        self.R, self.order = R, np.concatenate([self.order, features[keep]])
        return features[keep]

    def remove(self, features: np.ndarray) -> None:
        """Remove ``features`` (all of them in ``order``)."""
        gone = np.isin(self.order, features)
        first, kept = int(np.argmax(gone)), np.flatnonzero(~gone)
        tail, k = kept[first:], kept.size         # the kept features after the first removed
        # The tail's columns lose their entries in the removed rows V, so its new block S must
        # satisfy S^T S = T^T T + V^T V, T the (triangular) tail rows: S is the R of the QR
        # of [T; V], which LAPACK's dtpqrt computes for a triangle on top of a rectangle.
        R = np.empty((k, k), order="F")
        R[:, :first] = self.R[:k, :first]
        R[:first, first:] = self.R[:first, tail]
        if tail.size:
            # Rt: the tail's columns of R from row `first` on, as rows of R^T (contiguous)
            Rt = self.R.T[tail, first:]
            T, V = Rt[:, tail - first].T, Rt[:, np.flatnonzero(gone) - first].T
            R[first:, first:] = _lapack().dtpqrt(0, min(32, tail.size), T, V,
                                                 overwrite_a=1, overwrite_b=1)[0]
        self.R, self.order = R, self.order[kept]

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        r""":math:`G_{AA}^{-1}` ``rhs``, ``rhs`` in the order of ``order``:
        :math:`R^{-1}(R^{-\top}b)` (LAPACK's ``dpotrs``)."""
        return _lapack().dpotrs(self.R, rhs)[0]


# --- the exact subproblem solver -------------------------------------------------------------

def _walk_values(q, lam, xa, d, t_cross, stops, points, *, G=None, R=None):
    r"""The objective :math:`f(x) = \tfrac12 x^\top G x - q^\top x + \lambda\lVert x\rVert_1`
    at ``xa`` and at each stop of the walk, from :math:`G` or from its Cholesky factor :math:`R`.

    Stop :math:`s` is ``points[s]`` :math:`= z_s - e_s`: the point :math:`z_s = x_a + t_s d` of
    the segment less :math:`e_s`, its coordinates that have crossed zero by then (``t_cross``
    :math:`\le t_s`, the set :math:`Z`). With the factor, :math:`x^\top G x = \lVert Rx\rVert^2`
    and

    .. math:: R p_s = R x_a + t_s\,R d - R_{:,Z}\,(e_s)_Z ,

    two products with :math:`R` and one with its :math:`|Z|` crossing columns:
    :math:`O(k^2 + s\,k|Z|)` for :math:`s` stops instead of :math:`O(s\,k^2)`. With
    :math:`G` (a small block), each point's own quadratic form.
    """
    if R is None:
        P = np.vstack([xa, points])
        return 0.5 * np.einsum("ij,ij->i", P @ G, P) - P @ q + lam * np.abs(P).sum(axis=1)
    Ra, Rd = R @ xa, R @ d
    crossing = np.flatnonzero(t_cross <= 1.0)
    E = np.where(t_cross[crossing] <= stops[:, None],
                 xa[crossing] + stops[:, None] * d[crossing], 0.0)      # row s: (e_s)_Z
    Rp = Ra + stops[:, None] * Rd - E @ R[:, crossing].T
    quad = np.concatenate([[Ra @ Ra], np.square(Rp).sum(axis=1)])
    P = np.vstack([xa, points])
    return 0.5 * quad - P @ q + lam * np.abs(P).sum(axis=1)


def _newton_target(G, rhs, x, theta):
    r"""Where to walk to minimise :math:`\tfrac12 x^\top G x - r^\top x` from ``x``.

    Cholesky when :math:`G` is positive definite. When it is singular (more active features
    than the rank of the data, e.g. :math:`n < p` with a small :math:`\lambda`), the quadratic
    either has a minimiser (the pseudo-inverse Newton step) or decreases without bound along
    the null-space part :math:`d` of :math:`r`; then walk along :math:`d` far enough that a
    coefficient crosses zero, where the line search stops. ``None`` when no non-zero
    coefficient would cross (the caller then takes coordinate steps instead).
    """
    _, solution, info = _lapack().dposv(G, rhs)      # a fresh Cholesky solve
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


def _update_factor(G, factor: _CholeskyFactor, theta, new) -> bool:
    # Bring `factor` to the features with theta != 0: remove those that left, append those
    # that entered. Just-activated features (`new`) that it refuses, as dependent on the
    # others, wait for a later round (theta back to 0) if it accepted one of them. True when
    # the factor now holds exactly the features with theta != 0.
    leaving = theta[factor.order] == 0
    if leaving.any():
        factor.remove(factor.order[leaving])
    entering = theta != 0
    entering[factor.order] = False
    if not entering.any():
        return True
    entering = np.flatnonzero(entering)
    refused = np.setdiff1d(entering, factor.append(G, entering), assume_unique=True)
    if refused.size == 0:
        return True
    if new is None or refused.size == new.size or not np.isin(refused, new).all():
        return False
    theta[refused] = 0.0
    return True


def _sign_solution(G, q, lam, x, theta, factor, new):
    # Solve G_AA x_A = q_A - lam theta_A, A = {theta != 0}: (A, in the order solved; the
    # solution, or None; G_AA or its factor R, for _walk_values). With the updated factor
    # when it holds A; else (a small block, a singular or ill-conditioned one, or a
    # non-finite solution) with _newton_target: a fresh Cholesky, then eigenvalues.
    if np.count_nonzero(theta) >= _UPDATE_FROM and _update_factor(G, factor, theta, new):
        active = factor.order
        target = factor.solve(q[active] - lam * theta[active])
        if np.all(np.isfinite(target)):
            return active, target, {"R": factor.R}
        factor.clear()                                  # start afresh next time
    active = np.flatnonzero(theta)
    G_aa = G[np.ix_(active, active)]
    target = _newton_target(G_aa, q[active] - lam * theta[active], x[active], theta[active])
    return active, target, {"G": G_aa}


def _coordinate_step(G, q, lam, x, g, i):
    # Exact minimisation over coordinate i; keeps g = G x - q up to date.
    new = soft_threshold(np.array([x[i] - g[i] / G[i, i]]), lam / G[i, i])[0]
    delta = new - x[i]
    if delta != 0.0:
        x[i] = new
        g += delta * G[:, i]


def _feature_sign(G: np.ndarray, q: np.ndarray, lam: float, x: np.ndarray,
                  max_steps: int, factor: _CholeskyFactor | None = None
                  ) -> tuple[np.ndarray, bool]:
    r"""Minimise :math:`\tfrac12 x^\top G x - q^\top x + \lambda\lVert x\rVert_1` exactly.

    Feature-sign search: guess the signs :math:`\theta` of the non-zero coefficients, solve the
    resulting linear system :math:`G_{AA}x_A = q_A - \lambda\theta_A` in closed form, and walk
    towards its solution only as far as the objective keeps decreasing (a sign change ends the
    walk, with the coefficients that crossed set to 0); once the signs are consistent,
    activate the zero coefficients that violate the optimality condition
    :math:`|g_i| \le \lambda` (the worst :math:`\max(32, k/4)` of them for :math:`k` non-zeros:
    fewer of them leave again at the next sign change), with the sign that lowers the
    objective. Every step strictly lowers the objective (an exact coordinate step is the
    fallback), so the sign patterns never repeat and the search ends at the exact minimiser.
    Returns ``(x, converged)``.

    The linear systems are solved with ``factor``, a :class:`_CholeskyFactor` of
    :math:`G_{AA}` updated from one step to the next (and from one call to the next, when the
    caller keeps it), at :math:`O(k^2)` per feature that enters or leaves instead of
    :math:`O(k^3)` per step. Activated features whose columns (numerically) depend on the
    active ones wait for a later round, so that :math:`G_{AA}` stays positive definite; when
    nothing else is left to activate, they enter with the rest and the singular block goes to
    :func:`_newton_target`.
    """
    factor = _CholeskyFactor() if factor is None else factor
    x = x.copy()
    g = G @ x - q                   # the gradient of the smooth part; None when stale
    activate = not x.any()          # a warm start first re-solves on its own signs
    for _ in range(max_steps):
        activate = activate or not x.any()
        theta, new = np.sign(x), None
        if activate:
            g = G @ x - q if g is None else g
            new = np.flatnonzero((x == 0.0) & (np.abs(g) > lam))
            if new.size == 0:
                return x, True
            most = max(_ACTIVATE_MIN, np.count_nonzero(x) // 4)
            if new.size > most:                     # the worst violators, largest |g_i|
                new = new[np.argpartition(-np.abs(g[new]), most)[:most]]
            theta[new] = -np.sign(g[new])
        active, target, quad = _sign_solution(G, q, lam, x, theta, factor, new)
        xa, ta, q_a = x[active], theta[active], q[active]
        if target is None:
            g = G @ x - q if g is None else g
            for j in range(len(x)):                 # one sweep of exact coordinate steps
                _coordinate_step(G, q, lam, x, g, j)
            activate = False
            continue
        flipped = np.sign(target) != ta
        if not flipped.any():
            x[active], g = target, None
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
        values = _walk_values(q_a, lam, xa, d, t_cross, stops, points, **quad)
        best = int(np.argmin(values[1:]))
        if values[1 + best] < values[0]:
            x[active], g = points[best], None
            activate = False
        else:
            # No progress along the segment (a just-activated coefficient wants the other
            # sign, or G_AA is singular): take one exact coordinate step on the worst
            # violator of the optimality conditions, which strictly lowers the objective.
            g = G @ x - q if g is None else g
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
    lasso path, so the working set, its Gram matrix and the Cholesky factor of the active block
    (:meth:`factor`) carry over from one :math:`\lambda` to the next.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray):
        self.X, self.y, self.n = X, y, X.shape[0]
        self.Xty, self.yy = X.T @ y, float(y @ y)
        self.full = X.T @ X / self.n if self.n >= X.shape[1] else None
        self.work = np.empty(0, dtype=np.intp)
        self.G = np.empty((0, 0))                     # X_work^T X_work / n
        # With n < p: the working set's columns of X, and G, in buffers with room to grow,
        # so that growing copies neither (self.G is then a view of the top-left block).
        self._X_buf, self._G_buf = np.empty((self.n, 0), order="F"), np.empty((0, 0))
        self._factor, self._factor_lam2 = _CholeskyFactor(), 0.0

    def factor(self, lam2: float) -> _CholeskyFactor:
        """The factor of an active block of ``G + lam2 I`` (kept while ``lam2`` is the same).

        Its rows index the working set, whose features keep their positions as it grows.
        """
        if lam2 != self._factor_lam2:
            self._factor, self._factor_lam2 = _CholeskyFactor(), lam2
        return self._factor

    def correlations(self, w: np.ndarray, support: np.ndarray):
        """``(X^T r, r.r, r.y)`` for the residual ``r = y - X w`` (``w`` zero off ``support``)."""
        ws = w[support]
        if self.full is not None:
            Xtr = self.Xty - self.n * (self.full[:, support] @ ws)
            ry = self.yy - float(ws @ self.Xty[support])
            return Xtr, ry - float(ws @ Xtr[support]), ry
        k = len(self.work)
        if 4 * support.size > len(w) and np.count_nonzero(w[self.work]) == support.size:
            r = self.y - self._X_buf[:, :k] @ w[self.work]  # (the working set's columns only)
        elif 4 * support.size > len(w):                 # (a dense product reads X once)
            r = self.y - self.X @ w
        else:
            r = self.y - self.X[:, support] @ ws if support.size else self.y
        return self.X.T @ r, float(r @ r), float(r @ self.y)

    def grow(self, features: np.ndarray) -> None:
        """Add ``features`` (not yet in the working set) and extend its Gram matrix."""
        if self.full is not None:
            self.work = np.concatenate([self.work, features])
            self.G = self.full[np.ix_(self.work, self.work)]
            return
        k, m = len(self.work), len(features)
        if k + m > self._G_buf.shape[0]:                # double the room
            room = min(max(2 * (k + m), 64), self.X.shape[1])
            X_buf, G_buf = np.empty((self.n, room), order="F"), np.empty((room, room))
            X_buf[:, :k], G_buf[:k, :k] = self._X_buf[:, :k], self.G
            self._X_buf, self._G_buf = X_buf, G_buf
        X_new = self._X_buf[:, k:k + m]
        X_new.T[...] = self.X.T[features]       # (rows of X^T into rows of X_new^T: faster)
        cross = self._X_buf[:, :k + m].T @ X_new                  # the new columns of G, * n
        cross /= self.n
        G = self._G_buf
        G[:k + m, k:k + m], G[k:k + m, :k] = cross, cross[:k].T
        self.G, self.work = G[:k + m, :k + m], np.concatenate([self.work, features])


def _enet_centred(X, y, lam1, lam2, w0, tol, max_iter, state=None, *, stacklevel=2):
    r"""Working-set loop around :func:`_feature_sign` on centred data: ``(w, gap, n_iter)``.

    Each pass computes :math:`X^\top r` once, checks the duality gap, adds the worst violators
    of :math:`|x_j^\top r|/n \le \lambda_1` (at most as many as the current support, at least
    10) to the working set and solves the problem restricted to it exactly. The working set
    only grows, so its Gram matrix is extended rather than recomputed, and the Cholesky factor
    of the active block carries over; ``state`` (a :class:`_WorkingSet`) carries both along a
    path. Running out of ``max_iter`` is a
    ``RuntimeWarning`` raised ``stacklevel`` frames up (the reader's call of the public solver).
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
                                        max_steps=10 * work.size + 100,
                                        factor=state.factor(lam2))
    warnings.warn(f"lasso did not converge in max_iter={max_iter} working-set iterations "
                  f"(duality gap {gap:.3g} > {tol_abs:.3g})", RuntimeWarning,
                  stacklevel=stacklevel)
    return w, gap, max_iter
