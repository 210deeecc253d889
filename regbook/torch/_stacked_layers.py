r"""K copies of one PyTorch CNN as one, with hand-written forward and backward passes.

:func:`regbook.torch.fit_seeds` trains K members of one architecture; their parameters are
stacked on a leading model axis (``torch.func.stack_module_state``: a ``Conv1d``'s weight
becomes ``(K, C_out, C_in, k)``, a ``Linear``'s ``(K, out, in)``) and their batches are one
``(K, B, ...)`` tensor, row k holding member k's examples. For the layers of
:func:`regbook.torch.make_cnn` and :func:`regbook.torch.make_mlp` without normalization or
dropout (``Unflatten``, ``Conv1d``, ``ReLU``, ``Flatten``, ``Linear``) :class:`StackedNet`
runs every layer once for all K members as batched matrix products, e.g.

.. math:: Y_k = X_k W_k^\top + b_k \quad (k = 1, \dots, K) \quad\text{as one }
          \texttt{torch.baddbmm},

and back-propagates by hand, without autograd: the tape, ``vmap``'s batching rules and the
grouped convolutions they lower to cost more than the products at these sizes. The gradients
are written into the ``.grad`` of the stacked parameters, so a ``torch.optim`` optimizer steps
them as it steps the ``vmap`` path's.

**Layout** (the NumPy toolkit's, :mod:`regbook.np._stacked_layers`). Between ``Unflatten`` and
``Flatten`` the activations are *channels last*, ``(K, B, L, C)``. A convolution with a wide
input (``stride * C_in >= 16``) cuts its padded input into rows of ``stride`` positions (all
channels) and sums :math:`\lceil k / s \rceil` products over shifted row ranges of that one
copy; a narrow one (the first layer's single channel) multiplies im2col patches, laid out
(when a grouped convolution follows) on that layer's padded positions, so that the gradient
coming back is already the rows of its weight-gradient product. A ReLU right before a
convolution or ``Flatten`` is applied while that layer copies its input in. ``Flatten``
keeps the ``(L, C)`` order and the head permutes its weights' columns from PyTorch's
``(C, L)`` order instead (a copy of the small weight, not of the activations). Large work
tensors are kept and reused from step to step (:class:`_Layer`).

Every number is the single layers' up to rounding (tested against autograd in float64, and
``fit_seeds`` against single ``fit_classifier`` runs).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["StackedNet", "stacked_net", "cross_entropy_grad", "loss_and_accuracy"]

#: The grouped convolution needs ``stride * C_in`` numbers per row of positions at least this
#: wide to pay off (as in :mod:`regbook.np._stacked_layers`).
_GROUPED_MIN_WIDTH = 16


def _set_grad(param: torch.Tensor, grad: torch.Tensor) -> None:
    param.grad = grad.contiguous()


class _Layer:
    """A stacked layer with reusable work buffers.

    The batches of one training run have one shape, so every step would allocate (and zero)
    the same large tensors again; fresh pages cost more than the products here. A buffer
    made by :meth:`_buffer` is kept per name and shape and reused, and as a layer writes
    only the interior of its padded copies, their zero borders stay zero from the first call.
    """

    def _buffer(self, name: str, shape: tuple, like: torch.Tensor, fill=None) -> torch.Tensor:
        """The zero-initialised buffer ``name`` of this shape (``fill(buffer)`` once, when new)."""
        buffers = self.__dict__.setdefault("_buffers", {})
        key = (name, tuple(shape), like.dtype, like.device)
        if key not in buffers:
            buffers[key] = like.new_zeros(shape)
            if fill is not None:
                fill(buffers[key])
        return buffers[key]


class _Unflatten(_Layer):
    """``nn.Unflatten(1, (C, L))``: ``(K, B, C L)`` rows as channels-last ``(K, B, L, C)``."""

    def __init__(self, shape: tuple[int, int]):
        self.shape = shape

    def forward(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        c, length = self.shape
        return x.reshape(x.shape[0], x.shape[1], c, length).transpose(2, 3)

    def backward(self, g: torch.Tensor, need_dx: bool = True) -> torch.Tensor | None:
        return g.transpose(2, 3).reshape(g.shape[0], g.shape[1], -1) if need_dx else None


class _ReLU(_Layer):
    r""":math:`\max(0, x)`; backward :math:`g\,[y > 0]` (PyTorch's ``threshold_backward``)."""

    def forward(self, x, training):
        y = torch.relu(x)
        self.cache = y if training else None
        return y

    def backward(self, g, need_dx=True):
        y, self.cache = self.cache, None
        return torch.ops.aten.threshold_backward(g, y, 0) if need_dx else None


class _Flatten(_Layer):
    """``nn.Flatten()``: channels-last ``(K, B, L, C)`` to ``(K, B, C L)`` in ``(C, L)`` order;
    with ``relu_input`` the ReLU before it is applied in the same copy.

    With ``keep_order`` (set by :func:`stacked_net` when a :class:`_Linear` follows, which then
    permutes its weights' columns instead) the rows stay in ``(L, C)`` order: a plain copy
    rather than a transposing one, and a gradient that is already channels last.
    """

    def __init__(self):
        self.relu_input = False
        self.keep_order = False
        self.shape: tuple | None = None                        # the last input's (L, C)

    def forward(self, x, training):
        if x.ndim == 4:
            n_models, n, length, c = x.shape
            self.shape = (length, c)
            order = (n_models, n, length, c) if self.keep_order else (n_models, n, c, length)
            out = self._buffer("out", order, x)
            src = x if self.keep_order else x.transpose(2, 3)
            if self.relu_input:
                torch.clamp(src, min=0, out=out)
            else:
                out.copy_(src)
            out = out.reshape(n_models, n, c * length)
        else:                                                  # rows already
            self.shape = None
            out = torch.relu(x) if self.relu_input else x
        self.cache = (x.shape, out) if training else None
        return out

    def backward(self, g, need_dx=True):
        (shape, out), self.cache = self.cache, None
        if not need_dx:
            return None
        if self.relu_input:                                    # in place: g is ours
            torch.ops.aten.threshold_backward.grad_input(g, out, 0, grad_input=g)
        if len(shape) == 3:
            return g
        n_models, n, length, c = shape
        if self.keep_order:
            return g.reshape(n_models, n, length, c)
        return g.reshape(n_models, n, c, length).transpose(2, 3)


class _Linear(_Layer):
    r""":math:`Y_k = X_k W_k^\top + b_k`; backward :math:`G_k^\top X_k`, :math:`\sum_i G_{k,i}`,
    :math:`G_k W_k`.

    After a :class:`_Flatten` with ``keep_order`` (``flatten``) the input's columns are in
    ``(L, C)`` order, so the product uses :math:`W_k` with its columns permuted from PyTorch's
    ``(C, L)`` order (a small copy per step), and :math:`\partial W_k` is permuted back.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        self.weight, self.bias = weight, bias
        self.flatten: _Flatten | None = None

    def _order(self) -> tuple | None:
        return self.flatten.shape if self.flatten is not None else None

    def _weight(self) -> torch.Tensor:
        order = self._order()
        if order is None:
            return self.weight
        (length, c), w = order, self.weight
        return w.reshape(w.shape[0], w.shape[1], c, length).transpose(2, 3).reshape(w.shape)

    def forward(self, x, training):
        weight = self._weight()
        self.cache = (x, weight, self._order()) if training else None
        return torch.baddbmm(self.bias[:, None, :], x, weight.transpose(1, 2))

    def backward(self, g, need_dx=True):
        (x, weight, order), self.cache = self.cache, None
        dw = torch.bmm(g.transpose(1, 2), x)
        if order is not None:
            length, c = order
            dw = dw.reshape(dw.shape[0], dw.shape[1], length, c).transpose(2, 3)
        _set_grad(self.weight, dw.reshape(self.weight.shape))
        _set_grad(self.bias, g.sum(dim=1))
        return torch.bmm(g, weight) if need_dx else None


class _Conv1d(_Layer):
    r"""``nn.Conv1d`` per member, channels last, as batched products with the kernel
    :math:`W_k'` as a ``(k C_in, C_out)`` matrix (rows: tap, then channel).

    *Grouped form* (``stride * C_in >= 16``): the padded input of an example cut into rows of
    :math:`s` positions is a matrix :math:`F` whose window :math:`l` is rows
    :math:`l .. l + G - 1` (:math:`G = \lceil k/s \rceil`), so

    .. math:: Y_l = \sum_{g < G} F_{l+g} W'_g + b, \qquad
              \partial W'_g = \sum_l F_{l+g}^\top \partial Y_l, \qquad
              \partial F_q = \sum_g \partial Y_{q-g} W_g'^\top ,

    with :math:`L_\text{out} + G - 1` rows per example (the extra outputs are dropped, their
    gradients are zero): :math:`G` products over shifted row ranges of one padded copy.
    *im2col form* otherwise: :math:`Y_k = [P_k\ \mathbf 1] [W_k'; b_k^\top]` with the patches
    :math:`P_k` ``(B L_out, k C_in)`` and a column of ones (the bias inside the product);
    backward :math:`[\partial W_k'; \partial b_k^\top] = [P_k\ \mathbf 1]^\top G_k`, and
    :math:`G_k W_k'^\top` added back tap by tap (col2im) when the input gradient is needed.
    With ``relu_input`` (set by :func:`stacked_net`) the input is :math:`\max(0, x)`, applied
    while it is copied in, and :math:`\partial x` is masked by :math:`[x > 0]`.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, stride: int, padding: int):
        self.weight, self.bias = weight, bias
        self.c_in, self.k = weight.shape[2], weight.shape[3]
        self.s, self.p = stride, padding
        self.grouped = stride * self.c_in >= _GROUPED_MIN_WIDTH
        self.relu_input = False
        self.next_conv: _Conv1d | None = None      # a grouped convolution right after

    def _kernel(self) -> torch.Tensor:
        w = self.weight                                        # (K, C_out, C_in, k)
        return w.permute(0, 3, 2, 1).reshape(w.shape[0], -1, w.shape[1])

    def _set_grads(self, dkernel: torch.Tensor, g: torch.Tensor | None = None,
                   bias: torch.Tensor | None = None) -> None:
        """The weight's gradient from dW' and the bias's (``bias``, or the row sums of ``g``)."""
        n_models, _, c_out = dkernel.shape
        dw = dkernel.reshape(n_models, self.k, self.c_in, c_out).permute(0, 3, 2, 1)
        _set_grad(self.weight, dw)
        _set_grad(self.bias, g.sum(dim=1) if bias is None else bias)

    def _groups(self) -> list[tuple[int, int]]:
        """Each group of taps as (first row of W', number of rows)."""
        k, s, c = self.k, self.s, self.c_in
        return [(g * c, min(s, k - g) * c) for g in range(0, k, s)]

    def _copy_in(self, dst: torch.Tensor, src: torch.Tensor) -> None:
        if self.relu_input:
            torch.clamp(src, min=0, out=dst)
        else:
            dst.copy_(src)

    def forward(self, x, training):
        if not self.grouped:
            return self._forward_im2col(x, training)
        kernel = self._kernel()                                # (K, k C_in, C_out)
        n_models, n, length, c_in = x.shape
        s, p = self.s, self.p
        groups = self._groups()
        l_out = (length + 2 * p - self.k) // s + 1
        per_example = l_out + len(groups) - 1                  # rows of F per example
        rows = n * per_example
        # zero-padded from its first use: the rows past the last example, read only by the
        # dropped outputs, and the padding positions
        frame = self._buffer("frame", (n_models, rows + len(groups) - 1, s * c_in), x)
        padded = frame[:, :rows].reshape(n_models, n, s * per_example, c_in)
        keep = min(length, s * per_example - p)                # positions some window reads
        self._copy_in(padded[:, :, p:p + keep], x[:, :, :keep])
        first, width = groups[0]
        out = self._buffer("out", (n_models, rows, kernel.shape[2]), x)
        # a plain product first (cheaper than one that also adds), the bias added at the end
        torch.bmm(frame[:, :rows, :width], kernel[:, first:first + width], out=out)
        for g, (first, width) in enumerate(groups[1:], start=1):
            out.baddbmm_(frame[:, g:g + rows, :width], kernel[:, first:first + width])
        out += self.bias[:, None, :]
        self.cache = (frame, kernel, x.shape, l_out) if training else None
        return out.reshape(n_models, n, per_example, -1)[:, :, :l_out]

    def backward(self, dout, need_dx=True):
        if not self.grouped:
            return self._backward_im2col(dout, need_dx)
        (frame, kernel, (n_models, n, length, c_in), l_out), self.cache = self.cache, None
        s, p = self.s, self.p
        groups = self._groups()
        per_example = l_out + len(groups) - 1
        rows = n * per_example
        g_frame = self._buffer("g_frame", (n_models, n, per_example, kernel.shape[2]), dout)
        g_frame[:, :, :l_out] = dout                           # zero for the dropped rows
        g = g_frame.reshape(n_models, rows, -1)
        dkernel = torch.cat([torch.bmm(frame[:, i:i + rows, :width].transpose(1, 2), g)
                             for i, (_, width) in enumerate(groups)], dim=1)
        self._set_grads(dkernel, g)
        if not need_dx:
            return None
        kernel_t = kernel.transpose(1, 2)                      # (K, C_out, k C_in)
        d_frame = self._buffer("d_frame", frame.shape, frame)
        d_frame[:, rows:] = 0
        if groups[0][1] < frame.shape[2]:
            d_frame[:, :rows] = 0
        for i, (first, width) in enumerate(groups):          # the first one overwrites
            d_frame[:, i:i + rows, :width].baddbmm_(g, kernel_t[:, :, first:first + width],
                                                    beta=0 if i == 0 else 1)
        if self.relu_input:
            torch.ops.aten.threshold_backward.grad_input(d_frame, frame, 0, grad_input=d_frame)
        d_padded = d_frame[:, :rows].reshape(n_models, n, s * per_example, c_in)
        keep = min(length, s * per_example - p)
        dx = d_padded[:, :, p:p + keep]
        if keep == length:
            return dx
        full = dx.new_zeros((n_models, n, length, c_in))
        full[:, :, :keep] = dx
        return full

    def padded_positions(self, length: int) -> int:
        """Positions per example in the grouped form's padded copy of a length-L input."""
        l_out = (length + 2 * self.p - self.k) // self.s + 1
        return self.s * (l_out + len(self._groups()) - 1)

    def _forward_im2col(self, x, training):
        n_models, n, length, c_in = x.shape
        k, s, p = self.k, self.s, self.p
        padded = self._buffer("padded", (n_models, n, length + 2 * p, c_in), x)
        self._copy_in(padded[:, :, p:p + length], x)
        rows = padded.reshape(n_models, n, -1)                 # each example one long row
        windows = rows.unfold(2, k * c_in, s * c_in)           # (K, B, L_out, k C_in)
        l_out = windows.shape[2]
        # With a grouped convolution next, each example gets that layer's padded positions as
        # rows (zero rows around the L_out patches), so the gradient it hands back is already
        # this product's (lead, positions); else (0, L_out).
        lead, positions = 0, l_out
        nxt = self.next_conv if training else None
        if nxt is not None and nxt.padded_positions(l_out) - nxt.p >= l_out:
            lead, positions = nxt.p, nxt.padded_positions(l_out)
        # [P 1]: the patches (one copy) and a column of ones, set once, for the bias
        shape = (n_models, n, positions, k * c_in + 1)
        cols = self._buffer("cols", shape, x,
                            fill=lambda t: t[:, :, lead:lead + l_out, -1].fill_(1))
        cols[:, :, lead:lead + l_out, :-1] = windows
        cols = cols.reshape(n_models, n * positions, -1)
        c_out = self.weight.shape[1]
        out = self._buffer("out", (n_models, n * positions, c_out), x)
        torch.bmm(cols, torch.cat([self._kernel(), self.bias[:, None, :]], dim=1), out=out)
        self.cache = (cols, padded, x.shape, lead, positions) if training else None
        return out.reshape(n_models, n, positions, c_out)[:, :, lead:lead + l_out]

    @staticmethod
    def _rows_around(dout: torch.Tensor, lead: int, positions: int) -> torch.Tensor | None:
        """``dout`` (K, B, L_out, C) with ``positions`` rows per example from ``lead`` rows
        before its first (the memory around it, as a (K, B positions, C) view), or None."""
        n_models, n, _, c = dout.shape
        if dout.stride()[1:] != (positions * c, c, 1):
            return None
        start = dout.storage_offset() - lead * c
        end = start + (n_models - 1) * dout.stride(0) + n * positions * c
        if start < 0 or end > dout.untyped_storage().nbytes() // dout.element_size():
            return None
        return dout.as_strided((n_models, n * positions, c), (dout.stride(0), c, 1), start)

    def _backward_im2col(self, dout, need_dx):
        (cols, padded, (n_models, n, length, c_in), lead, positions), self.cache = \
            self.cache, None
        k, s, p = self.k, self.s, self.p
        l_out = dout.shape[2]
        if positions == l_out:
            g = dout.reshape(n_models, n * l_out, -1)
        else:       # the extra rows of cols are zero: what the gradient holds there adds 0
            g = self._rows_around(dout, lead, positions)
            if g is None:
                g = self._buffer("g", (n_models, n, positions, dout.shape[3]), dout)
                g[:, :, lead:lead + l_out] = dout
                g = g.reshape(n_models, n * positions, -1)
        d_kernel_bias = torch.bmm(cols.transpose(1, 2), g)     # [dW'; db^T]
        self._set_grads(d_kernel_bias[:, :-1], bias=d_kernel_bias[:, -1])
        if not need_dx:
            return None
        g = dout.reshape(n_models, n * l_out, -1)
        d_cols = torch.bmm(g, self._kernel().transpose(1, 2))   # dP = G W'^T
        d_cols = d_cols.reshape(n_models, n, l_out, k, c_in)
        d_padded = torch.zeros_like(padded)
        span = s * (l_out - 1) + 1
        for j in range(k):                                     # col2im, tap by tap
            d_padded[:, :, j:j + span:s] += d_cols[:, :, :, j]
        if self.relu_input:
            d_padded = torch.ops.aten.threshold_backward(d_padded, padded, 0)
        return d_padded[:, :, p:p + length]


