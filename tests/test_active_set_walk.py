"""The feature-sign walk's objective values (regbook.np._active_set._walk_values).

From the Cholesky factor they are computed in O(k^2 + s k |Z|) (two products with R, one with
the crossing columns); they must equal each stop's own quadratic form, and the values from G.
"""

import numpy as np
import pytest

from regbook.np._active_set import _walk_values


def _a_walk(k, n_crossing, seed):
    # A random positive definite G, a start xa, a target whose signs differ from xa's in
    # n_crossing coordinates (some just activated: xa = 0), and the walk's stops and points.
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3 * k, k))
    G, q = X.T @ X / (3 * k), rng.standard_normal(k)
    xa = rng.standard_normal(k)
    xa[rng.choice(k, n_crossing // 3, replace=False)] = 0.0
    theta = np.where(xa != 0, np.sign(xa), 1.0)
    target = theta * rng.uniform(0.1, 2.0, k)
    flip = rng.choice(k, n_crossing, replace=False)
    target[flip] *= -1.0
    flipped = np.sign(target) != theta
    with np.errstate(divide="ignore", invalid="ignore"):
        t_cross = np.where(flipped, xa / (xa - target), np.inf)
    stops = np.unique(np.concatenate([t_cross[(t_cross > 0) & (t_cross < 1)], [1.0]]))
    d = target - xa
    points = xa + stops[:, None] * d
    points[t_cross[None, :] <= stops[:, None]] = 0.0
    return G, q, xa, d, t_cross, stops, points


@pytest.mark.parametrize("k, n_crossing, seed", [(5, 0, 0), (8, 3, 1), (40, 12, 2),
                                                 (60, 60, 3), (120, 7, 4)])
def test_walk_values_equal_each_points_own_objective(k, n_crossing, seed):
    G, q, xa, d, t_cross, stops, points = _a_walk(k, n_crossing, seed)
    lam = 0.3
    P = np.vstack([xa, points])
    direct = 0.5 * np.einsum("ij,jk,ik->i", P, G, P) - P @ q + lam * np.abs(P).sum(axis=1)
    R = np.asfortranarray(np.linalg.cholesky(G).T)                # G = R^T R, as the factor's
    scale = 1e-12 * max(1.0, np.abs(direct).max())
    for quad in ({"G": G}, {"R": R}):
        values = _walk_values(q, lam, xa, d, t_cross, stops, points, **quad)
        assert values.shape == (len(stops) + 1,)
        np.testing.assert_allclose(values, direct, rtol=0, atol=scale)
