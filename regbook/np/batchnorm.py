r"""Batch normalization from scratch: a forward/backward pair and a layer with running statistics.

Training mode normalises every feature (channel) with the statistics of the current batch,

.. math:: \hat x = \frac{x - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}, \qquad y = \gamma \hat x + \beta,

where :math:`\mu_B` and the *biased* variance :math:`\sigma_B^2` are taken over the batch axis of
an ``(N, D)`` input, or over the batch and both spatial axes of an ``(N, C, H, W)`` input.
:class:`BatchNorm` also keeps running estimates for evaluation mode, updated exactly like
``torch.nn.BatchNorm1d/2d`` (momentum 0.1, eps 1e-5, the *unbiased* variance stored).
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_float, check_int

__all__ = ["batchnorm_forward", "batchnorm_backward", "BatchNorm"]


def _axes(ndim: int) -> tuple[int, ...]:
    """Axes the statistics are taken over: (0,) for (N, D), (0, 2, 3) for (N, C, H, W)."""
    return (0,) if ndim == 2 else (0, 2, 3)


def _per_feature(v: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape a (C,) vector so it broadcasts against an (N, C) or (N, C, H, W) array."""
    return v if ndim == 2 else v.reshape(1, -1, 1, 1)


def _check_input(x, name: str = "x") -> np.ndarray:
    """A finite (N, D) or (N, C, H, W) float array; float32 stays float32, ints become float64."""
    x = check_array(x, name, ndim=(2, 4), dtype=None)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _check_vector(v, name: str, n_features: int, dtype) -> np.ndarray:
    v = check_array(v, name, ndim=1, dtype=None)
    if v.shape != (n_features,):
        raise ValueError(f"{name} must have shape ({n_features},) to match x's axis 1, "
                         f"got {v.shape}")
    return v.astype(dtype, copy=False)


def _values_per_channel(shape: tuple[int, ...]) -> int:
    """How many values each feature's statistics are computed from: N, or N * H * W."""
    return int(np.prod(shape)) // shape[1]


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, *, eps: float = 1e-5
) -> tuple[np.ndarray, tuple]:
    r"""Training-mode batch normalization of an ``(N, D)`` or ``(N, C, H, W)`` batch.

    With :math:`m` values per feature (:math:`m = N`, or :math:`N H W` for images),

    .. math::
        \mu = \frac{1}{m}\sum_i x_i, \qquad
        \sigma^2 = \frac{1}{m}\sum_i (x_i - \mu)^2, \qquad
        \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad
        y_i = \gamma \hat x_i + \beta .

    The variance is the biased one (divide by :math:`m`), as in PyTorch and Keras. A constant
    feature has :math:`\sigma^2 = 0` and gives :math:`\hat x = 0`, never NaN.

    Parameters
    ----------
    x : array_like, shape (N, D) or (N, C, H, W)
        Finite inputs. The computation runs in ``x``'s floating dtype (float32 stays float32;
        integers become float64).
    gamma, beta : array_like, shape (D,) or (C,)
        Scale and shift.
    eps : float
        :math:`\epsilon > 0` added to the variance.

    Returns
    -------
    out : numpy.ndarray, same shape and dtype as ``x``
    cache : tuple
        ``(xhat, gamma, inv_std, mean, var)`` for :func:`batchnorm_backward`; ``mean`` and the
        biased ``var`` have shape (D,) or (C,).

    Raises
    ------
    ValueError
        If each feature has only one value (``m = 1``): its variance is undefined, as in
        PyTorch's "Expected more than 1 value per channel when training".
    """
    x = _check_input(x)
    eps = check_float(eps, "eps", minimum=0.0, include_min=False)
    gamma = _check_vector(gamma, "gamma", x.shape[1], x.dtype)
    beta = _check_vector(beta, "beta", x.shape[1], x.dtype)
    if _values_per_channel(x.shape) < 2:
        raise ValueError(f"Expected more than 1 value per channel when training, got input of "
                         f"shape {x.shape}; use evaluation mode for a single example")
    return _forward(x, gamma, beta, eps)


def _forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float):
    axes, nd = _axes(x.ndim), x.ndim
    mean = x.mean(axis=axes)
    xc = x - _per_feature(mean, nd)
    var = np.mean(xc * xc, axis=axes)
    inv_std = (1.0 / np.sqrt(var + x.dtype.type(eps))).astype(x.dtype, copy=False)
    xhat = xc * _per_feature(inv_std, nd)
    out = _per_feature(gamma, nd) * xhat + _per_feature(beta, nd)
    return out, (xhat, gamma, inv_std, mean, var)


