r"""One-dimensional convolution, pooling and flattening from scratch (CS231n-style pairs).

Every layer is a ``*_forward(x, ...) -> (out, cache)`` and ``*_backward(dout, cache)`` pair in
PyTorch's ``(N, C, L)`` layout: N examples, C channels, L positions. The convolution is
written as one matrix product of *im2col* patches: every window of K positions of every input
channel becomes one row of a matrix, built from
:func:`numpy.lib.stride_tricks.sliding_window_view` without a Python loop over positions,

.. math::
    P \in \mathbb{R}^{(N L_{\text{out}}) \times (C_{\text{in}} K)}, \qquad
    P_{(n, l), (c, k)} = x^{\text{pad}}_{n, c, l s + k}, \qquad
    Y = P\, W^\top + \mathbf{1} b^\top,

with :math:`W` the kernel reshaped to :math:`C_{\text{out}} \times C_{\text{in}} K`. Like
PyTorch's (and unlike signal processing's) the "convolution" does not flip the kernel: it is a
cross-correlation.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from regbook._validate import check_array, check_int
from regbook.np._cache import check_cache, make_cache

__all__ = [
    "conv1d_forward",
    "conv1d_backward",
    "maxpool1d_forward",
    "maxpool1d_backward",
    "global_avg_pool1d_forward",
    "global_avg_pool1d_backward",
    "flatten_forward",
    "flatten_backward",
]


def _float_input(x, name: str, ndim) -> np.ndarray:
    """A finite float array of the given ndim; float32 stays float32, integers become float64."""
    x = check_array(x, name, ndim=ndim, dtype=None)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _check_dout(dout, shape: tuple[int, ...], dtype) -> np.ndarray:
    dout = check_array(dout, "dout", dtype=None)
    if dout.shape != tuple(shape):
        raise ValueError(f"dout must have the forward output's shape {tuple(shape)}, "
                         f"got {dout.shape}")
    return dout.astype(dtype, copy=False)


def _im2col(x: np.ndarray, k: int, stride: int, padding: int) -> np.ndarray:
    """The ``(N * L_out, C * K)`` patch matrix of an ``(N, C, L)`` input (one copy, no loop)."""
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    windows = sliding_window_view(x, k, axis=2)[:, :, ::stride]     # (N, C, L_out, K), a view
    n, c, l_out, _ = windows.shape
    return windows.transpose(0, 2, 1, 3).reshape(n * l_out, c * k)


def _col2im(dcols: np.ndarray, length: int, stride: int, padding: int) -> np.ndarray:
    """Adjoint of :func:`_im2col`: add each patch gradient back where the patch came from.

    ``dcols`` has shape ``(N, L_out, C, K)``. One vectorised addition per kernel tap ``j``
    covers every output position at once (a loop over the K taps, never over positions).
    """
    n, l_out, c, k = dcols.shape
    dxp = np.zeros((n, c, length + 2 * padding), dcols.dtype)
    span = stride * (l_out - 1) + 1
    taps = dcols.transpose(3, 0, 2, 1)                               # (K, N, C, L_out)
    for j in range(k):
        dxp[:, :, j:j + span:stride] += taps[j]
    return dxp if not padding else dxp[:, :, padding:padding + length].copy()


def conv1d_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, *, stride: int = 1, padding: int = 0
) -> tuple[np.ndarray, dict]:
    r"""Forward pass of a 1-D convolution, as ``torch.nn.functional.conv1d``.

    .. math::
        y_{n, o, l} = b_o + \sum_{c=1}^{C_{\text{in}}} \sum_{k=0}^{K-1}
            w_{o, c, k}\, x^{\text{pad}}_{n, c, l s + k},
        \qquad L_{\text{out}} = \Big\lfloor \frac{L + 2p - K}{s} \Big\rfloor + 1,

    where :math:`x^{\text{pad}}` is :math:`x` with :math:`p` zeros on both sides, :math:`s` the
    stride. Computed as one matrix product :math:`Y = P W^\top + \mathbf 1 b^\top` of the
    im2col patches :math:`P` (see the module docstring), then reshaped to ``(N, C_out, L_out)``.

    Parameters
    ----------
    x : array_like, shape (N, C_in, L)
        Finite inputs. The computation runs in ``x``'s floating dtype (float32 stays float32,
        integers become float64); ``w`` and ``b`` are cast to it.
    w : array_like, shape (C_out, C_in, K)
        Kernels (PyTorch's ``Conv1d.weight`` layout).
    b : array_like, shape (C_out,)
        Biases.
    stride : int
        Step :math:`s \ge 1` between windows.
    padding : int
        Number :math:`p \ge 0` of zeros added at both ends of every channel.

    Returns
    -------
    out : numpy.ndarray, shape (N, C_out, L_out)
    cache : dict
        ``kind="conv1d"``, the patches ``cols`` :math:`P` ``(N * L_out, C_in * K)``, ``w``,
        ``x_shape``, ``stride``, ``padding``: what :func:`conv1d_backward` needs.
    """
    x = _float_input(x, "x", 3)
    w = _float_input(w, "w", 3).astype(x.dtype, copy=False)
    b = _float_input(b, "b", 1).astype(x.dtype, copy=False)
    n, c_in, length = x.shape
    c_out, w_c_in, k = w.shape
    if w_c_in != c_in:
        raise ValueError(f"w has {w_c_in} input channels (axis 1) but x has {c_in} channels "
                         f"(axis 1)")
    if b.shape != (c_out,):
        raise ValueError(f"b must have shape ({c_out},) to match w's axis 0 (C_out), "
                         f"got {b.shape}")
    stride = check_int(stride, "stride", minimum=1)
    padding = check_int(padding, "padding", minimum=0)
    if k > length + 2 * padding:
        raise ValueError(f"the kernel (w's axis 2, K={k}) is longer than the padded input "
                         f"(L + 2*padding = {length} + 2*{padding} = {length + 2 * padding})")
    cols = _im2col(x, k, stride, padding)                            # P, (N * L_out, C_in * K)
    out = cols @ w.reshape(c_out, -1).T                              # P W^T
    out += b
    out = np.ascontiguousarray(out.reshape(n, -1, c_out).transpose(0, 2, 1))
    cache = make_cache("conv1d", cols=cols, w=w, x_shape=x.shape, stride=stride,
                       padding=padding)
    return out, cache


def conv1d_backward(
    dout: np.ndarray, cache: dict
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of :func:`conv1d_forward`, from the matrix form :math:`Y = P W^\top + \mathbf 1
    b^\top`.

    With :math:`G \in \mathbb{R}^{(N L_{\text{out}}) \times C_{\text{out}}}` the upstream
    gradient ``dout`` laid out like :math:`Y` (one row per example and output position),

    .. math::
        \frac{\partial L}{\partial b} = G^\top \mathbf 1
            = \sum_{n, l} g_{n, \cdot, l}, \qquad
        \frac{\partial L}{\partial W} = G^\top P, \qquad
        \frac{\partial L}{\partial P} = G\, W,

    and :math:`\partial L / \partial x` is :math:`\partial L / \partial P` sent back through
    the patch extraction (*col2im*): every patch entry adds its gradient to the input position
    it was copied from, :math:`\partial L/\partial x^{\text{pad}}_{n, c, j} = \sum_{l, k:\, l s +
    k = j} (\partial L/\partial P)_{(n, l), (c, k)}`, and the padding is cut off. Positions that
    no window reaches (when :math:`s` does not divide :math:`L + 2p - K`) get gradient 0.

    Parameters
    ----------
    dout : array_like, shape (N, C_out, L_out)
        Upstream gradient.
    cache : dict
        From :func:`conv1d_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, C_in, L)
    dw : numpy.ndarray, shape (C_out, C_in, K)
    db : numpy.ndarray, shape (C_out,)
    """
    cache = check_cache(cache, "conv1d")
    cols, w = cache["cols"], cache["w"]
    n, c_in, length = cache["x_shape"]
    c_out, _, k = w.shape
    l_out = cols.shape[0] // n
    dout = _check_dout(dout, (n, c_out, l_out), w.dtype)
    g = dout.transpose(0, 2, 1).reshape(n * l_out, c_out)            # G, rows like Y's
    db = g.sum(axis=0)
    dw = (g.T @ cols).reshape(w.shape)                               # G^T P
    dcols = (g @ w.reshape(c_out, -1)).reshape(n, l_out, c_in, k)    # G W
    dx = _col2im(dcols, length, cache["stride"], cache["padding"])
    return dx, dw, db


def maxpool1d_forward(
    x: np.ndarray, *, kernel_size: int, stride: int | None = None
) -> tuple[np.ndarray, dict]:
    r"""Forward pass of 1-D max pooling, as ``torch.nn.functional.max_pool1d`` (no padding).

    .. math::
        y_{n, c, l} = \max_{0 \le k < K} x_{n, c, l s + k}, \qquad
        L_{\text{out}} = \Big\lfloor \frac{L - K}{s} \Big\rfloor + 1 .

    Parameters
    ----------
    x : array_like, shape (N, C, L)
        Finite inputs (float dtypes kept, integers become float64).
    kernel_size : int
        Window length :math:`K`, ``1 <= K <= L``.
    stride : int, optional
        Step :math:`s \ge 1` between windows; ``None`` (the default) means ``kernel_size``,
        as in PyTorch.

    Returns
    -------
    out : numpy.ndarray, shape (N, C, L_out)
    cache : dict
        ``kind="maxpool1d"``, the input position of each window's maximum (``positions``,
        ``(N, C, L_out)``), ``x_shape``, ``dtype``: what :func:`maxpool1d_backward` needs.
    """
    x = _float_input(x, "x", 3)
    kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
    stride = kernel_size if stride is None else check_int(stride, "stride", minimum=1)
    length = x.shape[2]
    if kernel_size > length:
        raise ValueError(f"kernel_size={kernel_size} is longer than the input (x's axis 2, "
                         f"L={length})")
    windows = sliding_window_view(x, kernel_size, axis=2)[:, :, ::stride]   # (N, C, L_out, K)
    arg = windows.argmax(axis=3)                                     # the first maximum
    out = np.take_along_axis(windows, arg[..., None], axis=3)[..., 0]
    positions = arg + stride * np.arange(out.shape[2])
    return out, make_cache("maxpool1d", positions=positions, x_shape=x.shape, dtype=x.dtype)


def maxpool1d_backward(dout: np.ndarray, cache: dict) -> np.ndarray:
    r"""Gradient of :func:`maxpool1d_forward`: each window's gradient goes to its maximum.

    .. math::
        \frac{\partial L}{\partial x_{n, c, j}} = \sum_{l:\ j = l s + k^\star_{n, c, l}}
            g_{n, c, l}, \qquad k^\star_{n, c, l} = \operatorname{arg\,max}_k x_{n, c, l s + k},

    summed when overlapping windows (``stride < kernel_size``) share their maximum. Ties go to
    the *first* maximum of the window, as PyTorch's CPU kernel does (it replaces the running
    maximum only on a strictly larger value). All windows are handled at once with
    :func:`numpy.bincount`.

    Parameters
    ----------
    dout : array_like, shape (N, C, L_out)
        Upstream gradient of :func:`maxpool1d_forward`'s output, whose ``cache`` is the
        second argument.

    Returns
    -------
    dx : numpy.ndarray, shape (N, C, L)
    """
    cache = check_cache(cache, "maxpool1d")
    positions = cache["positions"]
    n, c, length = cache["x_shape"]
    dout = _check_dout(dout, positions.shape, cache["dtype"])
    flat = positions + length * np.arange(n * c).reshape(n, c, 1)   # indices into x.ravel()
    dx = np.bincount(flat.ravel(), weights=dout.ravel(), minlength=n * c * length)
    return dx.reshape(n, c, length).astype(cache["dtype"], copy=False)


def global_avg_pool1d_forward(x: np.ndarray) -> tuple[np.ndarray, dict]:
    r"""Global average pooling: the mean of every channel over its L positions.

    .. math:: y_{n, c} = \frac{1}{L} \sum_{j=1}^{L} x_{n, c, j}

    (``torch.nn.functional.adaptive_avg_pool1d(x, 1)`` without its last axis of length 1.)

    Parameters
    ----------
    x : array_like, shape (N, C, L)

    Returns
    -------
    out : numpy.ndarray, shape (N, C)
    cache : dict
        ``kind="global_avg_pool1d"``, ``x_shape``, ``dtype``.
    """
    x = _float_input(x, "x", 3)
    return x.mean(axis=2), make_cache("global_avg_pool1d", x_shape=x.shape, dtype=x.dtype)


def global_avg_pool1d_backward(dout: np.ndarray, cache: dict) -> np.ndarray:
    r"""Gradient of :func:`global_avg_pool1d_forward`: every position gets a 1/L share.

    .. math:: \frac{\partial L}{\partial x_{n, c, j}} = \frac{g_{n, c}}{L}

    Parameters
    ----------
    dout : array_like, shape (N, C)
    cache : dict
        From :func:`global_avg_pool1d_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, C, L)
    """
    cache = check_cache(cache, "global_avg_pool1d")
    n, c, length = cache["x_shape"]
    dout = _check_dout(dout, (n, c), cache["dtype"])
    return np.repeat((dout / length)[:, :, None], length, axis=2)


def flatten_forward(x: np.ndarray) -> tuple[np.ndarray, dict]:
    r"""Flatten every example into one row, channel after channel (``torch.flatten(x, 1)``).

    .. math:: y_{n, c L + j} = x_{n, c, j}

    Parameters
    ----------
    x : array_like, shape (N, C, L) (or any ``(N, ...)`` with at least two axes)

    Returns
    -------
    out : numpy.ndarray, shape (N, C * L)
        A view of ``x`` when possible, as in PyTorch.
    cache : dict
        ``kind="flatten"``, ``x_shape``, ``dtype``.
    """
    x = _float_input(x, "x", None)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (N, ...), got shape {x.shape}")
    return x.reshape(len(x), -1), make_cache("flatten", x_shape=x.shape, dtype=x.dtype)


def flatten_backward(dout: np.ndarray, cache: dict) -> np.ndarray:
    r"""Gradient of :func:`flatten_forward`: the upstream gradient reshaped back,
    :math:`\partial L / \partial x_{n, c, j} = g_{n, c L + j}`.

    Parameters
    ----------
    dout : array_like, shape (N, C * L)
    cache : dict
        From :func:`flatten_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape ``x_shape`` (N, C, L)
    """
    cache = check_cache(cache, "flatten")
    shape = cache["x_shape"]
    dout = _check_dout(dout, (shape[0], math.prod(shape[1:])), cache["dtype"])
    return dout.reshape(shape)
