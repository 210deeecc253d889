"""Argument checks of the model builders, shared by every backend (imports no framework).

``make_mlp`` and ``make_cnn`` take the same arguments in :mod:`regbook.np`,
:mod:`regbook.torch` and :mod:`regbook.tf`; they are checked here once, so the three refuse the
same bad input with the same message before anything is built.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from regbook._validate import check_bool, check_choice, check_float, check_int, check_seed

#: The initialisations ``make_mlp`` and ``make_cnn`` offer (``init=``).
INITS = ("pytorch", "he")


def check_widths(value, name: str, example: str, what: str = "ints") -> list[int]:
    """A sequence of ints >= 1 (may be empty); an int, a string or an array is a TypeError."""
    if (isinstance(value, (numbers.Number, str, bytes, np.ndarray))
            or not isinstance(value, Iterable)):
        raise TypeError(f"{name} must be a sequence of {what} such as {example}, got "
                        f"{type(value).__name__} {value!r}")
    return [check_int(v, f"{name}[{i}]", minimum=1) for i, v in enumerate(value)]


def _check_common(n_inputs, n_classes, dropout, batchnorm, seed, init) -> dict:
    return dict(
        n_inputs=check_int(n_inputs, "n_inputs", minimum=1),
        n_classes=check_int(n_classes, "n_classes", minimum=2),
        dropout=check_float(dropout, "dropout", minimum=0.0, maximum=1.0, include_max=False),
        batchnorm=check_bool(batchnorm, "batchnorm"),
        seed=check_seed(seed),
        init=check_choice(init, "init", INITS),
    )


class MLPArgs(NamedTuple):
    n_inputs: int
    widths: list
    n_classes: int
    dropout: float
    batchnorm: bool
    seed: int
    init: str


class CNNArgs(NamedTuple):
    n_inputs: int
    n_classes: int
    widths: list
    kernels: list
    lengths: list
    stride: int
    padding: int
    dropout: float
    batchnorm: bool
    layernorm: bool
    seed: int
    init: str


def check_mlp_args(n_inputs, hidden, n_classes, dropout, batchnorm, seed,
                   init="pytorch") -> MLPArgs:
    """``make_mlp``'s arguments checked; ``hidden`` as a list of widths (``widths``), ``init``
    one of :data:`INITS`."""
    widths = check_widths(hidden, "hidden", "(128,) or (64, 32)", what="layer widths")
    common = _check_common(n_inputs, n_classes, dropout, batchnorm, seed, init)
    return MLPArgs(common["n_inputs"], widths, common["n_classes"], common["dropout"],
                   common["batchnorm"], common["seed"], common["init"])


def check_cnn_args(n_inputs, n_classes, channels, kernel_size, stride, padding, dropout,
                   batchnorm, layernorm, seed, init="pytorch") -> CNNArgs:
    r"""``make_cnn``'s arguments checked, with the blocks' widths, kernels and output lengths.

    ``kernel_size`` is one int for every block or one entry per block. The length after block
    :math:`b` is :math:`L_{b+1} = \lfloor (L_b + 2p - k_b)/s \rfloor + 1` (PyTorch's
    ``Conv1d``); an input too short for a block's kernel is a ``ValueError`` naming
    ``n_inputs``.
    """
    a = SimpleNamespace(**_check_common(n_inputs, n_classes, dropout, batchnorm, seed, init))
    a.widths = check_widths(channels, "channels", "(25, 25, 25)")
    if not a.widths:
        raise ValueError("channels must name at least one convolution block, got ()")
    if isinstance(kernel_size, numbers.Integral) and not isinstance(kernel_size, bool):
        a.kernels = [check_int(kernel_size, "kernel_size", minimum=1)] * len(a.widths)
    else:
        a.kernels = check_widths(kernel_size, "kernel_size", "(5, 3, 3)")
    if len(a.kernels) != len(a.widths):
        raise ValueError(f"channels and kernel_size must have the same length (one entry per "
                         f"block), got {len(a.widths)} and {len(a.kernels)}")
    a.stride = check_int(stride, "stride", minimum=1)
    a.padding = check_int(padding, "padding", minimum=0)
    a.layernorm = check_bool(layernorm, "layernorm")
    if a.batchnorm and a.layernorm:
        raise ValueError("batchnorm and layernorm cannot both be True: choose one normalization")
    a.lengths = _conv_lengths(a.n_inputs, a.kernels, a.stride, a.padding)
    return CNNArgs(**vars(a))


def _conv_lengths(n_inputs: int, kernels: list[int], stride: int, padding: int) -> list[int]:
    lengths = [n_inputs]
    for b, k in enumerate(kernels):
        padded = lengths[-1] + 2 * padding
        if padded < k:
            raise ValueError(
                f"n_inputs={n_inputs} is too short for kernel_size {tuple(kernels)}, stride "
                f"{stride} and padding {padding}: block {b} gets length {lengths[-1]} "
                f"({padded} padded), shorter than its kernel_size[{b}]={k}")
        lengths.append((padded - k) // stride + 1)
    return lengths[1:]


def check_linear_args(n_features, coef, intercept) -> tuple[int, np.ndarray, float]:
    """``make_linear``'s arguments: ``d >= 1``, ``coef`` of shape ``(d,)`` (zeros when None)."""
    from regbook._validate import check_array

    n_features = check_int(n_features, "n_features", minimum=1)
    if coef is None:
        coef = np.zeros(n_features)
    coef = check_array(coef, "coef", ndim=1)
    if coef.shape != (n_features,):
        raise ValueError(f"coef must have shape ({n_features},), got {coef.shape}")
    return n_features, coef, check_float(intercept, "intercept")
