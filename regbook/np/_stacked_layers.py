r"""K copies of one NumPy network as one: every layer batched over a leading model axis.

The K members of :func:`regbook.np.fit_seeds` share an architecture, so their parameters stack
into arrays with a leading axis of length K -- a :class:`~regbook.np.Linear`'s ``W`` becomes
``(K, n_in, n_out)``, a :class:`~regbook.np.Conv1d`'s ``w`` ``(K, C_out, C_in, k)`` -- and
their batches into one ``(K, B, ...)`` array, row k holding member k's own examples. Every
layer then runs once for all K members, e.g.

.. math:: Y_k = X_k W_k + b_k \quad (k = 1, \dots, K) \quad\text{as one } \texttt{np.matmul}
          \text{ of } (K, B, n_\text{in}) \text{ by } (K, n_\text{in}, n_\text{out}),

with hand-written backward passes, as the single layers have.

**Layout.** Between :class:`~regbook.np.AddChannel` and :class:`~regbook.np.Flatten` the
stacked activations are kept *channels last*, ``(K, B, L, C)``, where the single layers use
PyTorch's ``(B, C, L)``. A convolution window of k positions then covers ``k C`` consecutive
numbers, so the im2col patches of all members are one strided view copied with contiguous
rows, and the product :math:`P_k W_k'` (:math:`W_k'` the kernel as a ``(k C_in, C_out)``
matrix) comes out already in the next layer's layout: no transposes of the activations, which
dominate the single layers' cost at these sizes. A convolution with many input channels
skips even the patches: its padded input, cut into rows of ``stride`` positions, is multiplied
by the kernel's taps in a few shifted products (:class:`_Conv1d`'s grouped form); and a ReLU
right before such a convolution or :class:`~regbook.np.Flatten` is applied by that layer as it
copies its input, so the activations are read and written once less.
:class:`~regbook.np.Flatten` returns to ``(C, L)`` order, so the head's weights are the
members' own; dropout masks are drawn in the single layer's ``(B, C, L)`` shape from each
member's own generator (in a single run's order) and transposed. Batch norm's statistics and
running estimates are per member and channel (:math:`m = B L` values each); layer norm's
:math:`\hat x` is :func:`~regbook.np.layernorm_forward`'s (it normalises any leading axes),
with each member's :math:`\gamma_k, \beta_k`; the pooling pairs of :mod:`regbook.np.conv`
are reused with the members folded into the batch. So stacked training equals K single runs
up to rounding. The convolutions and :class:`~regbook.np.Flatten` keep their large work
arrays from step to step (:meth:`_Stacked._buffer`; fresh pages cost more than the arithmetic
at these sizes) and take ReLU against an array of zeros (:func:`_relu`): neither changes a
number.

The parameter names are a :class:`~regbook.np.Sequential`'s (``"0.W"``, ``"1.w"``, ...), so
the toolkit's optimizers (:mod:`regbook.np.optimizers`, elementwise rules) and the training
step (:func:`regbook.np.training.train_step`) apply to a :class:`StackedSequential` unchanged.
"""

from __future__ import annotations

import numpy as np

from regbook.np.batchnorm import BatchNorm
from regbook.np.conv import (
    global_avg_pool1d_backward,
    global_avg_pool1d_forward,
    maxpool1d_backward,
    maxpool1d_forward,
)
from regbook.np.dropout import dropout_backward, dropout_forward, dropout_mask
from regbook.np.layernorm import layernorm_backward, layernorm_forward
from regbook.np.layers import (
    AddChannel,
    ChannelsLast,
    Conv1d,
    Dropout,
    Flatten,
    GlobalAvgPool1d,
    LayerNorm,
    Linear,
    MaxPool1d,
    ReLU,
    Sequential,
    _LayerList,
)
from regbook.np.losses import log_softmax

__all__ = ["StackedSequential", "stacked_cross_entropy", "stacked_loss_accuracy"]


def _float_like(x: np.ndarray, param: np.ndarray) -> np.ndarray:
    """``x`` in the common dtype of ``x`` and the parameters, as the single layers compute."""
    return x.astype(np.result_type(x.dtype, param.dtype), copy=False)


def _to_single_layout(x: np.ndarray) -> np.ndarray:
    """Channels-last ``(K, B, L, C)`` as the single layers' ``(K B, C, L)`` (a view)."""
    return x.transpose(0, 1, 3, 2).reshape((-1,) + x.shape[3:1:-1])