class StackedNet:
    """K members of one ``nn.Sequential`` as one network over stacked parameters.

    ``forward(x, training)`` maps member k's rows ``x[k]`` (``(K, B, d)``) to its logits
    ``(K, B, n_classes)``; after a training forward pass, ``backward(dlogits)`` writes every
    stacked parameter's gradient into its ``.grad``. Build one with :func:`stacked_net`.
    """

    def __init__(self, layers: list):
        self.layers = layers

    def forward(self, x: torch.Tensor, training: bool = True) -> torch.Tensor:
        with torch.no_grad():
            for layer in self.layers:
                x = layer.forward(x, training)
        return x

    def backward(self, g: torch.Tensor) -> None:
        # no input gradient for the first layer with parameters (nor for the reshapes before)
        first = next(i for i, m in enumerate(self.layers) if isinstance(m, (_Conv1d, _Linear)))
        with torch.no_grad():
            for i in range(len(self.layers) - 1, first - 1, -1):
                g = self.layers[i].backward(g, need_dx=i > first)


def _conv_supported(m: nn.Conv1d) -> bool:
    return (m.bias is not None and m.groups == 1 and tuple(m.dilation) == (1,)
            and m.padding_mode == "zeros" and not isinstance(m.padding, str))


def _layer(m: nn.Module, name: str, params: dict, layout: str):
    """The stacked twin of ``m`` and the layout after it, or None for an unsupported module.

    Exact types only (a subclass may compute something else), and no hooks.
    """
    kind = type(m)
    if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks:
        return None
    if kind is nn.Unflatten and m.dim == 1 and layout == "rows" \
            and len(m.unflattened_size) == 2:
        return _Unflatten(tuple(m.unflattened_size)), "channels_last"
    if kind is nn.Conv1d and layout == "channels_last" and _conv_supported(m):
        return (_Conv1d(params[f"{name}.weight"], params[f"{name}.bias"], m.stride[0],
                        m.padding[0]), "channels_last")
    if kind is nn.ReLU:
        return _ReLU(), layout
    if kind is nn.Flatten and m.start_dim == 1 and m.end_dim == -1:
        return _Flatten(), "rows"
    if kind is nn.Linear and layout == "rows" and m.bias is not None:
        return _Linear(params[f"{name}.weight"], params[f"{name}.bias"]), layout
    return None


