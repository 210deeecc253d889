r"""Batch-norm settings: PyTorch's convention (the book's) and Keras's.

PyTorch (``nn.BatchNorm1d/2d``, and :class:`regbook.np.BatchNorm`) and Keras
(``keras.layers.BatchNormalization``) normalise a training batch the same way, with the biased
batch variance, but keep their running statistics differently:

- running update: PyTorch :math:`r \leftarrow (1-m)\,r + m\,b`, Keras
  :math:`r \leftarrow m_K\,r + (1-m_K)\,b`;
- defaults: PyTorch momentum 0.1 and eps 1e-5, Keras momentum 0.99 and epsilon 1e-3;
- running variance: PyTorch stores the unbiased :math:`\frac{n}{n-1}\sigma_B^2`, Keras the
  biased :math:`\sigma_B^2`;

so a PyTorch momentum :math:`m` is a Keras momentum :math:`1 - m`, eps carries over unchanged,
and the running variances still differ by the factor :math:`n/(n-1)` per batch, where :math:`n`
is the number of values each feature's statistics are computed from (the batch size, or
:math:`N H W` for images). Framework-agnostic: no framework is imported here.
"""

from __future__ import annotations

import numbers

import numpy as np

from regbook._validate import check_array, check_float, check_int

__all__ = [
    "keras_bn_momentum",
    "torch_bn_momentum",
    "unbiased_variance",
    "biased_variance",
    "keras_bn_kwargs_from_torch",
    "torch_bn_kwargs_from_keras",
]


def keras_bn_momentum(torch_momentum: float) -> float:
    r"""Keras ``BatchNormalization(momentum=...)`` equal to PyTorch's ``momentum=m``.

    PyTorch keeps :math:`r \leftarrow (1-m)\,r + m\,b`, Keras :math:`r \leftarrow
    m_K\,r + (1-m_K)\,b`, so :math:`m_K = 1 - m`. PyTorch's default 0.1 is Keras's 0.9, and
    Keras's default 0.99 is PyTorch's 0.01.
    """
    return 1.0 - check_float(torch_momentum, "torch_momentum", minimum=0.0, maximum=1.0)


def torch_bn_momentum(keras_momentum: float) -> float:
    r"""PyTorch ``BatchNorm1d/2d(momentum=...)`` equal to Keras's ``momentum=m_K``.

    The inverse of :func:`keras_bn_momentum`: :math:`m = 1 - m_K`.
    """
    return 1.0 - check_float(keras_momentum, "keras_momentum", minimum=0.0, maximum=1.0)


def _check_var(var, name: str):
    if isinstance(var, numbers.Real) and not isinstance(var, bool):
        return check_float(var, name, minimum=0.0), True
    arr = check_array(var, name)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 everywhere")
    return arr, False


def unbiased_variance(biased_var, n: int):
    r"""Bessel's correction, :math:`\frac{n}{n-1}\,\sigma^2_{\text{biased}}`.

    This is the variance PyTorch stores in its running estimate.

    Parameters
    ----------
    biased_var : float or array_like
        Variance(s) computed by dividing by :math:`n`, all >= 0.
    n : int
        Number of values per feature, :math:`n \ge 2` (batch size, or :math:`N H W`).

    Returns
    -------
    float or numpy.ndarray
        Same kind as ``biased_var``.
    """
    var, scalar = _check_var(biased_var, "biased_var")
    n = check_int(n, "n", minimum=2)
    out = var * (n / (n - 1))
    return float(out) if scalar else out


def biased_variance(unbiased_var, n: int):
    r"""Undo Bessel's correction: :math:`\frac{n-1}{n}\,\sigma^2_{\text{unbiased}}` (Keras's form).

    The inverse of :func:`unbiased_variance`; ``n >= 2`` as there.
    """
    var, scalar = _check_var(unbiased_var, "unbiased_var")
    n = check_int(n, "n", minimum=2)
    out = var * ((n - 1) / n)
    return float(out) if scalar else out


def keras_bn_kwargs_from_torch(momentum: float = 0.1, eps: float = 1e-5) -> dict[str, float]:
    r"""Keyword arguments for ``keras.layers.BatchNormalization`` matching PyTorch's settings.

    ``momentum`` :math:`m \mapsto 1 - m` and ``eps`` :math:`\mapsto` ``epsilon`` unchanged; the
    defaults give ``{"momentum": 0.9, "epsilon": 1e-5}`` (not Keras's own 0.99 and 1e-3). The
    running variance still differs by :math:`n/(n-1)` (see :func:`unbiased_variance`).
    """
    eps = check_float(eps, "eps", minimum=0.0, include_min=False)
    return {"momentum": keras_bn_momentum(momentum), "epsilon": eps}


def torch_bn_kwargs_from_keras(momentum: float = 0.99, epsilon: float = 1e-3) -> dict[str, float]:
    r"""Keyword arguments for ``torch.nn.BatchNorm1d/2d`` (and :class:`regbook.np.BatchNorm`)
    matching Keras's ``BatchNormalization(momentum, epsilon)``.

    ``momentum`` :math:`m_K \mapsto 1 - m_K`, ``epsilon`` :math:`\mapsto` ``eps``; Keras's
    defaults give ``{"momentum": 0.01, "eps": 1e-3}``.
    """
    epsilon = check_float(epsilon, "epsilon", minimum=0.0, include_min=False)
    return {"momentum": torch_bn_momentum(momentum), "eps": epsilon}