class _Stacked:
    """K layers of one kind as one; ``params``/``buffers`` stacked on a leading axis K."""

    def __init__(self, members: list):
        self.members = members
        first = members[0]
        self.params = {k: np.stack([m.params[k] for m in members]) for k in first.params}
        self.buffers = {k: np.stack([m.buffers[k] for m in members]) for k in first.buffers}
        self.grads: dict[str, np.ndarray] = {}
        self.cache = None
        self._work: dict[tuple, np.ndarray] = {}

    def _buffer(self, name: str, shape: tuple, dtype) -> np.ndarray:
        """The work array ``name`` of this shape and dtype, kept and reused from call to call.

        The batches of one run have one shape, so every step would allocate the same large
        arrays again, and fresh pages cost more than the arithmetic here. A new buffer is
        zero, so a layer that writes only the interior of a padded copy finds its zero border
        still zero. Only a layer's work arrays and the caches of its own backward pass are
        buffers, never an array that outlives the next call of this layer (the network's
        outputs, gradients, parameters). Not to be confused with ``buffers``, the members'
        running estimates.
        """
        key = (name, tuple(shape), np.dtype(dtype))
        buf = self._work.get(key)
        if buf is None:
            buf = self._work[key] = np.zeros(shape, dtype)
        return buf

    def _zeros(self, x: np.ndarray) -> np.ndarray:
        """Zeros of ``x``'s shape and dtype (a buffer never written): :func:`_relu`'s other
        operand."""
        return self._buffer("zeros", x.shape, x.dtype)

    def write_back(self) -> None:
        """Copy member k's slice of every stacked array into member k's own arrays."""
        for k, member in enumerate(self.members):
            for key, arr in member.params.items():
                arr[...] = self.params[key][k]
            for key, arr in member.buffers.items():
                arr[...] = self.buffers[key][k]

    def backward(self, dout: np.ndarray, need_dx: bool = True):  # pragma: no cover
        raise NotImplementedError


class _Linear(_Stacked):
    r""":math:`Y_k = X_k W_k + b_k`; backward :math:`X_k^\top G_k`, :math:`\sum_i G_{k,i}`,
    :math:`G_k W_k^\top`."""

    def forward(self, x, training):
        self.cache = x
        return np.matmul(x, self.params["W"]) + self.params["b"][:, None, :]

    def backward(self, dout, need_dx=True):
        x, W = self.cache, self.params["W"]
        self.grads = {"W": np.matmul(x.transpose(0, 2, 1), dout), "b": _column_sum(dout)}
        return np.matmul(dout, W.transpose(0, 2, 1)) if need_dx else None


#: The grouped form of :class:`_Conv1d` needs ``stride * C_in`` numbers in a group of positions
#: at least this wide to pay off; a narrower convolution (a first layer's single channel) runs
#: through im2col patches, which are small there.
_GROUPED_MIN_WIDTH = 16