def stacked_net(model: nn.Module, params: dict, buffers: dict) -> StackedNet | None:
    """The :class:`StackedNet` of ``model``'s architecture over the stacked ``params``, or None.

    None (train through ``vmap`` instead) unless ``model`` is an ``nn.Sequential`` of
    ``Unflatten(1, (C, L))``, ``Conv1d`` (zero padding, no dilation or groups, with bias),
    ``ReLU``, ``Flatten()`` and ``Linear`` (with bias) modules ending in logits, with no
    buffers and every parameter trainable: dropout, normalization layers and any other module
    take the general path.
    """
    kinds = {(p.dtype, p.device) for p in params.values()}
    if (type(model) is not nn.Sequential or buffers or len(kinds) != 1
            or not all(p.requires_grad for p in params.values())):
        return None
    layers: list = []
    layout = "rows"
    for name, m in model.named_children():
        made = _layer(m, name, params, layout)
        if made is None:
            return None
        layer, layout = made
        if isinstance(layer, (_Conv1d, _Flatten)) and layers and isinstance(layers[-1], _ReLU):
            layers.pop()                                       # applied in the layer's copy
            layer.relu_input = True
        layers.append(layer)
    if layout != "rows" or not isinstance(layers[-1], _Linear):
        return None
    for layer, nxt in zip(layers, layers[1:]):
        if isinstance(layer, _Flatten) and isinstance(nxt, _Linear):
            layer.keep_order, nxt.flatten = True, layer
        if isinstance(layer, _Conv1d) and not layer.grouped and isinstance(nxt, _Conv1d) \
                and nxt.grouped:
            layer.next_conv = nxt
    return StackedNet(layers)


