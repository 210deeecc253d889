r"""A primal-dual active-set predictor, the warm start of the feature-sign search (private).

The feature-sign search (:func:`regbook.np._active_set._feature_sign`) walks to the exact
minimiser of

.. math:: f(x) = \tfrac12 x^\top G x - q^\top x + \lambda\lVert x\rVert_1

one sign pattern at a time: each step is a line search that stops at the first sign changes,
and new features are activated only once the signs are consistent. On a dense solution
(hundreds of non-zeros, close to :math:`n`) that takes tens of steps. The primal-dual
active-set method (PDAS; Ito & Kunisch, 2008: a semismooth Newton method for the fixed point
:math:`x = S_{c\lambda}(x - c\,\nabla)`, here with :math:`c \to \infty`) *predicts* the
support and its signs, and solves on them without a line search:

.. math:: A = \{i : x_i \ne 0,\ \mathrm{sign}(x_i) = \theta_i\} \cup V, \qquad
          \theta_V = -\mathrm{sign}(g_V), \qquad
          G_{AA} x_A = q_A - \lambda\theta_A,\ x_{A^c} = 0,

with :math:`g = Gx - q` and :math:`V` the worst violators of :math:`|g_i| \le \lambda` among
the zeros. The coefficients whose solved sign disagrees with the prediction leave at the next
step. At most :math:`\max(b, k/10)` violators enter at once (:math:`k` non-zeros): adding
all of them, when :math:`p > n`, makes the support overshoot the rank and the iteration
cycle. The budget :math:`b` doubles after each step (from 8, up to 64) and halves when more
than :math:`b/2` signs came out wrong. When the prediction reproduces itself (consistent
signs, no violator) :math:`x` is the exact minimiser. PDAS has no descent guarantee, so it
stops after a few steps without a lower objective and hands over its best sign-consistent
point. Either way the working-set loop (:func:`regbook.np._active_set._enet_centred`) takes
over from its point: it certifies it by the duality gap, or finishes by feature-sign steps.
"""

from __future__ import annotations

import numpy as np

from regbook.np._active_set import _sign_solution, _WorkingSet

_BUDGET_MIN, _BUDGET_MAX = 8, 64       # the budget b of entering violators, doubled / halved
_BUDGET_FRACTION = 10                  # ... or k / 10 for k non-zeros, if more
_PATIENCE = 4                          # steps without a lower objective before giving up
_REFACTOR = 4                          # factorise afresh when over k / 4 features change
_PREDICT_MIN_FEATURES = 32             # fewer features: the loop's first passes see them all


def _pdas_start(state: _WorkingSet, lam1: float, lam2: float, max_steps: int = 40
                ) -> tuple[np.ndarray, bool]:
    r"""A warm start for :func:`regbook.np._active_set._enet_centred`: PDAS steps from 0.

    The problem is the elastic net on the centred data of ``state``,
    :math:`G = X^\top X/n + \lambda_2 I`, :math:`q = X^\top y/n`, :math:`\lambda = \lambda_1`;
    each step takes the gradient :math:`g = -X^\top r/n + \lambda_2 w` of every feature (one
    pass over :math:`X`), adds the predicted support to ``state``'s working set (its Gram
    matrix grows) and solves on it with ``state``'s Cholesky factor, updated as features enter
    and leave or factorised afresh when more than a quarter of them change. For the lasso
    the support approaches :math:`n - 1` (the rank of the centred data) by halves: a step
    adds at most half the room left below it.
    Returns ``(w, exact)``: the exact minimiser and True once the prediction reproduces
    itself; else the sign-consistent iterate of lowest objective (the optimum restricted to
    its support; 0 at worst) and False.
    """
    n, p = state.n, state.X.shape[1]
    factor, rank = state.factor(lam2), n - 1 if lam2 == 0 else p
    w, theta = np.zeros(p), np.zeros(p)
    best, best_w, stalled, budget = np.inf, w, 0, _BUDGET_MIN
    for _ in range(max_steps):
        support = np.flatnonzero(w)
        # X^T r and r.r for r = y - X w (no pass over X at w = 0)
        Xtr, rr = state.correlations(w, support)[:2] if support.size else (state.Xty, state.yy)
        value = rr / (2 * n) + lam1 * np.abs(w).sum() + 0.5 * lam2 * (w @ w)   # objective
        g = lam2 * w - Xtr / n
        keep = (w != 0) & (np.sign(w) == theta)
        kept = int(np.count_nonzero(keep))
        if value < best:
            best, stalled = value, 0
            if kept == support.size:                    # consistent: a restricted optimum
                best_w = w
        elif (stalled := stalled + 1) == _PATIENCE:
            break                                       # not converging: hand over
        violators = np.flatnonzero((w == 0) & (np.abs(g) > lam1))
        if kept == support.size and violators.size == 0:
            return w, True                              # consistent and optimal: exact
        most = max(0, min(max(budget, kept // _BUDGET_FRACTION), (rank - kept) // 2))
        if violators.size > most:                       # the worst violators, largest |g_i|
            violators = violators[np.argpartition(-np.abs(g[violators]), most)[:most]]
        theta = np.where(keep, theta, 0.0)
        theta[violators] = -np.sign(g[violators])
        if not theta.any():
            break
        new = np.setdiff1d(np.flatnonzero(theta), state.work, assume_unique=True)
        if new.size:
            state.grow(new)
        work = state.work
        G = state.G + lam2 * np.eye(work.size) if lam2 else state.G
        position = np.full(p, -1)
        position[work] = np.arange(work.size)
        theta_w = theta[work]
        active, target = _solve_on(G, state.Xty[work] / n, lam1, w[work], theta_w, factor,
                                   position[violators])
        if target is None:                              # a singular block: stop predicting
            break
        theta[work] = theta_w                           # (refused dependent features: 0)
        w = np.zeros(p)
        w[work[active]] = target
        wrong = np.count_nonzero(np.sign(target) != theta_w[active])
        budget = (max(budget // 2, _BUDGET_MIN) if 2 * wrong > budget
                  else min(2 * budget, _BUDGET_MAX))
    return best_w, False


def _solve_on(G, q, lam, x, theta, factor, new):
    # (A, x_A) with G_AA x_A = q_A - lam theta_A, A = {theta != 0}; None for x_A if singular.
    # With a fresh factor when much of A changed (cheaper than the updates), else with the
    # updated one (_sign_solution: dependent features in `new` get theta = 0 and wait).
    active = np.flatnonzero(theta)
    changes = np.setxor1d(active, factor.order, assume_unique=True).size
    if _REFACTOR * changes > active.size and factor.refactor(G, active):
        target = factor.solve(q[active] - lam * theta[active])
        if np.all(np.isfinite(target)):
            return active, target
        factor.clear()
        return active, None
    active, target, _ = _sign_solution(G, q, lam, x, theta, factor, new)
    return active, target