class _Conv1d(_Stacked):
    r""":func:`regbook.np.conv1d_forward` per member, channels last, as batched matrix products
    with the kernel :math:`W_k'` as a ``(k C_in, C_out)`` matrix (rows: tap, then channel).

    *Grouped form* (``stride * C_in >= 16``). The padded input of an example is cut into rows
    of :math:`s` consecutive positions (all channels): row :math:`q` of the matrix :math:`F`
    holds positions :math:`q s .. q s + s - 1`, so window :math:`l` is rows :math:`l, l + 1,
    .., l + G - 1` (:math:`G = \lceil k / s \rceil` groups of taps, the last one possibly
    partial) and

    .. math:: Y_l = \sum_{g < G} F_{l + g}\, W'_g + b, \qquad
              \partial W'_g = \sum_l F_{l + g}^\top \partial Y_l, \qquad
              \partial F_q = \sum_g \partial Y_{q - g}\, W_g'^\top ,

    :math:`W'_g` the rows of taps :math:`g s .. g s + s - 1`. With :math:`L_\text{out} + G - 1`
    rows per example (the last :math:`G - 1` outputs are discarded, their gradients are zero)
    the rows of all examples of a member are one matrix with a constant stride, so each sum
    is :math:`G` plain BLAS products over shifted row ranges of the one padded copy of the
    input: no patch matrix is built and no patch gradient is scattered back (col2im). When a
    ReLU comes right before (``relu_input``, set by :class:`StackedSequential`), it is applied
    while the input is copied in, :math:`F = \max(0, x)`, and its mask :math:`[F > 0]` is
    applied to :math:`\partial x`.

    *im2col form* (narrower inputs): the patches :math:`P_k` ``(B L_out, k C_in)`` (row
    :math:`(n, l)`: positions :math:`ls .. ls + k - 1` of the padded input, all channels),
    stored with a column of ones so that the bias is part of the product,
    :math:`Y_k = [P_k\ \mathbf 1] [W_k'; b_k^\top]`; backward :math:`[\partial W_k';
    \partial b_k^\top] = [P_k\ \mathbf 1]^\top G_k`, :math:`\partial P_k = G_k W_k'^\top`
    added back tap by tap (col2im)."""

    def __init__(self, members: list):
        super().__init__(members)
        layer = members[0]
        self.k, self.s, self.p = layer.kernel_size, layer.stride, layer.padding
        self.grouped = self.s * layer.c_in >= _GROUPED_MIN_WIDTH
        self.relu_input = False

    def _kernel(self) -> np.ndarray:
        w = self.params["w"]                                   # (K, C_out, C_in, k)
        return w.transpose(0, 3, 2, 1).reshape(w.shape[0], -1, w.shape[1])

    def _groups(self, c_in: int) -> list[tuple[int, int]]:
        """Each group of taps as (first row of W', number of rows)."""
        k, s = self.k, self.s
        return [(g * c_in, min(s, k - g) * c_in) for g in range(0, k, s)]

    def forward(self, x, training):
        kernel = self._kernel()                                # W' (K, k C_in, C_out)
        x = _float_like(x, kernel)
        if not self.grouped:
            return self._forward_im2col(x, kernel)
        n_models, n, length, c_in = x.shape
        k, s, p = self.k, self.s, self.p
        groups = self._groups(c_in)
        l_out = (length + 2 * p - k) // s + 1
        per_example = l_out + len(groups) - 1                  # rows of F per example
        rows = n * per_example
        # zero from its first use: the rows past the last example (read only by discarded
        # outputs) and the padding positions, which are never written
        frame = self._buffer(f"frame{length}", (n_models, rows + len(groups) - 1, s * c_in),
                             x.dtype)
        padded = frame[:, :rows].reshape(n_models, n, s * per_example, c_in)
        keep = min(length, s * per_example - p)                # positions some window reads
        if self.relu_input:
            _relu(x[:, :, :keep], out=padded[:, :, p:p + keep], zeros=self._zeros(x))
        else:
            padded[:, :, p:p + keep] = x[:, :, :keep]
        c_out = kernel.shape[2]
        out = self._buffer("out", (n_models, rows, c_out), x.dtype)
        part = self._buffer("part", out.shape, x.dtype) if len(groups) > 1 else None
        for g, (first, width) in enumerate(groups):
            np.matmul(frame[:, g:g + rows, :width], kernel[:, first:first + width],
                      out=out if g == 0 else part)
            if g > 0:
                out += part
        out += self.params["b"][:, None, :]
        self.cache = (frame, kernel, x.shape, l_out)
        return out.reshape(n_models, n, per_example, -1)[:, :, :l_out]

    def backward(self, dout, need_dx=True):
        if not self.grouped:
            return self._backward_im2col(dout, need_dx)
        frame, kernel, (n_models, n, length, c_in), l_out = self.cache
        s, p = self.s, self.p
        groups = self._groups(c_in)
        per_example = l_out + len(groups) - 1
        rows = n * per_example
        # zero from its first use in the rows of discarded outputs, which are never written
        g_frame = self._buffer("g_frame", (n_models, n, per_example, kernel.shape[2]),
                               kernel.dtype)
        g_frame[:, :, :l_out] = dout
        g = g_frame.reshape(n_models, rows, -1)
        dkernel = np.empty(kernel.shape, frame.dtype)
        for i, (first, width) in enumerate(groups):
            np.matmul(frame[:, i:i + rows, :width].transpose(0, 2, 1), g,
                      out=dkernel[:, first:first + width])
        dw = dkernel.reshape(n_models, self.k, c_in, -1).transpose(0, 3, 2, 1)
        self.grads = {"w": np.ascontiguousarray(dw), "b": _column_sum(g)}
        if not need_dx:
            return None
        kernel_t = kernel.transpose(0, 2, 1)                   # (K, C_out, k C_in)
        d_frame = self._buffer("d_frame", frame.shape, kernel.dtype)   # a fresh dx below
        d_frame[:, rows:] = 0
        for i, (first, width) in enumerate(groups):
            part = d_frame[:, i:i + rows, :width]
            if i == 0 and width == frame.shape[2]:             # every row of d_frame
                np.matmul(g, kernel_t[:, :, :width], out=part)
                continue
            if i == 0:
                d_frame[:, :rows] = 0
            tap = self._buffer("d_part", (n_models, rows, width), kernel.dtype)
            part += np.matmul(g, kernel_t[:, :, first:first + width], out=tap)
        if self.relu_input:                                    # ReLU's mask, padding included
            mask = np.greater(frame, 0, out=self._buffer("mask", frame.shape, bool))
            np.multiply(d_frame, mask, out=d_frame)
        d_padded = d_frame[:, :rows].reshape(n_models, n, s * per_example, c_in)
        keep = min(length, s * per_example - p)
        dx = d_padded[:, :, p:p + keep]
        if keep == length:
            return dx
        full = np.zeros((n_models, n, length, c_in), dx.dtype)
        full[:, :, :keep] = dx
        return full

    def _forward_im2col(self, x, kernel):
        n_models, n, length, c_in = x.shape
        k, s, p = self.k, self.s, self.p
        padded = self._buffer("padded", (n_models, n, length + 2 * p, c_in), x.dtype)
        padded[:, :, p:p + length] = x                         # the zero border stays
        l_out = (length + 2 * p - k) // s + 1
        cols = self._buffer("cols", (n_models, n, l_out, k * c_in + 1), x.dtype)
        span = s * (l_out - 1) + 1
        for j in range(k):          # P tap by tap: a few long copies, not one per window
            cols[:, :, :, j * c_in:(j + 1) * c_in] = padded[:, :, j:j + span:s]
        cols[..., -1] = 1                                      # [P 1] [W'; b^T] = P W' + 1 b^T
        cols = cols.reshape(n_models, n * l_out, -1)
        out = self._buffer("out", (n_models, n * l_out, kernel.shape[2]), x.dtype)
        np.matmul(cols, np.concatenate([kernel, self.params["b"][:, None, :]], axis=1), out=out)
        self.cache = (cols, kernel, x.shape)
        return out.reshape(n_models, n, l_out, -1)

    def _backward_im2col(self, dout, need_dx):
        cols, kernel, (n_models, n, length, c_in) = self.cache
        k, s, p = self.k, self.s, self.p
        g = dout.astype(kernel.dtype, copy=False).reshape(n_models, cols.shape[1], -1)
        dkernel = np.matmul(cols.transpose(0, 2, 1), g)      # [dW'; db^T] (K, k C_in + 1, C_out)
        dw = dkernel[:, :-1].reshape(n_models, k, c_in, -1).transpose(0, 3, 2, 1)
        self.grads = {"w": np.ascontiguousarray(dw), "b": dkernel[:, -1].copy()}
        if not need_dx:
            return None
        dcols = np.matmul(g, kernel.transpose(0, 2, 1))       # dP (K, B L_out, k C_in)
        return _col2im(dcols.reshape(n_models, n, dout.shape[2], k, c_in), length, s, p)


