r"""The L1 and L2 penalties, their (sub)gradients, and the proximal operator of the L1 norm.

The book's convention (see the Conventions appendix):

.. math:: R_1(w) = \lambda \sum_j |w_j|, \qquad R_2(w) = \frac{\lambda}{2} \sum_j w_j^2 .

Every function accepts a weight array of any shape (a vector of coefficients or a layer's
weight matrix) and a scalar strength :math:`\lambda \ge 0`.
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_float

__all__ = ["l1_penalty", "l1_grad", "l2_penalty", "l2_grad", "soft_threshold"]


def _check_w_lam(w, lam, *, w_name: str = "w", lam_name: str = "lam"):
    w = check_array(w, w_name)
    lam = check_float(lam, lam_name, minimum=0.0)
    return w, lam


def l1_penalty(w: np.ndarray, lam: float) -> float:
    r"""The L1 penalty :math:`R_1(w) = \lambda \sum_j |w_j|`.

    Parameters
    ----------
    w : array_like, any shape
        Weights (finite, real, non-empty).
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    float
    """
    w, lam = _check_w_lam(w, lam)
    return lam * float(np.sum(np.abs(w)))


def l1_grad(w: np.ndarray, lam: float) -> np.ndarray:
    r"""A subgradient of the L1 penalty: :math:`\lambda\,\operatorname{sign}(w)`, 0 where :math:`w_j = 0`.

    :math:`|w_j|` has no derivative at 0; its subdifferential there is :math:`[-1, 1]` and this
    function picks 0, the element of smallest magnitude (what ``torch.sign`` and
    ``tf.sign`` give, so autograd of ``lam * sum|w|`` agrees).

    Parameters
    ----------
    w : array_like, any shape
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    numpy.ndarray, same shape as ``w``
    """
    w, lam = _check_w_lam(w, lam)
    return lam * np.sign(w)


def l2_penalty(w: np.ndarray, lam: float) -> float:
    r"""The L2 penalty :math:`R_2(w) = \frac{\lambda}{2} \sum_j w_j^2`.

    Parameters
    ----------
    w : array_like, any shape
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    float
    """
    w, lam = _check_w_lam(w, lam)
    return 0.5 * lam * float(np.sum(w * w))


def l2_grad(w: np.ndarray, lam: float) -> np.ndarray:
    r"""The gradient of the L2 penalty, :math:`\nabla R_2(w) = \lambda w`.

    Parameters
    ----------
    w : array_like, any shape
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    numpy.ndarray, same shape as ``w``
    """
    w, lam = _check_w_lam(w, lam)
    return lam * w


def soft_threshold(x: np.ndarray, t: float) -> np.ndarray:
    r"""Soft-thresholding, the proximal operator of :math:`t\lVert\cdot\rVert_1`.

    .. math::

        S_t(x) = \operatorname{sign}(x)\max(|x| - t, 0)
               = \operatorname*{arg\,min}_z \tfrac12 \lVert z - x\rVert^2 + t \lVert z\rVert_1 ,

    applied elementwise: entries with :math:`|x_j| \le t` become exactly 0, the others move
    :math:`t` towards 0.

    Parameters
    ----------
    x : array_like, any shape
    t : float
        Threshold :math:`t \ge 0`.

    Returns
    -------
    numpy.ndarray, same shape as ``x``
    """
    x = check_array(x, "x")
    t = check_float(t, "t", minimum=0.0)
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)