def batchnorm_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of training-mode batch normalization, in the compact closed form.

    With :math:`g_i = \partial L / \partial y_i` (``dout``) and
    :math:`\partial L/\partial \hat x_i = \gamma g_i`, summing over the :math:`m` values of
    each feature,

    .. math::
        \frac{\partial L}{\partial \beta} = \sum_i g_i, \qquad
        \frac{\partial L}{\partial \gamma} = \sum_i g_i \hat x_i, \qquad
        \frac{\partial L}{\partial x_i} = \frac{\gamma}{m\sqrt{\sigma^2+\epsilon}}
            \Big( m\, g_i - \sum_j g_j - \hat x_i \sum_j g_j \hat x_j \Big),

    which is :math:`\frac{1}{m}\gamma\,\sigma_\epsilon^{-1}\big(m\,\partial\hat x_i -
    \sum_j \partial\hat x_j - \hat x_i \sum_j \partial\hat x_j\,\hat x_j\big)` after dividing
    :math:`\gamma` out of the sums. Note that an upstream gradient that is constant per
    feature (for instance all ones) gives :math:`\partial L/\partial x = 0` exactly.

    Parameters
    ----------
    dout : array_like, same shape as the forward input
        Upstream gradient.
    cache : tuple
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : numpy.ndarray, same shape as ``dout``
    dgamma, dbeta : numpy.ndarray, shape (D,) or (C,)
    """
    xhat, gamma, inv_std, _, _ = cache
    dout = _check_dout(dout, xhat)
    axes, nd = _axes(xhat.ndim), xhat.ndim
    m = _values_per_channel(xhat.shape)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    scale = _per_feature(gamma * inv_std / m, nd)
    dx = scale * (m * dout - _per_feature(dbeta, nd) - xhat * _per_feature(dgamma, nd))
    return dx, dgamma, dbeta


def _check_dout(dout, xhat: np.ndarray) -> np.ndarray:
    dout = check_array(dout, "dout", dtype=None)
    if dout.shape != xhat.shape:
        raise ValueError(f"dout must have the forward input's shape {xhat.shape}, "
                         f"got {dout.shape}")
    return dout.astype(xhat.dtype, copy=False)


def _array_property(store: str, key: str, doc: str) -> property:
    """An attribute that reads ``self.<store>[key]`` and writes into that same array in place."""
    def fget(self):
        return getattr(self, store)[key]

    def fset(self, value):
        target = getattr(self, store)[key]
        value = check_array(value, key, ndim=1, dtype=target.dtype)
        if value.shape != target.shape:
            raise ValueError(f"{key} must have shape {target.shape}, got {value.shape}")
        target[...] = value

    return property(fget, fset, doc=doc)


class BatchNorm:
    r"""Batch normalization layer for ``(N, D)`` or ``(N, C, H, W)`` inputs, like PyTorch's.

    In training mode (``forward(x, training=True)``) it normalises with the batch statistics
    (:func:`batchnorm_forward`) and then updates the running estimates exactly as
    ``torch.nn.BatchNorm1d/2d`` does, with :math:`m` values per feature:

    .. math::
        \mu_{\text{run}} \leftarrow (1 - \text{momentum})\,\mu_{\text{run}}
            + \text{momentum}\,\mu_B, \qquad
        \sigma^2_{\text{run}} \leftarrow (1 - \text{momentum})\,\sigma^2_{\text{run}}
            + \text{momentum}\,\frac{m}{m-1}\sigma_B^2 .

    The batch is normalised with the biased variance :math:`\sigma_B^2`, but the running
    estimate stores the unbiased one. In evaluation mode the layer is the fixed affine map
    :math:`y = \gamma (x - \mu_{\text{run}}) / \sqrt{\sigma^2_{\text{run}} + \epsilon} + \beta`.
    (Keras's ``BatchNormalization`` uses ``momentum = 1 - m`` and stores the biased variance;
    see :mod:`regbook.convert.batchnorm`.)

    Follows the layer protocol of :mod:`regbook.np`: ``params`` (``gamma``, ``beta``),
    ``grads`` (same keys, filled by :meth:`backward`) and ``buffers`` (``running_mean``,
    ``running_var``). The attributes ``gamma``, ``beta``, ``running_mean`` and
    ``running_var`` are those same arrays; assigning to one copies into it in place.

    Parameters
    ----------
    num_features : int
        D for ``(N, D)`` inputs, C for ``(N, C, H, W)``.
    momentum : float
        PyTorch's momentum in [0, 1]: the weight of the new batch in the running averages.
    eps : float
        :math:`\epsilon > 0`.
    dtype : numpy dtype
        Floating dtype of the parameters and buffers (float64 by default).
    """

    def __init__(self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5,
                 dtype=np.float64):
        self.num_features = check_int(num_features, "num_features", minimum=1)
        self.momentum = check_float(momentum, "momentum", minimum=0.0, maximum=1.0)
        self.eps = check_float(eps, "eps", minimum=0.0, include_min=False)
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"dtype must be a floating dtype, got {dtype}")
        d = self.num_features
        self.params = {"gamma": np.ones(d, dtype), "beta": np.zeros(d, dtype)}
        self.grads = {"gamma": np.zeros(d, dtype), "beta": np.zeros(d, dtype)}
        self.buffers = {"running_mean": np.zeros(d, dtype), "running_var": np.ones(d, dtype)}
        self._cache: tuple | None = None

    gamma = _array_property("params", "gamma", "Scale, shape (num_features,).")
    beta = _array_property("params", "beta", "Shift, shape (num_features,).")
    running_mean = _array_property("buffers", "running_mean",
                                   "Running mean, shape (num_features,).")
    running_var = _array_property("buffers", "running_var",
                                  "Running unbiased variance, shape (num_features,).")

    def __repr__(self) -> str:
        return f"BatchNorm({self.num_features}, momentum={self.momentum}, eps={self.eps})"

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """Normalise ``x`` (``(N, num_features)`` or ``(N, num_features, H, W)``).

        With ``training=True`` the batch's own statistics are used and the running ones then
        updated; with ``training=False`` the running statistics are used and nothing changes.
        Returns an array of ``x``'s shape and dtype. Invalid input (a wrong shape, non-finite
        values, one value per feature in training mode) raises before anything is modified.
        """
        if not isinstance(training, (bool, np.bool_)):
            raise TypeError(f"training must be a bool, got {type(training).__name__}")
        x = _check_input(x)
        if x.shape[1] != self.num_features:
            raise ValueError(f"x has {x.shape[1]} features (axis 1) but this BatchNorm was "
                             f"built for num_features={self.num_features}")
        gamma, beta = self.gamma.astype(x.dtype), self.beta.astype(x.dtype)
        if not training:
            out, cache = self._eval_forward(x, gamma, beta)
        else:
            out, cache = batchnorm_forward(x, gamma, beta, eps=self.eps)
            self._update_running(cache[3], cache[4], _values_per_channel(x.shape))
        self._cache = (bool(training), cache)
        return out

    def _eval_forward(self, x, gamma, beta):
        nd = x.ndim
        inv_std = (1.0 / np.sqrt(self.running_var + self.eps)).astype(x.dtype)
        xhat = (x - _per_feature(self.running_mean.astype(x.dtype), nd)) * _per_feature(inv_std, nd)
        return _per_feature(gamma, nd) * xhat + _per_feature(beta, nd), (xhat, gamma, inv_std)

    def _update_running(self, mean: np.ndarray, var: np.ndarray, m: int) -> None:
        mom = self.momentum
        unbiased = var * (m / (m - 1))
        self.running_mean[...] = mom * mean + (1 - mom) * self.running_mean
        self.running_var[...] = mom * unbiased + (1 - mom) * self.running_var

    def backward(self, dout: np.ndarray) -> np.ndarray:
        r"""Back-propagate ``dout`` through the last forward call; fills ``grads``, returns dx.

        After a training-mode forward this is :func:`batchnorm_backward`; after an evaluation
        forward the layer is affine and :math:`\partial L/\partial x = \gamma g /
        \sqrt{\sigma^2_{\text{run}} + \epsilon}`.
        """
        if self._cache is None:
            raise RuntimeError("backward called before forward")
        training, cache = self._cache
        if training:
            dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        else:
            xhat, gamma, inv_std = cache
            dout = _check_dout(dout, xhat)
            axes, nd = _axes(xhat.ndim), xhat.ndim
            dgamma, dbeta = (dout * xhat).sum(axis=axes), dout.sum(axis=axes)
            dx = dout * _per_feature(gamma * inv_std, nd)
        self.grads["gamma"][...] = dgamma
        self.grads["beta"][...] = dbeta
        return dx