def _relu(x: np.ndarray, *, out: np.ndarray, zeros: np.ndarray) -> np.ndarray:
    """``max(0, x)`` into ``out``, with ``zeros`` an array of zeros of ``x``'s shape.

    The same numbers as ``np.maximum(x, 0, out=out)``, 2-4x as fast: NumPy's loop over two
    arrays is vectorised, its loop over an array and a scalar (here) is not."""
    return np.maximum(x, zeros, out=out)


def _col2im(dcols: np.ndarray, length: int, stride: int, padding: int) -> np.ndarray:
    r"""Adjoint of the channels-last patch extraction: ``dcols`` ``(K, B, L_out, k, C)`` added
    back where each patch came from, :math:`\partial x^{\text{pad}}_{l s + j} \mathrel{+}=
    \partial P_{l, j}`, then the padding cut off.

    Taps :math:`j_0 .. j_0 + s - 1` of window :math:`l` land on the :math:`s` consecutive
    positions :math:`l s + j_0 ..`, which are :math:`s C` consecutive numbers in both arrays:
    so one vectorised addition per group of :math:`s` taps covers every window (a loop over
    :math:`\lceil k/s 
ceil` groups, never over positions).
    """
    n_models, n, l_out, k, c = dcols.shape
    groups = -(-k // stride)
    room = max(length + 2 * padding, (groups - 1) * stride + stride * l_out)
    dpadded = np.zeros((n_models, n, room, c), dcols.dtype)
    for first in range(0, k, stride):
        size = min(stride, k - first)
        target = dpadded[:, :, first:first + stride * l_out].reshape(n_models, n, l_out,
                                                                    stride, c)
        target[:, :, :, :size] += dcols[:, :, :, first:first + size]
    return dpadded[:, :, padding:padding + length]


def _rows(x: np.ndarray) -> np.ndarray:
    """``(K, B, C)`` or channels-last ``(K, B, L, C)`` as ``(K, M, C)``: a member's values of
    each channel in one column (a view)."""
    return x.reshape(x.shape[0], -1, x.shape[-1])


class _BatchNorm(_Stacked):
    r""":class:`regbook.np.BatchNorm` per member: the mean and biased variance of member k,
    channel c over its :math:`m = B L` values (the channel is the last axis here); the running
    estimates ``(K, C)`` follow the single layer's (PyTorch's) update."""

    def forward(self, x, training):
        layer = self.members[0]
        gamma, beta = (self.params[k].astype(x.dtype)[:, None, :] for k in ("gamma", "beta"))
        rows = _rows(x)
        if not training:
            inv_std = (1.0 / np.sqrt(self.buffers["running_var"] + layer.eps)).astype(x.dtype)
            mean = self.buffers["running_mean"].astype(x.dtype)
            xhat = (rows - mean[:, None, :]) * inv_std[:, None, :]
            return (gamma * xhat + beta).reshape(x.shape)
        out, self.cache = _batchnorm_train(rows, gamma, beta, layer.eps)
        self._update_running(*self.cache[3:])
        return out.reshape(x.shape)

    def _update_running(self, mean, var, m):
        mom = self.members[0].momentum
        unbiased = var * (m / (m - 1))
        rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
        rm[...] = mom * mean + (1 - mom) * rm
        rv[...] = mom * unbiased + (1 - mom) * rv

    def backward(self, dout, need_dx=True):
        r""":func:`regbook.np.batchnorm_backward`'s closed form, per member:
        :math:`\partial x = k\,(g - \bar g - (x - \mu)\, s)`, :math:`k = \gamma\sigma^{-1}`,
        :math:`s = \sigma^{-1}\frac1m\sum_j g_j\hat x_j`."""
        xc, gamma, inv_std, _, _, m = self.cache
        g = _rows(dout.astype(xc.dtype, copy=False))
        dbeta = _column_sum(g)
        dgamma = np.einsum("kmc,kmc->kc", g, xc) * inv_std
        self.grads = {"gamma": dgamma, "beta": dbeta}
        dx = xc * (-inv_std * dgamma / m)[:, None, :]
        dx += g
        dx -= (dbeta / m)[:, None, :]
        dx *= gamma * inv_std[:, None, :]
        return dx.reshape(dout.shape)


def _column_sum(a: np.ndarray) -> np.ndarray:
    """``(K, M, C) -> (K, C)``: each member's column sums, as BLAS products with ones (as
    :mod:`regbook.np.batchnorm` sums)."""
    return np.matmul(np.ones(a.shape[1], a.dtype), a)


def _batchnorm_train(rows: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float):
    r"""Training-mode batch norm of ``(K, m, C)``, per member and channel:
    :math:`\mu`, biased :math:`\sigma^2` over the m values,
    :math:`y = \gamma (x - \mu)/\sqrt{\sigma^2 + \epsilon} + \beta`
    (:func:`regbook.np.batchnorm_forward` with an extra leading axis)."""
    m = rows.shape[1]
    if m < 2:
        raise ValueError("Expected more than 1 value per channel when training, got a batch "
                         "of one example per model; use evaluation mode for a single example")
    with np.errstate(over="ignore", invalid="ignore"):
        mean = _column_sum(rows) / m
        xc = rows - mean[:, None, :]
        var = np.einsum("kmc,kmc->kc", xc, xc) / m
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var))):
        raise ValueError("x must contain only finite values (no NaN or inf): a member's "
                         "batch-norm statistics are not finite (has training diverged?)")
    inv_std = (1.0 / np.sqrt(var + rows.dtype.type(eps))).astype(rows.dtype, copy=False)
    out = xc * (gamma * inv_std[:, None, :])
    out += beta
    return out, (xc, gamma, inv_std, mean, var, m)


