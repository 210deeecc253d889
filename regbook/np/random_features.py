r"""Random ReLU features and the minimum-norm least-squares fit (the double-descent chapter).

A two-layer network whose first layer is drawn at random and frozen is a linear model in its
hidden units: with :math:`W \in \mathbb R^{d \times p}`, :math:`W_{kj} \sim N(0, s^2/d)`,

.. math:: \phi(x) = \max(0, W^\top x) \in \mathbb R^p ,

and only the output weights are fitted, by least squares on the feature matrix
:math:`\Phi = \max(0, XW)`. Sweeping :math:`p` through the number of examples :math:`n` shows
double descent (Belkin et al., 2019).
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_float, check_int, check_seed

__all__ = ["random_relu_features", "min_norm_least_squares"]


def random_relu_features(X: np.ndarray, n_features: int, *, seed: int,
                         scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Features of a fixed random ReLU layer.

    .. math:: \Phi = \max(0, XW), \qquad W_{kj} \sim N(0, s^2 / d)\ \text{independently},

    for :math:`X` of shape ``(n, d)`` and :math:`W` of shape ``(d, p)``, :math:`s` = ``scale``.
    :math:`W` depends only on ``seed``, :math:`d` and :math:`p`, so calling the function on the
    training and on the test inputs with the same ``seed`` gives the same layer. The columns are
    nested: the first :math:`k` columns of :math:`W` are the same for every
    :math:`p \ge k`, so a sweep over :math:`p` adds features to a fixed set.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs.
    n_features : int
        Number of random features :math:`p \ge 1`.
    seed : int
        Seed of the generator that draws :math:`W`.
    scale : float
        :math:`s > 0`, the standard deviation of :math:`W` times :math:`\sqrt d`.

    Returns
    -------
    features : numpy.ndarray, shape (n, p)
        :math:`\Phi`.
    weights : numpy.ndarray, shape (d, p)
        :math:`W`.
    """
    X = check_array(X, "X", ndim=2)
    n_features = check_int(n_features, "n_features", minimum=1)
    seed = check_seed(seed)
    scale = check_float(scale, "scale", minimum=0.0, include_min=False)
    d = X.shape[1]
    rng = np.random.default_rng(seed)
    # Drawn row by row as (p, d): the first k rows do not depend on p (nested features).
    weights = rng.standard_normal((n_features, d)).T * (scale / np.sqrt(d))
    return np.maximum(X @ weights, 0.0), weights


def min_norm_least_squares(Phi: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""The minimum-norm least-squares solution (no intercept).

    .. math:: \hat w = \Phi^{+} y = V\,\mathrm{diag}(1/d_j)\,U^\top y
              = \lim_{\lambda \to 0^+} (\Phi^\top\Phi + n\lambda I)^{-1}\Phi^\top y ,

    with :math:`\Phi = U\,\mathrm{diag}(d)\,V^\top` the thin SVD (singular values below
    :math:`\max(n, p)\,\varepsilon\, d_1` treated as 0). Of all minimisers of
    :math:`\lVert y - \Phi w\rVert^2` it has the smallest :math:`\lVert w\rVert`; with
    :math:`p \ge n` (and :math:`\Phi` of rank :math:`n`) it interpolates, :math:`\Phi\hat w = y`.
    It is the limit of ridge regression (:func:`regbook.np.ridge` with
    ``fit_intercept=False``) as :math:`\lambda \to 0`, and the point gradient descent on the
    squared error converges to from :math:`w_0 = 0` (each step stays in the row space of
    :math:`\Phi`). Solved by ``numpy.linalg.lstsq``.

    Parameters
    ----------
    Phi : array_like, shape (n, p)
        Feature matrix.
    y : array_like, shape (n,) or (n, k)
        Targets (``k`` columns are ``k`` separate fits).

    Returns
    -------
    coef : numpy.ndarray, shape (p,) or (p, k)
    """
    Phi = check_array(Phi, "Phi", ndim=2)
    y = check_array(y, "y", ndim=(1, 2))
    if len(y) != len(Phi):
        raise ValueError(f"Phi and y lengths differ: {len(Phi)} and {len(y)}")
    return np.linalg.lstsq(Phi, y, rcond=None)[0]
