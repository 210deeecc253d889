r"""Layer normalization from scratch: a forward/backward pair (Ba, Kiros & Hinton, 2016).

Unlike batch normalization, every example is normalised with its *own* statistics, taken over
the last axis (its D features), so training and evaluation compute the same thing and there
are no running estimates:

.. math:: \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y = \gamma \hat x + \beta,

with :math:`\mu` and the biased variance :math:`\sigma^2` of each row, as
``torch.nn.functional.layer_norm(x, (D,), gamma, beta, eps)``.
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_float
from regbook.np._cache import check_cache, make_cache

__all__ = ["layernorm_forward", "layernorm_backward"]


def _check_vector(v, name: str, d: int, dtype) -> np.ndarray:
    v = check_array(v, name, ndim=1, dtype=None)
    if v.shape != (d,):
        raise ValueError(f"{name} must have shape ({d},) to match x's last axis, got {v.shape}")
    return v.astype(dtype, copy=False)


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, dict]:
    r"""Layer normalization over the last axis of ``x``.

    For every row :math:`x \in \mathbb{R}^D` (every index of the leading axes),

    .. math::
        \mu = \frac1D \sum_{j=1}^D x_j, \qquad
        \sigma^2 = \frac1D \sum_{j=1}^D (x_j - \mu)^2, \qquad
        \hat x_j = \frac{x_j - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad
        y_j = \gamma_j \hat x_j + \beta_j .

    The variance is the biased one (divide by :math:`D`), as in PyTorch and Keras. A constant
    row (or :math:`D = 1`) has :math:`\hat x = 0` and gives :math:`y = \beta`.

    Parameters
    ----------
    x : array_like, shape (..., D)
        Finite inputs, any number of leading axes (``(N, D)`` for a dense layer,
        ``(N, L, D)`` for a sequence). The computation runs in ``x``'s floating dtype
        (float32 stays float32; integers become float64).
    gamma, beta : array_like, shape (D,)
        Per-feature scale and shift.
    eps : float
        :math:`\epsilon > 0` added to each example's variance (over its D features).

    Returns
    -------
    out : numpy.ndarray, the shape and dtype of ``x``
    cache : dict
        ``kind="layernorm"``, ``xhat`` (shape of ``x``), ``gamma`` and ``inv_std``
        :math:`= 1/\sqrt{\sigma^2 + \epsilon}` (shape ``(..., 1)``), for
        :func:`layernorm_backward`.
    """
    x = check_array(x, "x", ndim=None, dtype=None)
    if x.ndim < 1:
        raise ValueError(f"x must have at least 1 dimension (..., D), got shape {x.shape}")
    x = x if x.dtype.kind == "f" else x.astype(np.float64)
    d = x.shape[-1]
    gamma = _check_vector(gamma, "gamma", d, x.dtype)
    beta = _check_vector(beta, "beta", d, x.dtype)
    eps = check_float(eps, "eps", minimum=0.0, include_min=False)
    xc = x - x.mean(axis=-1, keepdims=True)
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + x.dtype.type(eps))
    xhat = xc * inv_std
    out = gamma * xhat + beta
    return out, make_cache("layernorm", xhat=xhat, gamma=gamma, inv_std=inv_std)


def layernorm_backward(
    dout: np.ndarray, cache: dict
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of :func:`layernorm_forward`, in closed form.

    With :math:`g = \partial L / \partial y` (``dout``), sums over the leading axes (the rows
    :math:`r`) for the parameters and over the :math:`D` features :math:`j` of a row for
    :math:`x`:

    .. math::
        \frac{\partial L}{\partial \beta_j} = \sum_r g_{r j}, \qquad
        \frac{\partial L}{\partial \gamma_j} = \sum_r g_{r j}\, \hat x_{r j}, \qquad
        \frac{\partial L}{\partial x_{r j}} = \frac{1}{D\sqrt{\sigma_r^2 + \epsilon}}
            \Big( D\, \delta_{r j} - \sum_{i} \delta_{r i}
                  - \hat x_{r j} \sum_{i} \delta_{r i}\, \hat x_{r i} \Big),
        \quad \delta_{r j} = \gamma_j g_{r j} .

    This is batch normalization's formula with the roles of the axes exchanged: the
    statistics are per row, the parameters per feature. An upstream gradient with
    :math:`\delta` constant along a row gives :math:`\partial L / \partial x = 0` for that row;
    a constant row of ``x`` (:math:`\hat x = 0`) gets
    :math:`(\delta - \bar\delta)/\sqrt{\epsilon}`, as in PyTorch.

    Parameters
    ----------
    dout : array_like, shape of the forward input (..., D)
        Upstream gradient.
    cache : dict
        From :func:`layernorm_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (..., D)
    dgamma, dbeta : numpy.ndarray, shape (D,)
    """
    cache = check_cache(cache, "layernorm")
    xhat, gamma, inv_std = cache["xhat"], cache["gamma"], cache["inv_std"]
    dout = check_array(dout, "dout", ndim=None, dtype=None)
    if dout.shape != xhat.shape:
        raise ValueError(f"dout must have the forward input's shape {xhat.shape}, "
                         f"got {dout.shape}")
    dout = dout.astype(xhat.dtype, copy=False)
    rows = dout.reshape(-1, xhat.shape[-1])
    dbeta = rows.sum(axis=0)
    dgamma = np.einsum("rj,rj->j", rows, xhat.reshape(rows.shape))
    delta = dout * gamma                                               # dL / dxhat
    mean_delta = delta.mean(axis=-1, keepdims=True)
    mean_delta_xhat = np.mean(delta * xhat, axis=-1, keepdims=True)
    dx = inv_std * (delta - mean_delta - xhat * mean_delta_xhat)
    return dx, dgamma, dbeta