class _LayerNorm(_Stacked):
    r"""Layer norm, each member with its own :math:`\gamma_k, \beta_k`: :math:`\hat x` from
    :func:`regbook.np.layernorm_forward` with unit scale and zero shift (it normalises any
    leading axes), then :math:`y = \gamma_k \hat x + \beta_k`; backward feeds
    :math:`\gamma_k g` to :func:`regbook.np.layernorm_backward`. Wrapped in
    :class:`~regbook.np.ChannelsLast` it normalises the channels -- the last axis here; bare on
    a ``(K, B, L, C)`` feature map, the positions (the single layer's last axis)."""

    def __init__(self, members: list, channels_last: bool):
        super().__init__(members)
        self.channels_last = channels_last
        self.eps = (members[0].layer if channels_last else members[0]).eps

    def _moved(self, a: np.ndarray) -> bool:
        return a.ndim == 4 and not self.channels_last       # normalise L, axis 2 here

    def forward(self, x, training):
        moved = self._moved(x)
        if moved:
            x = np.moveaxis(x, 2, -1)
        gamma, beta = self.params["gamma"], self.params["beta"]
        x = _float_like(x, gamma)
        d = gamma.shape[1]
        xhat, cache = layernorm_forward(x, np.ones(d, x.dtype), np.zeros(d, x.dtype),
                                        eps=self.eps)
        shape = (len(gamma),) + (1,) * (x.ndim - 2) + (d,)
        out = gamma.astype(x.dtype).reshape(shape) * xhat + beta.astype(x.dtype).reshape(shape)
        self.cache = (xhat, cache, shape)
        return np.moveaxis(out, -1, 2) if moved else out

    def backward(self, dout, need_dx=True):
        xhat, cache, shape = self.cache
        moved = self._moved(dout)
        if moved:
            dout = np.moveaxis(dout, 2, -1)
        dout = dout.astype(xhat.dtype, copy=False)
        rows = dout.reshape(dout.shape[0], -1, dout.shape[-1])         # (K, rows, D)
        self.grads = {"gamma": np.einsum("krj,krj->kj", rows, xhat.reshape(rows.shape)),
                      "beta": rows.sum(axis=1)}
        gamma = self.params["gamma"].astype(xhat.dtype).reshape(shape)
        dx, _, _ = layernorm_backward(dout * gamma, cache)
        return np.moveaxis(dx, -1, 2) if moved else dx


