"""Finite-difference gradient checks (CS231n style) for the hand-written backward passes."""

from __future__ import annotations

from typing import Callable

import numpy as np

from regbook._validate import check_float

__all__ = ["numerical_gradient", "rel_error"]


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, *, h: float = 1e-5
) -> np.ndarray:
    r"""Centred finite-difference gradient of a scalar function.

    .. math:: \frac{\partial f}{\partial x_k} \approx \frac{f(x + h e_k) - f(x - h e_k)}{2h}

    ``x`` is perturbed in place entry by entry and each entry is restored to its exact old
    value (in a ``finally``, so also when ``f`` raises), so ``f`` may close over it. Use
    float64 and keep the check points away from kinks (``|x|`` at 0, ReLU at 0).

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : numpy.ndarray
        Point of evaluation (a writeable floating-point array, float64 recommended), any shape.
    h : float
        Step size :math:`h > 0` (finite).

    Returns
    -------
    numpy.ndarray
        Same shape as ``x``.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError("x must be a floating-point numpy array, got "
                        + (f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__))
    if not x.flags.writeable:
        raise ValueError("x must be writeable (it is perturbed in place and restored)")
    h = check_float(h, "h", minimum=0.0, include_min=False)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i].copy()
        try:
            x[i] = old + h
            plus = float(f(x))
            x[i] = old - h
            minus = float(f(x))
        finally:
            x[i] = old
        grad[i] = (plus - minus) / (2.0 * h)
    return grad


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    r"""Largest elementwise relative error :math:`\max |a-b| / \max(10^{-8}, |a|+|b|)`.

    Below 1e-7 is good for float64 finite differences; above 1e-4 is suspect.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
