r"""A small from-scratch network toolkit: layers with hand-written backward passes.

Every layer follows one protocol (CS231n style, each layer caches what its backward needs):

- ``forward(x, training) -> out`` and ``backward(dout) -> dx``;
- ``params``: the trainable arrays by name; ``grads``: their gradients, same keys, filled by
  ``backward``; ``buffers``: non-trainable state (running statistics), ``{}`` if none.

Parameters are updated *in place* by the optimizers and by :meth:`Sequential.set_weights`, so
the arrays in ``params`` stay the same objects for the life of a layer.

Shapes: a batch is ``(N, D)``; :class:`Linear` stores its weight as ``W`` with shape
``(n_in, n_out)`` and computes ``x @ W + b`` (PyTorch's ``nn.Linear.weight`` is ``W.T``, a Keras
``Dense`` kernel is ``W``).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from regbook._validate import check_array, check_float, check_int
from regbook.np.dropout import dropout_backward, dropout_forward

__all__ = ["Layer", "Linear", "ReLU", "Dropout", "Sequential", "make_mlp", "make_dropout_mlp"]


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _check_input(x, name: str = "x") -> np.ndarray:
    arr = check_array(x, name, ndim=2, dtype=None)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


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
    drawn from ``rng``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output features, >= 1.
    rng : numpy.random.Generator
        Draws the initial weights.
    dtype : numpy dtype
        ``float32`` (default, fast) or ``float64`` (for gradient checks).
    """

    def __init__(self, n_in: int, n_out: int, *, rng: np.random.Generator, dtype=np.float32):
        super().__init__()
        self.n_in = check_int(n_in, "n_in", minimum=1)
        self.n_out = check_int(n_out, "n_out", minimum=1)
        _check_rng(rng)
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
        bound = 1.0 / math.sqrt(self.n_in)
        self.params = {
            "W": rng.uniform(-bound, bound, size=(self.n_in, self.n_out)).astype(dtype),
            "b": rng.uniform(-bound, bound, size=self.n_out).astype(dtype),
        }

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
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
        x = check_array(x, "x", dtype=None, allow_empty=True)
        self.cache = x > 0
        return np.where(self.cache, x, 0).astype(x.dtype, copy=False)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._need_cache()
        dout = np.asarray(dout)
        if dout.shape != self.cache.shape:
            raise ValueError(f"dout must have shape {self.cache.shape}, got {dout.shape}")
        return dout * self.cache


class Dropout(Layer):
    r"""Inverted dropout as a layer: see :func:`regbook.np.dropout_forward`.

    A fresh mask is drawn from ``rng`` at every training-mode forward pass; evaluation mode is
    the identity. Backward is :math:`\frac{m}{1-p} \odot \partial L/\partial y`.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1).
    rng : numpy.random.Generator
        Draws the masks.
    scaling : {"inverted", "original"}
        See :func:`regbook.np.dropout_forward`.
    """

    def __init__(self, p: float, *, rng: np.random.Generator, scaling: str = "inverted"):
        super().__init__()
        self.p = check_float(p, "p", minimum=0.0, maximum=1.0, include_max=False)
        self.rng = _check_rng(rng)
        if scaling not in ("inverted", "original"):
            raise ValueError(f"scaling must be 'inverted' or 'original', got {scaling!r}")
        self.scaling = scaling

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


class Sequential(Layer):
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
        layers = list(layers)
        for i, layer in enumerate(layers):
            missing = [a for a in ("forward", "backward", "params", "grads", "buffers")
                       if not hasattr(layer, a)]
            if missing:
                raise TypeError(f"layers[{i}] ({type(layer).__name__}) lacks {missing}")
        self.layers = layers
        self.cache = None

    def _collect(self, attr: str) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in getattr(layer, attr).items()}

    params = property(lambda self: self._collect("params"))
    grads = property(lambda self: self._collect("grads"))
    buffers = property(lambda self: self._collect("buffers"))

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, training=training)
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

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every layer's params and then buffers, layer by layer, in dict order."""
        return [a.copy() for a in self._state()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Copy ``weights`` (as from :meth:`get_weights`) into the layers' arrays, in place.

        Everything is checked before anything is written, so a bad list changes nothing.
        """
        state = self._state()
        weights = list(weights)
        if len(weights) != len(state):
            raise ValueError(f"weights must hold {len(state)} arrays, got {len(weights)}")
        for i, (old, new) in enumerate(zip(state, weights)):
            if np.shape(new) != old.shape:
                raise ValueError(f"weights[{i}] must have shape {old.shape}, got {np.shape(new)}")
        for old, new in zip(state, weights):
            old[...] = new

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}])"


def make_mlp(
    n_inputs: int,
    hidden: Sequence[int] = (128,),
    n_classes: int = 10,
    *,
    dropout: float = 0.0,
    seed: int = 0,
    dtype=np.float32,
) -> Sequential:
    r"""A ReLU MLP ``Linear -> ReLU [-> Dropout] -> ... -> Linear`` returning logits.

    .. math:: h_0 = x,\quad
              h_\ell = \operatorname{drop}_p\big(\max(0, h_{\ell-1} W_\ell + b_\ell)\big),
              \quad \text{logits} = h_{L-1} W_L + b_L

    The NumPy twin of :func:`regbook.torch.make_mlp` / :func:`regbook.tf.make_mlp`. Dropout
    layers (after every hidden ReLU) are added only when ``dropout > 0``. Weights and dropout
    masks come from ``numpy.random.default_rng(seed)``.

    Parameters
    ----------
    n_inputs, n_classes : int
        Input features (>= 1) and classes (>= 2).
    hidden : sequence of int
        Widths of the hidden layers.
    dropout : float
        Drop probability in [0, 1) after each hidden layer.
    seed : int
        Seed of the generator behind the weights and masks.
    dtype : numpy dtype
        Parameter dtype, ``float32`` by default.
    """
    n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    widths = [check_int(h, "hidden[i]", minimum=1) for h in hidden]
    dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, include_max=False)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    layers: list[Layer] = []
    fan_in = n_inputs
    for width in widths:
        layers += [Linear(fan_in, width, rng=rng, dtype=dtype), ReLU()]
        if dropout > 0:
            layers.append(Dropout(dropout, rng=rng))
        fan_in = width
    layers.append(Linear(fan_in, n_classes, rng=rng, dtype=dtype))
    return Sequential(layers)


def make_dropout_mlp(
    n_inputs: int,
    hidden: Sequence[int] = (128,),
    n_classes: int = 10,
    *,
    p: float = 0.5,
    seed: int = 0,
    dtype=np.float32,
) -> Sequential:
    """:func:`make_mlp` with dropout ``p`` after every hidden layer (the same name as in
    :mod:`regbook.torch` and :mod:`regbook.tf`)."""
    p = check_float(p, "p", minimum=0.0, maximum=1.0, include_max=False)
    return make_mlp(n_inputs, hidden, n_classes, dropout=p, seed=seed, dtype=dtype)