class _Dropout(_Stacked):
    """Each member's mask drawn from its own layer's generator in the single layer's shape
    (``(B, C, L)`` for a feature map, transposed to channels last), then
    :func:`regbook.np.dropout_forward` with the stacked mask."""

    def forward(self, x, training):
        layer = self.members[0]
        mask = None
        if training:
            if x.ndim == 4:
                shape = (x.shape[1], x.shape[3], x.shape[2])
                mask = np.stack([dropout_mask(shape, layer.p, rng=m.rng).transpose(0, 2, 1)
                                 for m in self.members])
            else:
                mask = np.stack([dropout_mask(x.shape[1:], layer.p, rng=m.rng)
                                 for m in self.members])
        out, self.cache = dropout_forward(x, layer.p, rng=None, training=training,
                                          scaling=layer.scaling, keep_mask=mask)
        return out

    def backward(self, dout, need_dx=True):
        return dropout_backward(dout, self.cache)


class _ReLU(_Stacked):
    """``max(0, x)``; ``folded``: left to the layer right after it (a grouped
    :class:`_Conv1d` or :class:`_Flatten`, whose ``relu_input`` is set), so here the
    identity."""

    folded = False

    def forward(self, x, training):
        if self.folded:
            return x
        self.cache = x > 0
        return _relu(x, out=np.empty(x.shape, x.dtype), zeros=self._zeros(x))

    def backward(self, dout, need_dx=True):
        if self.folded:
            return dout
        if dout.flags.writeable and dout.dtype.kind == "f":   # the next layer's fresh array
            return np.multiply(dout, self.cache, out=dout)
        return dout * self.cache


class _AddChannel(_Stacked):
    """Rows ``(K, B, L)`` as one-channel signals, channels last ``(K, B, L, 1)``."""

    def forward(self, x, training):
        return x[..., None]

    def backward(self, dout, need_dx=True):
        return dout[..., 0]


