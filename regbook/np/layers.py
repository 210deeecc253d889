r"""A small from-scratch network toolkit: layers with hand-written backward passes.

Every layer follows one protocol (CS231n style, each layer caches what its backward needs):

- ``forward(x, training) -> out`` and ``backward(dout) -> dx``;
- ``params``: the trainable arrays by name; ``grads``: their gradients, same keys, filled by
  ``backward``; ``buffers``: non-trainable state (running statistics), ``{}`` if none.

Parameters are updated *in place* by the optimizers and by :meth:`Sequential.set_weights`, so
the arrays in ``params`` stay the same objects for the life of a layer.

Shapes: a batch is ``(N, D)``; :class:`Linear` stores its weight as ``W`` with shape
``(n_in, n_out)`` and computes ``x @ W + b`` (PyTorch's ``nn.Linear.weight`` is ``W.T``, a Keras
``Dense`` kernel is ``W``). The convolutional layers (:class:`Conv1d`, :class:`MaxPool1d`,
:class:`GlobalAvgPool1d`) take PyTorch's ``(N, C, L)`` layout; :class:`AddChannel` turns rows
``(N, L)`` into ``(N, 1, L)``, :class:`Flatten` turns ``(N, C, L)`` back into rows ``(N, C L)``,
and :class:`ChannelsLast` applies a layer (a :class:`LayerNorm` over the channels) to the
``(N, L, C)`` transpose. :class:`Conv1d` stores its kernel as ``w`` ``(C_out, C_in, K)``, as
PyTorch's ``nn.Conv1d.weight`` (a Keras ``Conv1D`` kernel is ``w.transpose(2, 1, 0)``).

Initialisation (``init=`` of :class:`Linear` and :class:`Conv1d`): ``"torch"``, PyTorch's
default :math:`W, b \sim \mathcal U(\pm 1/\sqrt{\text{fan\_in}})`, or ``"he"`` (He et al.,
2015), :math:`W \sim \mathcal N(0, 2/\text{fan\_in})` and :math:`b = 0`.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from regbook import _signatures
from regbook._architecture import check_mlp_args
from regbook._validate import (
    check_array,
    check_bool,
    check_choice,
    check_float,
    check_float_dtype,
    check_generator,
    check_int,
    check_seed,
)
from regbook.np.batchnorm import BatchNorm, _array_property
from regbook.np.conv import (conv1d_backward, conv1d_forward, flatten_backward, flatten_forward,
                             global_avg_pool1d_backward, global_avg_pool1d_forward,
                             maxpool1d_backward, maxpool1d_forward)
from regbook.np.dropout import SCALINGS, dropout_backward, dropout_forward
from regbook.np.layernorm import layernorm_backward, layernorm_forward

__all__ = ["Layer", "Linear", "ReLU", "Dropout", "Sequential", "make_mlp", "Conv1d",
           "MaxPool1d", "GlobalAvgPool1d", "Flatten", "AddChannel", "LayerNorm", "ChannelsLast",
           "INITS"]

#: The initialisations of :class:`Linear` and :class:`Conv1d`.
INITS = ("torch", "he")

#: ``make_mlp``/``make_cnn``'s ``init`` (:data:`regbook._architecture.INITS`) as the layers'.
_LAYER_INIT = {"pytorch": "torch", "he": "he"}


def _check_input(x, name: str = "x", ndim: int | None = 2) -> np.ndarray:
    arr = check_array(x, name, ndim=ndim, dtype=None)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def _init_params(rng: np.random.Generator, init: str, w_shape: tuple[int, ...], n_out: int,
                 fan_in: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    r"""A weight of ``w_shape`` and a bias of ``n_out``: PyTorch's default (weight drawn first,
    then the bias, both :math:`\mathcal U(\pm 1/\sqrt{\text{fan\_in}})`) or He's normal."""
    if init == "torch":
        bound = 1.0 / math.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=w_shape)
        return w.astype(dtype), rng.uniform(-bound, bound, size=n_out).astype(dtype)
    w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=w_shape)
    return w.astype(dtype), np.zeros(n_out, dtype)


