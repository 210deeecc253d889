r"""Batch normalization from scratch: a forward/backward pair and a layer with running statistics.

Training mode normalises every feature (channel) with the statistics of the current batch,

.. math:: \hat x = \frac{x - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}, \qquad
          y = \gamma \hat x + \beta,

where :math:`\mu_B` and the *biased* variance :math:`\sigma_B^2` are taken over the batch axis of
an ``(N, D)`` input, over the batch and the positions of an ``(N, C, L)`` sequence, or over the
batch and both spatial axes of an ``(N, C, H, W)`` input.
:class:`BatchNorm` also keeps running estimates for evaluation mode, updated exactly like
``torch.nn.BatchNorm1d/2d`` (momentum 0.1, eps 1e-5, the *unbiased* variance stored).
"""

from __future__ import annotations

import math

import numpy as np

from regbook._validate import check_array, check_bool, check_float, check_float_dtype, check_int

__all__ = ["batchnorm_forward", "batchnorm_backward", "BatchNorm"]


def _per_feature(v: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape a (C,) vector so it broadcasts against an (N, C), (N, C, L) or (N, C, H, W)
    array."""
    return v if ndim == 2 else v.reshape((1, -1) + (1,) * (ndim - 2))


def _check_input(x, *, finite: bool = True) -> np.ndarray:
    """An (N, D), (N, C, L) or (N, C, H, W) float array; float32 stays float32, ints become
    float64.

    ``finite=False`` leaves the NaN/inf check to :func:`_check_finite` on the statistics.
    """
    x = check_array(x, "x", ndim=(2, 3, 4), dtype=None, finite=finite)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _check_vector(v, name: str, n_features: int, dtype) -> np.ndarray:
    v = check_array(v, name, ndim=1, dtype=None)
    if v.shape != (n_features,):
        raise ValueError(f"{name} must have shape ({n_features},) to match x's axis 1, "
                         f"got {v.shape}")
    return v.astype(dtype, copy=False)


def _values_per_channel(shape: tuple[int, ...]) -> int:
    """How many values each feature's statistics are computed from: N, or N * H * W."""
    return math.prod(shape) // shape[1]


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, *, eps: float = 1e-5
) -> tuple[np.ndarray, tuple]:
    r"""Training-mode batch normalization of an ``(N, D)``, ``(N, C, L)`` or ``(N, C, H, W)``
    batch.

    With :math:`m` values per feature (:math:`m = N`, :math:`N L` for sequences, or
    :math:`N H W` for images),

    .. math::
        \mu = \frac{1}{m}\sum_i x_i, \qquad
        \sigma^2 = \frac{1}{m}\sum_i (x_i - \mu)^2, \qquad
        \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad
        y_i = \gamma \hat x_i + \beta .

    The variance is the biased one (divide by :math:`m`), as in PyTorch and Keras. A constant
    feature has :math:`\sigma^2 = 0` and gives :math:`\hat x = 0`, never NaN.

    Parameters
    ----------
    x : array_like, shape (N, D), (N, C, L) or (N, C, H, W)
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
        ``(x - mean, gamma, inv_std, mean, var)`` for :func:`batchnorm_backward`, with
        ``inv_std`` :math:`= 1/\sqrt{\sigma^2 + \epsilon}`; ``mean`` and the biased ``var``
        have shape (D,) or (C,). (:math:`\hat x` is ``cache[0] * inv_std``; it is not stored,
        which saves a pass over the data.)

    Raises
    ------
    ValueError
        If each feature has only one value (``m = 1``), as PyTorch refuses it ("Expected more
        than 1 value per channel when training"): the biased batch variance is 0 (the output
        would be :math:`\beta`), but the unbiased variance of the running update divides by
        :math:`m - 1 = 0`. Keras 3 accepts such a batch.
    """
    x = _check_input(x, finite=False)
    eps = check_float(eps, "eps", minimum=0.0, include_min=False)
    gamma = _check_vector(gamma, "gamma", x.shape[1], x.dtype)
    beta = _check_vector(beta, "beta", x.shape[1], x.dtype)
    if _values_per_channel(x.shape) < 2:
        raise ValueError(f"Expected more than 1 value per channel when training, got input of "
                         f"shape {x.shape}; use evaluation mode for a single example")
    return _forward(x, gamma, beta, eps)


