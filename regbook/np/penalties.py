r"""The L1 and L2 penalties, their (sub)gradients, and the proximal operator of the L1 norm.

The book's convention (see the Conventions appendix):

.. math:: R_1(w) = \lambda \sum_j |w_j|, \qquad R_2(w) = \frac{\lambda}{2} \sum_j w_j^2 .

Every function accepts a weight array of any shape (a vector of coefficients or a layer's
weight matrix) and a scalar strength :math:`\lambda \ge 0`; the penalties also accept a list
of arrays or a NumPy model (its weights, :func:`split_decay_params`), like their twins in
:mod:`regbook.torch` and :mod:`regbook.tf`.
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_float

__all__ = ["l1_penalty", "l1_grad", "l2_penalty", "l2_grad", "soft_threshold",
           "split_decay_params"]


#: The own names of the parameters that count as weights: Linear's ``W``, Conv1d's ``w``.
_WEIGHT_NAMES = ("W", "w")


def split_decay_params(model) -> tuple[list[str], list[str]]:
    """Split a NumPy model's parameter names into (penalised weights, everything else).

    A parameter is a *weight* when its own name is ``W`` -- the kernel of a
    :class:`regbook.np.Linear` (``"0.W"``, ``"3.W"`` in a :class:`regbook.np.Sequential`) -- or
    ``w``, the kernel of a :class:`regbook.np.Conv1d` (``"1.w"``); biases ``b``, the ``gamma``
    and ``beta`` of :class:`regbook.np.BatchNorm` and :class:`regbook.np.LayerNorm` and
    anything else are not penalised (see the Conventions appendix).

    Unlike :func:`regbook.torch.split_decay_params` and :func:`regbook.tf.split_decay_params`,
    which return the parameter (variable) objects, this returns *names*, the keys of
    ``model.params``: what the NumPy optimizers' ``step(model, decay=...)`` and the training
    loop use (``model.params[name]`` is the array itself).

    Parameters
    ----------
    model : regbook.np.Sequential, regbook.np.Linear, ...
        Any object of the layer protocol (a ``params`` dict).

    Returns
    -------
    (list of str, list of str)
        ``decay`` and ``no_decay``, each in the order of ``model.params``.
    """
    params = _model_params(model)
    decay = [name for name in params if name.rsplit(".", 1)[-1] in _WEIGHT_NAMES]
    return decay, [name for name in params if name not in decay]


def _model_params(model) -> dict[str, np.ndarray]:
    params = getattr(model, "params", None)
    if not isinstance(params, dict):
        raise TypeError("model must follow the layer protocol of regbook.np (a params dict), "
                        f"got {type(model).__name__}")
    return params


def _weight_list(weights) -> list[np.ndarray]:
    """The arrays a penalty sums over: a model's weights, one array, or a list of arrays."""
    if hasattr(weights, "params"):
        params = _model_params(weights)
        return [params[name] for name in split_decay_params(weights)[0]]
    if isinstance(weights, (list, tuple)) and weights and all(
            isinstance(w, np.ndarray) for w in weights):
        return [check_array(w, f"weights[{i}]") for i, w in enumerate(weights)]
    return [check_array(weights, "weights")]


def l1_penalty(weights, lam: float) -> float:
    r"""The L1 penalty :math:`R_1(W) = \lambda \sum_W \sum_j |W_j|`.

    Parameters
    ----------
    weights : array_like, list of arrays, or a regbook.np model
        One weight array (any shape), a list of them (summed), or a model: its weights per
        :func:`split_decay_params` (biases and batch-norm parameters excluded).
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    float
    """
    lam = check_float(lam, "lam", minimum=0.0)
    return lam * sum(float(np.sum(np.abs(w))) for w in _weight_list(weights))


def l1_grad(weights: np.ndarray, lam: float) -> np.ndarray:
    r"""A subgradient of the L1 penalty: :math:`\lambda\,\operatorname{sign}(w)` (0 at 0).

    :math:`|w_j|` has no derivative at 0; its subdifferential there is :math:`[-1, 1]` and this
    function picks 0, the element of smallest magnitude (what ``torch.sign`` and
    ``tf.sign`` give, so autograd of ``lam * sum|w|`` agrees).

    Parameters
    ----------
    weights : array_like, any shape
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    numpy.ndarray, same shape as ``weights``
    """
    return _l1_grad(*_check_w_lam(weights, lam))


def l2_penalty(weights, lam: float) -> float:
    r"""The L2 penalty :math:`R_2(W) = \frac{\lambda}{2} \sum_W \sum_j W_j^2`.

    Parameters
    ----------
    weights : array_like, list of arrays, or a regbook.np model
        As in :func:`l1_penalty`.
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    float
    """
    lam = check_float(lam, "lam", minimum=0.0)
    return 0.5 * lam * sum(float(np.sum(w * w)) for w in _weight_list(weights))


def l2_grad(weights: np.ndarray, lam: float) -> np.ndarray:
    r"""The gradient of the L2 penalty, :math:`\nabla R_2(w) = \lambda w`.

    Parameters
    ----------
    weights : array_like, any shape
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    numpy.ndarray, same shape as ``weights``
    """
    return _l2_grad(*_check_w_lam(weights, lam))


def _check_w_lam(weights, lam):
    return check_array(weights, "weights"), check_float(lam, "lam", minimum=0.0)


# The gradients on validated arrays, in the arrays' dtype: the NumPy training loop adds them to
# the layers' gradients at every step (regbook.np.training.train_step).
def _l1_grad(w: np.ndarray, lam: float) -> np.ndarray:
    return lam * np.sign(w)


def _l2_grad(w: np.ndarray, lam: float) -> np.ndarray:
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