class _Flatten(_Stacked):
    r"""Channels-last ``(K, B, L, C)`` to rows ``(K, B, C L)`` in the single layer's ``(C, L)``
    order, so that the next Linear's weights are the members' own. With ``relu_input`` (a
    folded ReLU right before it) the copy is :math:`\max(0, x)` and the backward pass applies
    its mask."""

    relu_input = False

    def forward(self, x, training):
        self.cache = (x.shape, None)
        if x.ndim == 4:            # the next layer's input and cache: a buffer of this layer
            out = self._buffer("out", x.shape[:2] + (x.shape[3], x.shape[2]), x.dtype)
            x = x.transpose(0, 1, 3, 2)
        elif not self.relu_input:
            return x
        else:
            out = self._buffer("out", x.shape, x.dtype)
        if self.relu_input:
            _relu(x, out=out, zeros=self._zeros(x))
            self.cache = (self.cache[0], out)
        else:
            out[...] = x
        return out.reshape(out.shape[:2] + (-1,))

    def backward(self, dout, need_dx=True):
        shape, relu_out = self.cache
        if relu_out is not None:
            dout = dout * (relu_out.reshape(dout.shape) > 0)
        if len(shape) == 3:
            return dout
        return dout.reshape(shape[:2] + (shape[3], shape[2])).transpose(0, 1, 3, 2)


class _MaxPool1d(_Stacked):
    """:func:`regbook.np.maxpool1d_forward` on the members folded into the batch."""

    def forward(self, x, training):
        layer = self.members[0]
        out, cache = maxpool1d_forward(_to_single_layout(x), kernel_size=layer.kernel_size,
                                       stride=layer.stride)
        self.cache = (cache, x.shape)
        return out.reshape(x.shape[:2] + out.shape[1:]).transpose(0, 1, 3, 2)

    def backward(self, dout, need_dx=True):
        cache, shape = self.cache
        dx = maxpool1d_backward(_to_single_layout(dout), cache)
        return dx.reshape(shape[:2] + dx.shape[1:]).transpose(0, 1, 3, 2)


class _GlobalAvgPool1d(_Stacked):
    """:func:`regbook.np.global_avg_pool1d_forward` on the members folded into the batch."""

    def forward(self, x, training):
        out, cache = global_avg_pool1d_forward(_to_single_layout(x))
        self.cache = (cache, x.shape)
        return out.reshape(x.shape[:2] + out.shape[1:])

    def backward(self, dout, need_dx=True):
        cache, shape = self.cache
        dx = global_avg_pool1d_backward(dout.reshape((-1,) + dout.shape[2:]), cache)
        return dx.reshape(shape[:2] + dx.shape[1:]).transpose(0, 1, 3, 2)


#: The layer types :class:`StackedSequential` stacks, and how.
_STACKERS = {Linear: _Linear, Conv1d: _Conv1d, BatchNorm: _BatchNorm, ReLU: _ReLU,
             Dropout: _Dropout, AddChannel: _AddChannel, Flatten: _Flatten,
             MaxPool1d: _MaxPool1d, GlobalAvgPool1d: _GlobalAvgPool1d,
             LayerNorm: lambda members: _LayerNorm(members, channels_last=False)}

#: In words, for the error message.
SUPPORTED = ("Linear, Conv1d, BatchNorm, LayerNorm, ChannelsLast(LayerNorm), ReLU, Dropout, "
             "AddChannel, Flatten, MaxPool1d, GlobalAvgPool1d")


def _stack_layer(members: list, index: int) -> _Stacked:
    kind = type(members[0])
    if kind is ChannelsLast and type(members[0].layer) is LayerNorm:
        return _LayerNorm(members, channels_last=True)
    if kind not in _STACKERS:
        raise TypeError(f"fit_seeds cannot stack layer {index} ({kind.__name__}) of the model: "
                        f"it stacks {SUPPORTED}; train such a model one seed at a time with "
                        "fit_classifier")
    return _STACKERS[kind](members)


