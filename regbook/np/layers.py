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
import numbers
from typing import Iterable, Sequence

import numpy as np

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
from regbook.np.batchnorm import BatchNorm
from regbook.np.dropout import SCALINGS, dropout_backward, dropout_forward

__all__ = ["Layer", "Linear", "ReLU", "Dropout", "Sequential", "make_mlp"]


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
    dtype : numpy dtype or {"float32", "float64"}
        ``float32`` (default, fast) or ``float64`` (for gradient checks).
    """

    def __init__(self, n_in: int, n_out: int, *, rng: np.random.Generator, dtype=np.float32):
        super().__init__()
        self.n_in = check_int(n_in, "n_in", minimum=1)
        self.n_out = check_int(n_out, "n_out", minimum=1)
        check_generator(rng)
        dtype = check_float_dtype(dtype)
        bound = 1.0 / math.sqrt(self.n_in)
        self.params = {
            "W": rng.uniform(-bound, bound, size=(self.n_in, self.n_out)).astype(dtype),
            "b": rng.uniform(-bound, bound, size=self.n_out).astype(dtype),
        }

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
        return np.where(self.cache, x, 0).astype(x.dtype, copy=False)

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


def _leaves(layers: Iterable) -> list:
    """Every non-container layer, depth first (the layers of nested Sequentials included)."""
    out = []
    for layer in layers:
        out += _leaves(layer.layers) if isinstance(layer, Sequential) else [layer]
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
        """Run the layers in order. A failing pass (bad input, a batch of one reaching a
        training-mode :class:`BatchNorm`, ...) raises with every layer as it was before: the
        caches, running statistics and dropout generators are restored."""
        training = check_bool(training, "training")
        n_in = getattr(self.layers[0], "n_in", None) if self.layers else None
        if n_in is not None:
            x = _check_input(x)
            if x.shape[1] != n_in:
                raise ValueError(f"x has {x.shape[1]} features but Linear expects n_in={n_in}")
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


def _check_hidden(hidden) -> list[int]:
    if (isinstance(hidden, (numbers.Number, str, bytes, np.ndarray))
            or not isinstance(hidden, Iterable)):
        raise TypeError("hidden must be a sequence of layer widths, such as (128,) or "
                        f"[64, 32], got {type(hidden).__name__} {hidden!r}")
    return [check_int(h, f"hidden[{i}]", minimum=1) for i, h in enumerate(hidden)]


def make_mlp(
    n_inputs: int,
    hidden: Sequence[int] = (128,),
    n_classes: int = 10,
    *,
    dropout: float = 0.0,
    batchnorm: bool = False,
    seed: int = 0,
    dtype="float32",
) -> Sequential:
    r"""A ReLU MLP ``Linear -> [BatchNorm] -> ReLU -> [Dropout] -> ... -> Linear`` (logits).

    .. math:: h_0 = x,\quad
              h_\ell = \operatorname{drop}_p\big(\max(0,
              \operatorname{BN}(h_{\ell-1} W_\ell + b_\ell))\big),
              \quad \text{logits} = h_{L-1} W_L + b_L

    The NumPy twin of :func:`regbook.torch.make_mlp` / :func:`regbook.tf.make_mlp`. The
    :class:`BatchNorm` layers are added only with ``batchnorm=True``, the :class:`Dropout`
    layers only when ``dropout > 0``. The Linear weights (PyTorch's default initialisation,
    :class:`Linear`) are drawn from ``numpy.random.default_rng(seed)``; each dropout layer has
    a generator of its own, spawned from ``numpy.random.SeedSequence(seed)``. So the same seed
    gives the same weights with or without batch norm and dropout. No global generator is used.

    Parameters
    ----------
    n_inputs, n_classes : int
        Input features (>= 1) and classes (>= 2).
    hidden : sequence of int
        Widths of the hidden layers (``()`` gives a linear classifier).
    dropout : float
        Drop probability in [0, 1) after each hidden ReLU.
    batchnorm : bool
        Batch-normalise each hidden layer's pre-activation (PyTorch's convention).
    seed : int
        Seed of the weights and of the dropout masks.
    dtype : {"float32", "float64"} or numpy dtype
        Dtype of the parameters (and of the batch-norm buffers).
    """
    n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
    widths = _check_hidden(hidden)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, include_max=False)
    batchnorm = check_bool(batchnorm, "batchnorm")
    seed = check_seed(seed)
    dtype = check_float_dtype(dtype)
    rng = np.random.default_rng(seed)
    mask_seeds = np.random.SeedSequence(seed).spawn(len(widths))
    layers: list = []
    fan_in = n_inputs
    for width, mask_seed in zip(widths, mask_seeds):
        layers.append(Linear(fan_in, width, rng=rng, dtype=dtype))
        if batchnorm:
            layers.append(BatchNorm(width, dtype=dtype))
        layers.append(ReLU())
        if dropout > 0:
            layers.append(Dropout(dropout, rng=np.random.default_rng(mask_seed)))
        fan_in = width
    layers.append(Linear(fan_in, n_classes, rng=rng, dtype=dtype))
    return Sequential(layers)
