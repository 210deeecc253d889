r"""Norm constraints and gradient clipping, from scratch, with Keras's and PyTorch's conventions.

- :func:`max_norm` projects every unit's incoming weight vector onto the ball
  :math:`\lVert w\rVert_2 \le c` exactly as ``keras.constraints.MaxNorm(c, axis)`` does
  (Srebro & Shraibman, 2005; Srivastava et al., 2014); :class:`Constrained` wraps a NumPy
  optimizer so that every step is followed by that projection (projected gradient descent).
- :func:`clip_by_value`, :func:`clip_by_norm` (per tensor: Keras ``clipnorm``,
  ``tf.clip_by_norm``) and :func:`clip_by_global_norm` (all tensors together:
  ``torch.nn.utils.clip_grad_norm_``, ``tf.clip_by_global_norm``, Keras ``global_clipnorm``)
  rescale gradients before an optimizer step (Pascanu et al., 2013).

Layouts. A :class:`regbook.np.Linear` ``W`` and a Keras ``Dense`` kernel are ``(in, out)``: unit
:math:`j`'s incoming weights are the column ``W[:, j]``, and "per unit" is ``axis=0`` (the axis
the norm *sums over*). A PyTorch ``Linear.weight`` is ``(out, in)``: unit :math:`j`'s weights are
the row ``weight[j]``, and ``torch.renorm(weight, 2, 0, c)`` bounds them (``dim=0`` is the axis
that *indexes* the sub-tensors). So ``max_norm(W, c, axis=0)`` matches
``torch.renorm(W.T, 2, 0, c).T`` -- up to the epsilons below.
"""

from __future__ import annotations

import math
import numbers
from typing import Iterable, Sequence

import numpy as np

from regbook._validate import check_array, check_choice, check_float, check_int
from regbook.np.optimizers import Optimizer

__all__ = [
    "KERAS_EPSILON",
    "TORCH_CLIP_EPSILON",
    "max_norm",
    "clip_by_value",
    "clip_by_norm",
    "clip_by_global_norm",
    "Constrained",
]

#: ``keras.config.epsilon()``'s default, the fuzz factor in ``MaxNorm``'s denominator.
KERAS_EPSILON = 1e-7
#: The constant ``torch.nn.utils.clip_grad_norm_`` adds to the total norm.
TORCH_CLIP_EPSILON = 1e-6


def _float_array(x, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """A finite real array, kept in its own float dtype (integers become float64)."""
    arr = check_array(x, name, dtype=None, allow_empty=allow_empty)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def _positive(value, name: str) -> float:
    return check_float(value, name, minimum=0.0, include_min=False)


def _axes(axis, ndim: int) -> tuple[int, ...]:
    items = (axis,) if isinstance(axis, numbers.Integral) or isinstance(axis, bool) else axis
    if not isinstance(items, (tuple, list)) or not items:
        raise TypeError(f"axis must be an integer or a non-empty tuple of integers, got {axis!r}")
    out = []
    for a in items:
        a = check_int(a, "axis", minimum=-ndim, maximum=ndim - 1)
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"axis must not repeat an axis, got {axis!r}")
    return tuple(out)


def max_norm(W: np.ndarray, max_value: float, *, axis: int | Sequence[int] = 0) -> np.ndarray:
    r"""Keras's max-norm constraint: scale each slice of ``W`` to norm at most ``max_value``.

    With :math:`n = \sqrt{\sum_{\text{axis}} W^2}` (one norm per unit, kept as a broadcastable
    array), :math:`c` = ``max_value`` and :math:`\epsilon` = :data:`KERAS_EPSILON` = 1e-7,

    .. math:: \Pi(W) = W \cdot \frac{\min(n, c)}{\epsilon + n} ,

    exactly ``keras.constraints.MaxNorm(c, axis)(W)`` (which ``Dense(kernel_constraint=...)``
    applies after every optimizer step). A unit whose norm exceeds :math:`c` ends at norm
    :math:`c\, n / (n + \epsilon)`; one inside the ball is *also* multiplied, by
    :math:`n / (n + \epsilon) \approx 1 - \epsilon / n`; a zero unit stays zero.

    PyTorch: ``torch.renorm(w, 2, dim, c)`` scales a slice by :math:`c / (n + 10^{-7})` only
    when :math:`n > c` and leaves the others untouched. On a ``Linear.weight`` ``(out, in)``
    use ``dim=0`` (one slice per output unit): ``torch.renorm(W.T, 2, 0, c).T`` equals this
    function with ``axis=0`` on the ``(in, out)`` array to about :math:`\epsilon / n`.

    Parameters
    ----------
    W : array_like
        Weights; a :class:`regbook.np.Linear` ``W`` or Keras ``Dense`` kernel is ``(in, out)``.
    max_value : float
        The bound :math:`c > 0` (Keras's ``max_value``; Srivastava et al. use 3 or 4).
    axis : int or tuple of int
        The axis (axes) the norm sums over; ``0`` on an ``(in, out)`` kernel bounds each output
        unit's incoming weights (Keras's default); for a Conv1d kernel ``(width, in, out)`` use
        ``(0, 1)``.

    Returns
    -------
    numpy.ndarray
        :math:`\Pi(W)`, a new array of ``W``'s float dtype and shape.
    """
    W = _float_array(W, "W")
    max_value = _positive(max_value, "max_value")
    axes = _axes(axis, W.ndim)
    norms = np.sqrt(np.sum(np.square(W), axis=axes, keepdims=True))
    desired = np.clip(norms, 0, max_value)
    return W * (desired / (W.dtype.type(KERAS_EPSILON) + norms))