def _classes_first(logits: torch.Tensor) -> torch.Tensor:
    # (K, n, C) as (K, C, n): PyTorch's softmax and logsumexp are several times faster over a
    # middle axis than over a short last one
    return logits.transpose(1, 2).contiguous()


def cross_entropy_grad(logits: torch.Tensor, y: torch.Tensor,
                       label_smoothing: float = 0.0) -> torch.Tensor:
    r"""The gradient of :math:`\sum_k` (member k's mean cross-entropy) with respect to logits.

    .. math:: \frac{\partial J}{\partial z_{k,i}} = \frac{1}{B}\big(\operatorname{softmax}
              (z_{k,i}) - q_{k,i}\big), \qquad q_{k,i} = (1 - \varepsilon)\,
              \text{onehot}(y_{k,i}) + \varepsilon / C ,

    ``logits`` ``(K, B, C)``, ``y`` ``(K, B)`` (the loss of ``F.cross_entropy`` with
    ``label_smoothing`` :math:`= \varepsilon`, summed over the members); returns ``(K, B, C)``.
    """
    n_models, n, n_classes = logits.shape
    g = torch.softmax(_classes_first(logits), dim=1)          # (K, C, B)
    if label_smoothing:
        g -= label_smoothing / n_classes
    g.scatter_add_(1, y[:, None, :],
                   torch.full((n_models, 1, n), label_smoothing - 1.0, dtype=g.dtype,
                              device=g.device))
    return g.div_(n).transpose(1, 2)


def loss_and_accuracy(logits: torch.Tensor, y: torch.Tensor) -> list[tuple[float, float]]:
    r"""Every member's mean cross-entropy and accuracy on the same labels.

    .. math:: L_k = \frac{1}{n}\sum_i \Big(\log\sum_c e^{z_{k,ic}} - z_{k,iy_i}\Big),\qquad
              \text{acc}_k = \frac{1}{n}\sum_i [\arg\max_c z_{k,ic} = y_i]

    ``logits`` ``(K, n, C)``, ``y`` ``(n,)``: ``F.cross_entropy`` and the accuracy of
    :func:`regbook.torch.evaluate_classifier`, member by member, in a few calls for all K.
    """
    z = _classes_first(logits)                                 # (K, C, n)
    picked = z.gather(1, y.expand(z.shape[0], 1, -1))[:, 0]    # (K, n)
    loss = (torch.logsumexp(z, dim=1) - picked).mean(dim=1)
    accuracy = (z.max(dim=1).indices == y).double().mean(dim=1)   # argmax, several x faster
    return list(zip(loss.tolist(), accuracy.tolist()))