def _feature_sum(a: np.ndarray) -> np.ndarray:
    """Per-feature sum over the batch (and spatial) axes, as BLAS matrix-vector products.

    ``a.sum(axis=(0, 2, 3))`` is a strided reduction that NumPy runs several times slower than
    a contiguous ``ones @ a``: summing over axis 0 first, then over the pixels of each channel,
    is the same sum as two ``gemv`` calls.
    """
    n, c = a.shape[0], a.shape[1]
    total = np.ones(n, a.dtype) @ a.reshape(n, -1)            # (C,) or (C * H * W,)
    if a.ndim == 2:
        return total
    return total.reshape(c, -1) @ np.ones(total.size // c, a.dtype)


def _feature_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-feature sum of ``a * b`` over the batch (and spatial) axes, without a temporary."""
    n, c = a.shape[0], a.shape[1]
    return np.einsum("nck,nck->c", a.reshape(n, c, -1), b.reshape(n, c, -1))


def _check_finite(values: np.ndarray, x: np.ndarray, name: str) -> None:
    # A NaN or inf anywhere in x makes its feature's sum non-finite, so checking the (C,)
    # statistics replaces a full np.isfinite pass over x; overflow of finite values would too.
    if not np.all(np.isfinite(values)):
        if np.all(np.isfinite(x)):
            raise ValueError(f"{name} is too large: its per-feature statistics overflow "
                             f"{x.dtype}")
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")


_MIN_ROW = 8192   # NumPy's ufunc buffer size: broadcasting over shorter rows runs ~1.5x slower


def _row_layout(shape: tuple[int, ...]):
    """A 2-D ``(rows, length)`` shape for per-feature elementwise work, and ``expand``.

    ``x * v.reshape(1, -1, 1, 1)`` broadcasts a (C,) vector over rows of only W values, and
    even an ``(N, D)`` batch gives rows of D values: NumPy runs such operations 1.5-1.7 times
    slower than one with long contiguous rows. Viewing the batch as rows of several whole
    examples, and expanding the vector to one row's worth (``expand``: each value repeated
    over the pixels of its channel, then tiled over the examples of a row), computes the same
    product with rows of at least 8192 values.
    """
    n, c = shape[0], shape[1]
    pixels = math.prod(shape[2:])                            # 1 for (N, D)
    per_example = c * pixels
    group = next((k for k in range(1, n + 1) if n % k == 0 and k * per_example >= _MIN_ROW), n)

    def expand(v: np.ndarray) -> np.ndarray:
        example = v if pixels == 1 else v.repeat(pixels)    # (C * H * W,)
        return example if group == 1 else np.broadcast_to(example, (group, example.size)).ravel()

    return (n // group, group * per_example), expand


def _forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float):
    # Four passes over x: its sum (BLAS), x - mean, the squares' sum (einsum, no temporary) and
    # gamma * xhat + beta computed as (x - mean) * (gamma / std) + beta. xhat itself is never
    # materialised: the backward pass only needs (x - mean) and 1 / std.
    m = _values_per_channel(x.shape)
    rows, expand = _row_layout(x.shape)
    with np.errstate(over="ignore", invalid="ignore"):     # bad input: raise, don't warn
        mean = _feature_sum(x) / m
        _check_finite(mean, x, "x")
        xc = (x.reshape(rows) - expand(mean)).reshape(x.shape)
        var = _feature_dot(xc, xc) / m
        _check_finite(var, x, "x")
    inv_std = (1.0 / np.sqrt(var + x.dtype.type(eps))).astype(x.dtype, copy=False)
    out = xc.reshape(rows) * expand(gamma * inv_std)
    out += expand(beta)
    return out.reshape(x.shape), (xc, gamma, inv_std, mean, var)


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

    The code uses :math:`\hat x_i = (x_i - \mu)\,\sigma_\epsilon^{-1}` and folds the
    per-feature factors into vectors, so that ``dx`` costs four in-place passes over the data:
    :math:`\partial L/\partial x_i = k\,\big(g_i - \bar g - (x_i - \mu)\,s\big)` with
    :math:`k = \gamma\sigma_\epsilon^{-1}`, :math:`\bar g = \frac1m\sum_j g_j` and
    :math:`s = \sigma_\epsilon^{-1}\frac1m\sum_j g_j\hat x_j`.

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
    if not (isinstance(cache, tuple) and len(cache) == 5
            and isinstance(cache[0], np.ndarray)):
        raise TypeError(f"cache must be the cache returned by batchnorm_forward (a tuple of "
                        f"5), got {type(cache).__name__}")
    xc, gamma, inv_std, _, _ = cache
    dout = _check_dout(dout, xc, finite=False)
    m = _values_per_channel(xc.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        dbeta = _feature_sum(dout)
        _check_finite(dbeta, dout, "dout")
    dgamma = _feature_dot(dout, xc) * inv_std                  # sum_i g_i xhat_i
    # dx = k * (g - mean(g) - (x - mu) * s): four passes, one new array, no temporaries.
    rows, expand = _row_layout(xc.shape)
    dx = xc.reshape(rows) * expand(-inv_std * dgamma / m)      # -(x - mu) * s
    dx += dout.reshape(rows)
    dx -= expand(dbeta / m)
    dx *= expand(gamma * inv_std)
    return dx.reshape(xc.shape), dgamma, dbeta


def _check_dout(dout, like: np.ndarray, *, finite: bool = True) -> np.ndarray:
    dout = check_array(dout, "dout", dtype=None, finite=finite)
    if dout.shape != like.shape:
        raise ValueError(f"dout must have the forward input's shape {like.shape}, "
                         f"got {dout.shape}")
    return dout.astype(like.dtype, copy=False)


def _array_property(store: str, key: str, doc: str) -> property:
    """An attribute that reads ``self.<store>[key]`` and writes into that same array in place."""
    def fget(self):
        return getattr(self, store)[key]

    def fset(self, value):
        target = getattr(self, store)[key]
        value = check_array(value, key, ndim=1, dtype=target.dtype)
        if value.shape != target.shape:
            raise ValueError(f"{key} must have shape {target.shape}, got {value.shape}")
        if key == "running_var" and np.any(value < 0):
            raise ValueError(f"running_var must be >= 0 (a variance), got minimum {value.min()}")
        target[...] = value

    return property(fget, fset, doc=doc)


class BatchNorm:
    r"""Batch normalization layer for ``(N, D)``, ``(N, C, L)`` or ``(N, C, H, W)`` inputs, like
    PyTorch's ``BatchNorm1d`` / ``BatchNorm2d``.

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
        D for ``(N, D)`` inputs, C for ``(N, C, L)`` and ``(N, C, H, W)``.
    momentum : float
        PyTorch's momentum in [0, 1]: the weight of the new batch in the running averages.
    eps : float
        :math:`\epsilon > 0`.
    dtype : numpy dtype or {"float32", "float64"}, optional
        Floating dtype of the parameters and buffers; ``None`` (the default) means float64,
        NumPy's default float (PyTorch's ``dtype=None`` means its default, float32).
    """

    def __init__(self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5,
                 dtype=None):
        self.num_features = check_int(num_features, "num_features", minimum=1)
        self.momentum = check_float(momentum, "momentum", minimum=0.0, maximum=1.0)
        self.eps = check_float(eps, "eps", minimum=0.0, include_min=False)
        dtype = check_float_dtype(np.float64 if dtype is None else dtype)
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
        """Normalise ``x`` (``(N, num_features)``, ``(N, num_features, L)`` or
        ``(N, num_features, H, W)``).

        With ``training=True`` the batch's own statistics are used and the running ones then
        updated; with ``training=False`` the running statistics are used and nothing changes.
        Returns an array of ``x``'s shape and dtype. Invalid input (a wrong shape, non-finite
        values, one value per feature in training mode) raises before anything is modified.
        """
        training = check_bool(training, "training")
        x = _check_input(x, finite=not training)     # training: checked through the statistics
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
        mean = _per_feature(self.running_mean.astype(x.dtype), nd)
        xhat = (x - mean) * _per_feature(inv_std, nd)
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
            dgamma, dbeta = _feature_dot(dout, xhat), _feature_sum(dout)
            dx = dout * _per_feature(gamma * inv_std, xhat.ndim)
        self.grads["gamma"][...] = dgamma
        self.grads["beta"][...] = dbeta
        return dx