def _grad_list(grads, name: str) -> tuple[list[np.ndarray], bool]:
    """``(list of arrays, was_single)``: one array or a list/tuple of arrays."""
    if isinstance(grads, (list, tuple)):
        if not grads:
            raise ValueError(f"{name} must hold at least one array, got an empty {type(grads)}")
        return [_float_array(g, f"{name}[{i}]", allow_empty=True)
                for i, g in enumerate(grads)], False
    return [_float_array(grads, name, allow_empty=True)], True


def clip_by_value(grads, clip_value: float):
    r"""Clip every entry into :math:`[-v, v]`: :math:`g \mapsto \min(\max(g, -v), v)`.

    Keras's ``clipvalue=v`` and ``torch.nn.utils.clip_grad_value_(params, v)``. It changes the
    gradient's direction (large entries are cut, small ones kept).

    Parameters
    ----------
    grads : array_like or list of array_like
        One gradient, or one per parameter.
    clip_value : float
        :math:`v > 0`.

    Returns
    -------
    numpy.ndarray or list of numpy.ndarray
        Same structure as ``grads`` (new arrays).
    """
    gs, single = _grad_list(grads, "grads")
    v = _positive(clip_value, "clip_value")
    out = [np.clip(g, -v, v) for g in gs]
    return out[0] if single else out


def clip_by_norm(grad, max_norm: float):
    r"""Rescale each tensor separately to norm at most :math:`c`: Keras ``clipnorm=c``.

    .. math:: g \mapsto \frac{g\, c}{\max(\lVert g\rVert_2, c)}

    written as Keras's ``_clip_by_norm`` and ``tf.clip_by_norm`` write it (no epsilon; a zero
    tensor stays zero). Keras's ``clipnorm`` applies it to every variable's gradient on its
    own, so the update's direction changes across variables; see
    :func:`clip_by_global_norm` for the version that keeps it.

    Parameters
    ----------
    grad : array_like or list of array_like
        One gradient, or several (each clipped by its own norm).
    max_norm : float
        :math:`c > 0`.

    Returns
    -------
    numpy.ndarray or list of numpy.ndarray
        Same structure as ``grad``.
    """
    gs, single = _grad_list(grad, "grad")
    c = _positive(max_norm, "max_norm")
    out = [(g * g.dtype.type(c)) / np.maximum(np.sqrt(np.sum(g * g)), g.dtype.type(c))
           for g in gs]
    return out[0] if single else out


def clip_by_global_norm(grads, max_norm: float, *, convention: str = "torch",
                        ) -> tuple[list[np.ndarray], float]:
    r"""Rescale all gradients together so that their joint norm is at most :math:`c`.

    With the total norm :math:`N = \sqrt{\sum_k \lVert g_k\rVert_2^2}`, every :math:`g_k` is
    multiplied by one factor :math:`s`:

    - ``convention="torch"`` (``torch.nn.utils.clip_grad_norm_``):
      :math:`s = \min\!\left(1, \frac{c}{N + 10^{-6}}\right)` -- the epsilon
      :data:`TORCH_CLIP_EPSILON` means a gradient *at* the bound is shrunk by about
      :math:`10^{-6}/c`, and a total norm of 0 gives :math:`s = 1`;
    - ``convention="tf"`` (``tf.clip_by_global_norm`` and Keras ``global_clipnorm``):
      :math:`s = c \cdot \min(1/N, 1/c)`, no epsilon (:math:`N = 0` gives :math:`1/N = \infty`
      and :math:`s = 1`).

    The direction of the whole update is kept, only its length is capped.

    Parameters
    ----------
    grads : list of array_like
        One gradient per parameter (a single array is treated as a list of one).
    max_norm : float
        :math:`c > 0`.
    convention : {"torch", "tf"}
        Whose epsilon to use (above).

    Returns
    -------
    (list of numpy.ndarray, float)
        The clipped gradients and the total norm :math:`N` *before* clipping (what
        ``clip_grad_norm_`` returns; ``tf.clip_by_global_norm`` returns it second too).
    """
    gs, _ = _grad_list(grads, "grads")
    c = _positive(max_norm, "max_norm")
    convention = check_choice(convention, "convention", ("torch", "tf"))
    total = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in gs))
    if convention == "torch":
        scale = min(c / (total + TORCH_CLIP_EPSILON), 1.0)
    else:
        scale = c * min(1.0 / total if total > 0 else math.inf, 1.0 / c)
    return [g * g.dtype.type(scale) for g in gs], total