class StackedSequential(_LayerList):
    """K :class:`~regbook.np.Sequential` members of one architecture, run as one.

    Follows the layer protocol on stacked arrays: ``forward(x, training)`` takes ``(K, B,
    ...)`` (member k's batch in row k) and returns ``(K, B, ...)``; ``backward(dout)`` fills
    ``grads``; ``params``, ``grads`` and ``buffers`` have the members' names (``"0.W"``, ...)
    with arrays of a leading axis K. :meth:`write_back` copies the stacked arrays into the
    members.
    """

    def __init__(self, members: list[Sequential]):
        self.n_members = len(members)
        self.layers = [_stack_layer([m.layers[i] for m in members], i)
                       for i in range(len(members[0].layers))]
        with_params = [i for i, layer in enumerate(self.layers) if layer.params]
        self._first_trained = with_params[0] if with_params else -1
        for before, layer in zip(self.layers, self.layers[1:]):
            if type(before) is _ReLU and (type(layer) is _Flatten
                                          or (type(layer) is _Conv1d and layer.grouped)):
                before.folded = layer.relu_input = True     # one pass over the activations


    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, dout: np.ndarray) -> None:
        """Back-propagate to the first layer with parameters (the input's gradient is not
        needed for training, so it is not computed)."""
        if self._first_trained < 0:                   # nothing to train
            return
        for i in range(len(self.layers) - 1, self._first_trained - 1, -1):
            dout = self.layers[i].backward(dout, need_dx=i != self._first_trained)

    def write_back(self) -> None:
        for layer in self.layers:
            layer.write_back()


def stacked_cross_entropy(logits: np.ndarray, y: np.ndarray, *,
                          label_smoothing: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Each member's mean softmax cross-entropy, and its gradient, for ``(K, B, C)`` logits.

    .. math:: L_k = -\frac1B \sum_i \sum_c Q_{k,i,c}
              \log \operatorname{softmax}(Z_{k,i})_c, \qquad
              \frac{\partial L_k}{\partial Z_k} = \frac1B (P_k - Q_k),

    with the smoothed targets :math:`Q_{k,i} = (1 - \varepsilon)\,\text{onehot}(y_{k,i})
    + \varepsilon / C` (:math:`\varepsilon` = ``label_smoothing``, already checked; one-hot
    at 0) -- :func:`regbook.np.softmax_cross_entropy` per member. Returns
    ``(losses (K,), dlogits)``.
    """
    eps = label_smoothing
    n_models, n, c = logits.shape
    logp = log_softmax(logits.reshape(n_models * n, c)).reshape(logits.shape)
    members, rows = np.arange(n_models)[:, None], np.arange(n)[None, :]
    dlogits = np.exp(logp)
    if eps == 0.0:
        losses = -logp[members, rows, y].mean(axis=1)
        dlogits[members, rows, y] -= 1.0
    else:
        losses = -((1.0 - eps) * logp[members, rows, y]
                   + (eps / c) * logp.sum(axis=2)).mean(axis=1)
        dlogits[members, rows, y] -= 1.0 - eps
        dlogits -= eps / c
    dlogits /= n
    return losses, dlogits


def default_eval_chunk(n_members: int) -> int:
    """Rows per member of one evaluation pass of ``n_members`` stacked members."""
    return max(16, 512 // n_members)


def stacked_loss_accuracy(stacked: StackedSequential, X: np.ndarray, y: np.ndarray, *,
                          chunk: int | None = None) -> list[tuple[float, float]]:
    """Every member's mean cross-entropy and accuracy on the same ``(X, y)``, evaluation mode.

    The rows go through in chunks of ``chunk`` per member, by default ``max(16, 512 // K)``
    (~512 rows in all per pass: its arrays stay in cache). The chunk size can change the
    logits in the last bit (BLAS blocks products by size), so groups of one ``fit_seeds`` call
    share one.
    """
    n_models = stacked.n_members
    chunk = default_eval_chunk(n_models) if chunk is None else chunk
    logits = np.concatenate(
        [stacked.forward(np.broadcast_to(X[i:i + chunk], (n_models,) + X[i:i + chunk].shape),
                         training=False) for i in range(0, len(X), chunk)], axis=1)
    n, c = logits.shape[1:]
    logp = log_softmax(logits.reshape(-1, c)).reshape(logits.shape)
    # (K, n) in C order, so that each member's mean is summed as a single run sums it
    # (NumPy's pairwise sum along a contiguous row), whatever K is
    losses = -np.ascontiguousarray(logp[:, np.arange(n), y]).mean(axis=1)
    accuracies = np.mean(logits.argmax(axis=2) == y, axis=1)
    return [(float(loss), float(acc)) for loss, acc in zip(losses, accuracies)]