class Layer:
    """Base of the layer protocol; subclasses override :meth:`forward` and :meth:`backward`."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.cache = None

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _state(self) -> list[np.ndarray]:
        return list(self.params.values()) + list(self.buffers.values())

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the params and then the buffers (a Sequential's layer by layer)."""
        return [a.copy() for a in self._state()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Copy ``weights`` (as from :meth:`get_weights`) into the layers' arrays, in place.

        Every array is checked first -- its shape, a real finite dtype that casts to the
        parameter's (``same_kind``: float64 into float32 is fine, complex is not) -- so a bad
        list changes nothing.
        """
        state = self._state()
        if isinstance(weights, np.ndarray) or not isinstance(weights, Iterable):
            raise TypeError("weights must be a list of arrays (as from get_weights), got "
                            f"{type(weights).__name__}")
        weights = list(weights)
        if len(weights) != len(state):
            raise ValueError(f"weights must hold {len(state)} arrays, got {len(weights)}")
        checked = []
        for i, (old, new) in enumerate(zip(state, weights)):
            new = check_array(new, f"weights[{i}]", dtype=None, allow_empty=True)
            if new.shape != old.shape:
                raise ValueError(f"weights[{i}] must have shape {old.shape}, got {new.shape}")
            if not np.can_cast(new.dtype, old.dtype, casting="same_kind"):
                raise TypeError(f"weights[{i}] has dtype {new.dtype}, which does not cast to "
                                f"the parameter's {old.dtype}")
            checked.append(new)
        for old, new in zip(state, checked):
            old[...] = new

    def _backward_with_grads(self, backward, dout: np.ndarray, names: tuple) -> np.ndarray:
        """``dx`` of a ``*_backward(dout, cache) -> (dx, *param_grads)`` function, with the
        parameter gradients stored in ``grads`` under ``names``."""
        self._need_cache()
        dx, *grads = backward(dout, self.cache)
        self.grads = dict(zip(names, grads))
        return dx

    def _need_cache(self) -> None:
        if self.cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Linear(Layer):
    r"""Fully connected layer :math:`y = xW + b`.

    Backward, with :math:`G = \partial L/\partial y` of shape ``(N, n_out)``:

    .. math:: \frac{\partial L}{\partial W} = x^\top G, \qquad
              \frac{\partial L}{\partial b} = \sum_i G_{i,:}, \qquad
              \frac{\partial L}{\partial x} = G W^\top

    Initialised like PyTorch's ``nn.Linear`` (Kaiming-uniform with :math:`a=\sqrt 5`, which
    works out to :math:`W, b \sim \mathcal{U}(-1/\sqrt{n_\text{in}}, 1/\sqrt{n_\text{in}})`),
    drawn from ``rng``; or, with ``init="he"``, :math:`W \sim \mathcal N(0, 2/n_\text{in})`,
    :math:`b = 0`.

    Parameters
    ----------
    n_in, n_out : int
        Input and output features, >= 1.
    rng : numpy.random.Generator
        Draws the initial weights.
    init : {"torch", "he"}
        PyTorch's default uniform initialisation, or He's normal one with zero biases.
    dtype : numpy dtype or {"float32", "float64"}
        ``float32`` (default, fast) or ``float64`` (for gradient checks).
    """

    def __init__(self, n_in: int, n_out: int, *, rng: np.random.Generator, init: str = "torch",
                 dtype=np.float32):
        super().__init__()
        self.n_in = check_int(n_in, "n_in", minimum=1)
        self.n_out = check_int(n_out, "n_out", minimum=1)
        check_generator(rng)
        init = check_choice(init, "init", INITS)
        dtype = check_float_dtype(dtype)
        W, b = _init_params(rng, init, (self.n_in, self.n_out), self.n_out, self.n_in, dtype)
        self.params = {"W": W, "b": b}

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        check_bool(training, "training")
        x = _check_input(x)
        if x.shape[1] != self.n_in:
            raise ValueError(f"x has {x.shape[1]} features but Linear expects n_in={self.n_in}")
        self.cache = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._need_cache()
        x = self.cache
        dout = np.asarray(dout)
        if dout.shape != (x.shape[0], self.n_out):
            raise ValueError(f"dout must have shape {(x.shape[0], self.n_out)}, got {dout.shape}")
        self.grads = {"W": x.T @ dout, "b": dout.sum(axis=0)}
        return dout @ self.params["W"].T

    def __repr__(self) -> str:
        return f"Linear({self.n_in}, {self.n_out})"


class ReLU(Layer):
    r"""Rectified linear unit :math:`y = \max(0, x)`, backward
    :math:`\partial L/\partial x = [x > 0] \odot \partial L/\partial y` (0 at the kink)."""

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        check_bool(training, "training")
        x = check_array(x, "x", dtype=None, allow_empty=True)
        self.cache = x > 0
        return np.maximum(x, 0)       # = np.where(x > 0, x, 0), several times faster on 3-D

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._need_cache()
        dout = np.asarray(dout)
        if dout.shape != self.cache.shape:
            raise ValueError(f"dout must have shape {self.cache.shape}, got {dout.shape}")
        return dout * self.cache


class Dropout(Layer):
    r"""Inverted dropout as a layer: see :func:`regbook.np.dropout_forward`.

    A fresh mask is drawn from the layer's generator at every training-mode forward pass;
    evaluation mode is the identity. Backward is :math:`\frac{m}{1-p} \odot \partial L/\partial
    y`.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1).
    seed : int, optional
        Seed of the layer's own generator, ``numpy.random.default_rng(seed)``. With neither
        ``seed`` nor ``rng`` the generator is unseeded (fresh entropy from the operating
        system), as ``torch.nn.Dropout`` and ``keras.layers.Dropout(seed=None)`` draw
        different masks in every run; give a seed for reproducible masks.
    rng : numpy.random.Generator, optional
        A generator to draw the masks from instead (the layer keeps and advances it). Give
        ``seed`` or ``rng``, not both.
    scaling : {"inverted", "original"}
        See :func:`regbook.np.dropout_forward`.
    """

    def __init__(self, p: float, *, seed: int | None = None,
                 rng: np.random.Generator | None = None, scaling: str = "inverted"):
        super().__init__()
        self.p = check_float(p, "p", minimum=0.0, maximum=1.0, include_max=False)
        if seed is not None and rng is not None:
            raise ValueError("give seed or rng, not both")
        if rng is not None:
            self.rng = check_generator(rng)
        else:
            self.rng = np.random.default_rng(None if seed is None else check_seed(seed))
        self.scaling = check_choice(scaling, "scaling", SCALINGS)

    def forward(self, x: np.ndarray, training: bool,
                keep_mask: np.ndarray | None = None) -> np.ndarray:
        out, self.cache = dropout_forward(x, self.p, rng=self.rng, training=training,
                                          scaling=self.scaling, keep_mask=keep_mask)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._need_cache()
        return dropout_backward(dout, self.cache)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


def _float_like(x: np.ndarray, param: np.ndarray) -> np.ndarray:
    """``x`` in the common dtype of ``x`` and the parameters (as ``x @ W`` promotes in
    :class:`Linear`): a float64 model computes in float64 even when fed float32 rows."""
    return x.astype(np.result_type(x.dtype, param.dtype), copy=False)


class Conv1d(Layer):
    r"""One-dimensional convolution layer on ``(N, C_in, L)`` inputs, as ``torch.nn.Conv1d``.

    .. math::
        y_{n, o, l} = b_o + \sum_{c=1}^{C_{\text{in}}} \sum_{k=0}^{K-1}
            w_{o, c, k}\, x^{\text{pad}}_{n, c, l s + k},
        \qquad L_{\text{out}} = \Big\lfloor \frac{L + 2p - K}{s} \Big\rfloor + 1,

    computed and differentiated by :func:`regbook.np.conv1d_forward` and
    :func:`regbook.np.conv1d_backward` (one im2col matrix product each way). Initialised from
    ``rng`` like PyTorch's ``nn.Conv1d`` (:math:`w, b \sim \mathcal U(\pm 1/\sqrt{C_\text{in}
    K})`, the kernel drawn first), or with ``init="he"`` as :math:`w \sim \mathcal N(0,
    2/(C_\text{in} K))`, :math:`b = 0`.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels, >= 1.
    kernel_size : int
        Kernel width :math:`K \ge 1`.
    stride : int
        Step :math:`s \ge 1` between windows.
    padding : int
        Zeros :math:`p \ge 0` added at both ends of every channel.
    rng : numpy.random.Generator
        Draws the initial weights.
    init : {"torch", "he"}
        PyTorch's default uniform initialisation, or He's normal one with zero biases.
    dtype : numpy dtype or {"float32", "float64"}
        Of the parameters.

    Attributes
    ----------
    params : dict
        ``w`` ``(c_out, c_in, kernel_size)`` (PyTorch's ``weight`` layout) and ``b``
        ``(c_out,)``.
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int, *, stride: int = 1,
                 padding: int = 0, rng: np.random.Generator, init: str = "torch",
                 dtype=np.float32):
        super().__init__()
        self.c_in = check_int(c_in, "c_in", minimum=1)
        self.c_out = check_int(c_out, "c_out", minimum=1)
        self.kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
        self.stride = check_int(stride, "stride", minimum=1)
        self.padding = check_int(padding, "padding", minimum=0)
        check_generator(rng)
        init = check_choice(init, "init", INITS)
        dtype = check_float_dtype(dtype)
        shape = (self.c_out, self.c_in, self.kernel_size)
        w, b = _init_params(rng, init, shape, self.c_out, self.c_in * self.kernel_size, dtype)
        self.params = {"w": w, "b": b}

    def output_length(self, length: int) -> int:
        r""":math:`L_{\text{out}} = \lfloor (L + 2p - K)/s \rfloor + 1` for inputs of length L."""
        length = check_int(length, "length", minimum=1)
        return (length + 2 * self.padding - self.kernel_size) // self.stride + 1

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        check_bool(training, "training")
        x = _check_input(x, ndim=3)
        if x.shape[1] != self.c_in:
            raise ValueError(f"x has {x.shape[1]} channels (axis 1) but Conv1d expects "
                             f"c_in={self.c_in}")
        w, b = self.params["w"], self.params["b"]
        out, self.cache = conv1d_forward(_float_like(x, w), w, b, stride=self.stride,
                                         padding=self.padding)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._backward_with_grads(conv1d_backward, dout, ("w", "b"))

    def __repr__(self) -> str:
        return (f"Conv1d({self.c_in}, {self.c_out}, {self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding})")


def _check_layer(layer, name: str):
    """``layer`` if it follows the layer protocol, else a TypeError naming what it lacks."""
    missing = [a for a in ("forward", "backward", "params", "grads", "buffers")
               if not hasattr(layer, a)]
    if missing:
        raise TypeError(f"{name} ({type(layer).__name__}) lacks {missing}")
    return layer


class _PairLayer(Layer):
    """A parameter-free layer made of a ``*_forward(x) -> (out, cache)`` /
    ``*_backward(dout, cache) -> dx`` pair of :mod:`regbook.np.conv`, given as ``_pair``."""

    _pair: tuple

    def _options(self) -> dict:
        return {}

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        check_bool(training, "training")
        out, self.cache = self._pair[0](x, **self._options())
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._need_cache()
        return self._pair[1](dout, self.cache)


class MaxPool1d(_PairLayer):
    r"""Max pooling over windows of the positions of ``(N, C, L)`` inputs, as
    ``torch.nn.MaxPool1d``: :math:`y_{n, c, l} = \max_{0 \le k < K} x_{n, c, l s + k}`
    (:func:`regbook.np.maxpool1d_forward`; the gradient goes to each window's first maximum).

    Parameters
    ----------
    kernel_size : int
        Window length :math:`K \ge 1`.
    stride : int, optional
        Step :math:`s \ge 1`; ``None`` (the default) means ``kernel_size``, as in PyTorch.
    """

    def __init__(self, kernel_size: int, *, stride: int | None = None):
        super().__init__()
        self.kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
        self.stride = (self.kernel_size if stride is None
                       else check_int(stride, "stride", minimum=1))

    _pair = (maxpool1d_forward, maxpool1d_backward)

    def _options(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride}

    def __repr__(self) -> str:
        return f"MaxPool1d({self.kernel_size}, stride={self.stride})"


class GlobalAvgPool1d(_PairLayer):
    r"""The mean of every channel over its positions, ``(N, C, L) -> (N, C)``:
    :math:`y_{n, c} = \frac1L \sum_j x_{n, c, j}` (:func:`regbook.np.global_avg_pool1d_forward`;
    ``nn.AdaptiveAvgPool1d(1)`` followed by ``nn.Flatten()`` in PyTorch)."""

    _pair = (global_avg_pool1d_forward, global_avg_pool1d_backward)


class Flatten(_PairLayer):
    r"""Every example as one row, channel after channel, ``(N, C, L) -> (N, C L)``:
    :math:`y_{n, c L + j} = x_{n, c, j}`, as ``torch.nn.Flatten()``
    (:func:`regbook.np.flatten_forward`)."""

    _pair = (flatten_forward, flatten_backward)


class AddChannel(Layer):
    r"""Rows as one-channel signals, ``(N, L) -> (N, 1, L)``: :math:`y_{n, 0, j} = x_{n, j}`
    (``torch.nn.Unflatten(1, (1, L))``); backward drops the axis again.

    The first layer of :func:`regbook.np.make_cnn`, so that the CNN takes the same ``(N, D)``
    rows as :func:`regbook.np.make_mlp`.

    Parameters
    ----------
    n_in : int, optional
        The row length L the layer accepts (checked, and read by the training loop's
        feature-count checks as a :class:`Linear`'s ``n_in`` is); ``None`` accepts any.
    """

    def __init__(self, n_in: int | None = None):
        super().__init__()
        self.n_in = None if n_in is None else check_int(n_in, "n_in", minimum=1)

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        check_bool(training, "training")
        x = _check_input(x)
        if self.n_in is not None and x.shape[1] != self.n_in:
            raise ValueError(f"x has {x.shape[1]} features but AddChannel expects "
                             f"n_in={self.n_in}")
        self.cache = x.shape
        return x[:, None, :]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._need_cache()
        n, length = self.cache
        dout = np.asarray(dout)
        if dout.shape != (n, 1, length):
            raise ValueError(f"dout must have shape {(n, 1, length)}, got {dout.shape}")
        return dout[:, 0, :]

    def __repr__(self) -> str:
        return "AddChannel()" if self.n_in is None else f"AddChannel({self.n_in})"


class LayerNorm(Layer):
    r"""Layer normalization over the last axis, as ``torch.nn.LayerNorm(num_features)``.

    .. math:: y = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta

    with the mean :math:`\mu` and biased variance :math:`\sigma^2` of every row (every index
    of the leading axes) over its ``num_features`` values (:func:`regbook.np.layernorm_forward`
    and :func:`regbook.np.layernorm_backward`). Training and evaluation compute the same thing;
    there are no running statistics (``buffers`` is empty). For the channels of an ``(N, C,
    L)`` feature map, wrap it: ``ChannelsLast(LayerNorm(C))``.

    Parameters
    ----------
    num_features : int
        D, the length of the last axis, >= 1.
    eps : float
        :math:`\epsilon > 0` added to the variance.
    dtype : numpy dtype or {"float32", "float64"}, optional
        Of ``gamma`` (ones) and ``beta`` (zeros); ``None`` (the default) means float64, as for
        :class:`BatchNorm`.
    """

    def __init__(self, num_features: int, *, eps: float = 1e-5, dtype=None):
        super().__init__()
        self.num_features = check_int(num_features, "num_features", minimum=1)
        self.eps = check_float(eps, "eps", minimum=0.0, include_min=False)
        dtype = check_float_dtype(np.float64 if dtype is None else dtype)
        d = self.num_features
        self.params = {"gamma": np.ones(d, dtype), "beta": np.zeros(d, dtype)}

    gamma = _array_property("params", "gamma", "Scale, shape (num_features,).")
    beta = _array_property("params", "beta", "Shift, shape (num_features,).")

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        check_bool(training, "training")
        x = _check_input(x, ndim=None)
        if x.ndim < 2 or x.shape[-1] != self.num_features:
            raise ValueError(f"x must have shape (N, ..., {self.num_features}) (the last axis "
                             f"normalised), got {x.shape}")
        gamma, beta = self.params["gamma"], self.params["beta"]
        out, self.cache = layernorm_forward(_float_like(x, gamma), gamma, beta, eps=self.eps)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._backward_with_grads(layernorm_backward, dout, ("gamma", "beta"))

    def __repr__(self) -> str:
        return f"LayerNorm({self.num_features}, eps={self.eps})"


class ChannelsLast(Layer):
    r"""Apply ``layer`` with the channel axis last: :math:`y = T^{-1}(f(T x))`, where
    :math:`T` moves axis 1 of ``(N, C, L)`` to the end, ``(N, L, C)``.

    ``ChannelsLast(LayerNorm(C))`` normalises the C channels at every position, as
    ``nn.LayerNorm(C)`` on ``x.transpose(1, 2)`` (:func:`regbook.np.make_cnn`). Backward is
    the same transpose around ``layer.backward``. ``params``, ``grads`` and ``buffers`` are
    the wrapped layer's own dicts, under the same names.

    Parameters
    ----------
    layer : layer
        Any object of the layer protocol that acts on the last axis.
    """

    def __init__(self, layer: Layer):
        self.layer = _check_layer(layer, "layer")
        self.cache = None

    params = property(lambda self: self.layer.params)
    grads = property(lambda self: self.layer.grads)
    buffers = property(lambda self: self.layer.buffers)

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        check_bool(training, "training")
        x = np.asarray(x)                         # the wrapped layer checks the values
        if x.ndim < 3:
            raise ValueError(f"x must have shape (N, C, L, ...) (channels on axis 1), got "
                             f"{x.shape}")
        out = self.layer.forward(np.moveaxis(x, 1, -1), training=training)
        self.cache = x.ndim
        return np.moveaxis(out, -1, 1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._need_cache()
        dout = np.asarray(dout)
        if dout.ndim != self.cache:
            raise ValueError(f"dout must be {self.cache}-dimensional like the forward input, "
                             f"got shape {dout.shape}")
        return np.moveaxis(self.layer.backward(np.moveaxis(dout, 1, -1)), -1, 1)

    def __repr__(self) -> str:
        return f"ChannelsLast({self.layer!r})"


def _leaves(layers: Iterable) -> list:
    """Every non-container layer, depth first (the layers of nested Sequentials included; a
    :class:`ChannelsLast` and then the layer it wraps)."""
    out = []
    for layer in layers:
        if isinstance(layer, Sequential):
            out += _leaves(layer.layers)
        else:
            out += [layer] + (_leaves([layer.layer]) if isinstance(layer, ChannelsLast) else [])
    return out


def _snapshot(layers: list) -> list:
    """What a forward pass may change: attributes (caches), buffers, generator states."""
    saved = []
    for layer in layers:
        rng = getattr(layer, "rng", None)
        saved.append((dict(vars(layer)), {k: v.copy() for k, v in layer.buffers.items()},
                      rng.bit_generator.state if isinstance(rng, np.random.Generator) else None))
    return saved


def _restore(layers: list, saved: list) -> None:
    for layer, (attrs, buffers, rng_state) in zip(layers, saved):
        vars(layer).update(attrs)
        for k, v in buffers.items():
            layer.buffers[k][...] = v
        if rng_state is not None:
            layer.rng.bit_generator.state = rng_state


class _LayerList:
    """``params``, ``grads`` and ``buffers`` of a list of layers (``self.layers``): views keyed
    ``"<index>.<name>"`` (``"0.W"``, ``"2.running_mean"``, ...) onto the layers' own arrays."""

    def _collect(self, attr: str) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in getattr(layer, attr).items()}

    params = property(lambda self: self._collect("params"))
    grads = property(lambda self: self._collect("grads"))
    buffers = property(lambda self: self._collect("buffers"))


class Sequential(_LayerList, Layer):
    r"""Layers applied in order, :math:`f = f_L \circ \dots \circ f_1`; backward runs the chain
    rule in reverse,
    :math:`\partial L/\partial x = J_1^\top \cdots J_L^\top\, \partial L/\partial y`.

    Follows the layer protocol itself: ``params``, ``grads`` and ``buffers`` are views keyed
    ``"<index>.<name>"`` (``"0.W"``, ``"2.running_mean"``, ...) onto the layers' own arrays.

    Parameters
    ----------
    layers : sequence of layers
        Objects with ``forward``, ``backward``, ``params``, ``grads`` and ``buffers``.
    """

    def __init__(self, layers: Sequence[Layer]):
        self.layers = [_check_layer(layer, f"layers[{i}]") for i, layer in enumerate(layers)]
        self.cache = None


    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """Run the layers in order. A failing pass (bad input, a batch of one reaching a
        training-mode :class:`BatchNorm`, ...) raises with every layer as it was before: the
        caches, running statistics and dropout generators are restored."""
        training = check_bool(training, "training")
        n_in = getattr(self.layers[0], "n_in", None) if self.layers else None
        if n_in is not None:
            x = _check_input(x)
            if x.shape[1] != n_in:
                raise ValueError(f"x has {x.shape[1]} features but {type(self.layers[0]).__name__}"
                                 f" expects n_in={n_in}")
        leaves = _leaves(self.layers)
        saved = _snapshot(leaves)
        try:
            for layer in self.layers:
                x = layer.forward(x, training=training)
        except BaseException:
            _restore(leaves, saved)
            raise
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def _state(self) -> list[np.ndarray]:
        arrays = []
        for layer in self.layers:
            arrays += list(layer.params.values()) + list(layer.buffers.values())
        return arrays

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}])"


@_signatures.implements(_signatures.make_mlp)
def make_mlp(n_inputs, hidden, n_classes, *, dropout, batchnorm, init, seed,
             dtype) -> Sequential:
    r"""A ReLU MLP ``Linear -> [BatchNorm] -> ReLU -> [Dropout] -> ... -> Linear`` (logits).

    .. math:: h_0 = x,\quad
              h_\ell = \operatorname{drop}_p\big(\max(0,
              \operatorname{BN}(h_{\ell-1} W_\ell + b_\ell))\big),
              \quad \text{logits} = h_{L-1} W_L + b_L

    The NumPy twin of :func:`regbook.torch.make_mlp` / :func:`regbook.tf.make_mlp`. The
    :class:`BatchNorm` layers are added only with ``batchnorm=True``, the :class:`Dropout`
    layers only when ``dropout > 0``. The Linear weights (PyTorch's default initialisation, or
    He's normal one with ``init="he"``: :class:`Linear`'s ``init="torch"`` / ``"he"``) are
    drawn layer by layer from ``numpy.random.default_rng(seed)``; each dropout layer has a
    generator of its own, spawned from ``numpy.random.SeedSequence(seed)``. So the same seed
    gives the same weights with or without batch norm and dropout. No global generator is used.

    """
    n_inputs, widths, n_classes, dropout, batchnorm, seed, init = check_mlp_args(
        n_inputs, hidden, n_classes, dropout, batchnorm, seed, init)
    dtype = check_float_dtype(dtype)
    init = _LAYER_INIT[init]
    rng = np.random.default_rng(seed)
    mask_seeds = np.random.SeedSequence(seed).spawn(len(widths))
    layers: list = []
    fan_in = n_inputs
    for width, mask_seed in zip(widths, mask_seeds):
        layers.append(Linear(fan_in, width, rng=rng, init=init, dtype=dtype))
        if batchnorm:
            layers.append(BatchNorm(width, dtype=dtype))
        layers.append(ReLU())
        if dropout > 0:
            layers.append(Dropout(dropout, rng=np.random.default_rng(mask_seed)))
        fan_in = width
    layers.append(Linear(fan_in, n_classes, rng=rng, init=init, dtype=dtype))
    return Sequential(layers)