class Constrained(Optimizer):
    r"""An optimizer followed by the max-norm projection: projected gradient descent.

    Each :meth:`step` first lets the wrapped optimizer update every parameter
    (:math:`\theta' = \operatorname{step}(\theta, g)`), then replaces each constrained weight
    matrix by its projection :func:`max_norm`:

    .. math:: W_t = \Pi_{\{\lVert W_{:,j}\rVert_2 \le c\ \forall j\}}
              \big(\operatorname{step}(W_{t-1}, g_t)\big)

    -- what Keras does after every step for a layer built with
    ``kernel_constraint=keras.constraints.MaxNorm(c)``. With the default ``axis=0`` on the
    toolkit's ``(in, out)`` ``Linear.W`` the bound is per *output* unit (its incoming weights),
    as in Srivastava et al. (2014). Biases are never constrained.

    The object follows the ``step(model, *, decay=None)`` protocol of :class:`regbook.np.SGD`
    and :class:`regbook.np.Adam`, so ``regbook.np.fit_classifier(model, X, y,
    optimizer=Constrained(rnp.Adam(lr=1e-3), 3.0))`` trains with the constraint; ``decay`` is
    passed on to the wrapped optimizer when it is a toolkit optimizer.

    Parameters
    ----------
    optimizer : regbook.np.SGD, regbook.np.Adam, regbook.np.AdamW or object with ``step(model)``
        The optimizer that takes the step.
    max_value : float
        The bound :math:`c > 0`.
    axis : int or tuple of int
        As in :func:`max_norm`.
    names : iterable of str, optional
        Keys of ``model.params`` to constrain; ``None``: every :class:`regbook.np.Linear` ``W``
        (every parameter whose own name is ``W``).
    """

    def __init__(self, optimizer, max_value: float, *, axis: int | Sequence[int] = 0,
                 names: Iterable[str] | None = None):
        if not callable(getattr(optimizer, "step", None)):
            raise TypeError(f"optimizer must have a step(model) method (regbook.np.SGD, Adam, "
                            f"AdamW), got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.max_value = _positive(max_value, "max_value")
        _axes(axis, 8)                                   # type check now; range at step time
        self.axis = axis
        if names is not None:
            if isinstance(names, str) or not isinstance(names, Iterable):
                raise TypeError(f"names must be a collection of parameter names or None, got "
                                f"{type(names).__name__}")
            names = list(names)
            if not all(isinstance(n, str) for n in names):
                raise TypeError("names must hold strings (keys of model.params)")
        self.names = names

    # the wrapped optimizer's settings and state, for code that reads them
    lr = property(lambda self: getattr(self.optimizer, "lr", None))
    weight_decay = property(lambda self: getattr(self.optimizer, "weight_decay", 0.0))
    state = property(lambda self: getattr(self.optimizer, "state", {}))
    iterations = property(lambda self: getattr(self.optimizer, "iterations", 0))

    def constrained_names(self, model) -> list[str]:
        """The keys of ``model.params`` this wrapper projects (in ``model.params`` order)."""
        params = model.params
        if self.names is None:
            return [n for n in params if n.rsplit(".", 1)[-1] == "W"]
        unknown = sorted(set(self.names) - set(params))
        if unknown:
            raise ValueError(f"names lists parameters the model does not have: {unknown}")
        return [n for n in params if n in set(self.names)]

    def step(self, model, *, decay: Iterable[str] | None = None) -> None:
        """Step with the wrapped optimizer, then project the constrained weights in place."""
        names = self.constrained_names(model)            # refuse bad names before stepping
        for n in names:
            _axes(self.axis, model.params[n].ndim)
        if isinstance(self.optimizer, Optimizer):
            self.optimizer.step(model, decay=decay)
        else:
            self.optimizer.step(model)
        params = model.params
        for n in names:
            params[n][...] = max_norm(params[n], self.max_value, axis=self.axis)

    def __repr__(self) -> str:
        return (f"Constrained({self.optimizer!r}, max_value={self.max_value}, axis={self.axis}, "
                f"names={self.names})")
