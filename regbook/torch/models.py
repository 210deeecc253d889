r"""The book's models in PyTorch: the ReLU multilayer perceptron and the linear model.

The same names and arguments as :mod:`regbook.np` and :mod:`regbook.tf` (see
:mod:`regbook.backends`). Weights are drawn with PyTorch's default initialisation inside
``torch.random.fork_rng`` after ``torch.manual_seed(seed)``: the same seed gives the same
network, and the caller's global generator is left exactly as it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from regbook._validate import (
    check_array,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_seed,
)

__all__ = ["make_mlp", "make_linear"]

#: The parameter dtypes a model may have, by name.
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _check_dtype(dtype, name: str = "dtype") -> torch.dtype:
    """``"float32"``/``"float64"``, a NumPy float dtype or a torch dtype, as a torch dtype."""
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise ValueError(f"{name} must be torch.float32 or torch.float64, got {dtype}")
        return dtype
    if not isinstance(dtype, str):
        try:
            dtype = np.dtype(dtype).name
        except TypeError:
            raise TypeError(f"{name} must be 'float32', 'float64' or a torch/NumPy float dtype, "
                            f"got {type(dtype).__name__} {dtype!r}") from None
    return DTYPES[check_choice(dtype, name, DTYPES)]


def _check_hidden(hidden) -> list[int]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (Sequence, np.ndarray)):
        raise TypeError("hidden must be a sequence of layer widths such as (128,) or (64, 32), "
                        f"got {type(hidden).__name__} {hidden!r}")
    return [check_int(h, f"hidden[{i}]", minimum=1) for i, h in enumerate(hidden)]


def make_mlp(
    n_inputs: int,
    hidden: Sequence[int] = (128,),
    n_classes: int = 10,
    *,
    dropout: float = 0.0,
    batchnorm: bool = False,
    seed: int = 0,
    dtype: str | torch.dtype = "float32",
) -> nn.Sequential:
    r"""A ReLU MLP ``Linear -> [BatchNorm1d] -> ReLU -> [Dropout] -> ... -> Linear`` (logits).

    .. math:: h_0 = x,\quad
              h_\ell = \operatorname{drop}_p\big(\max(0, \operatorname{BN}(W_\ell h_{\ell-1}
              + b_\ell))\big),\quad \text{logits} = W_L h_{L-1} + b_L

    ``nn.BatchNorm1d`` only when ``batchnorm=True``, ``nn.Dropout(dropout)`` only when
    ``dropout > 0``. The ``Linear`` layers have PyTorch's default initialisation
    (:math:`W, b \sim U(\pm 1/\sqrt{\text{fan\_in}})`), drawn inside
    ``torch.random.fork_rng`` after ``torch.manual_seed(seed)``: the global generator is left
    untouched, and since batch norm (:math:`\gamma = 1, \beta = 0`) and dropout draw nothing,
    a seed gives the same ``Linear`` weights whatever ``dropout`` and ``batchnorm`` are.

    Parameters
    ----------
    n_inputs, n_classes : int
        Input features (>= 1) and classes (>= 2).
    hidden : sequence of int
        Widths of the hidden layers (each >= 1); ``()`` gives multinomial logistic regression.
    dropout : float
        Drop probability :math:`p \in [0, 1)` after every hidden ReLU.
    batchnorm : bool
        Insert ``nn.BatchNorm1d`` between every hidden ``Linear`` and its ReLU.
    seed : int
        Seed of the weights, in ``[0, 2**32 - 1]``.
    dtype : {"float32", "float64"} or torch.dtype
        The parameters' dtype (a NumPy dtype is accepted too). The model is on the CPU.

    Returns
    -------
    torch.nn.Sequential
        In training mode, as every new ``nn.Module``.
    """
    n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
    widths = _check_hidden(hidden)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, include_max=False)
    batchnorm = check_bool(batchnorm, "batchnorm")
    seed = check_seed(seed)
    dtype = _check_dtype(dtype)
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fan_in = n_inputs
        for width in widths:
            layers.append(nn.Linear(fan_in, width, dtype=dtype))
            if batchnorm:
                layers.append(nn.BatchNorm1d(width, dtype=dtype))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            fan_in = width
        layers.append(nn.Linear(fan_in, n_classes, dtype=dtype))
    return nn.Sequential(*layers)


def make_linear(n_features: int, *, coef=None, intercept: float = 0.0) -> nn.Linear:
    r"""A float64 linear model :math:`f(x) = x^\top w + b` with given starting weights.

    Parameters
    ----------
    n_features : int
        :math:`d \ge 1`.
    coef : array_like, shape (d,), optional
        Starting :math:`w` (zeros by default).
    intercept : float
        Starting :math:`b`.

    Returns
    -------
    torch.nn.Linear
        ``Linear(d, 1)`` in float64; its ``weight`` is :math:`w^\top` ``(1, d)``.
    """
    n_features = check_int(n_features, "n_features", minimum=1)
    coef = _check_coef(coef, n_features)
    intercept = check_float(intercept, "intercept")
    with torch.random.fork_rng(devices=[]):  # its default init is overwritten at once
        model = nn.Linear(n_features, 1, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(coef[None, :]))
        model.bias.fill_(intercept)
    return model


def _check_coef(coef, n_features: int) -> np.ndarray:
    if coef is None:
        return np.zeros(n_features)
    coef = check_array(coef, "coef", ndim=1)
    if coef.shape != (n_features,):
        raise ValueError(f"coef must have shape ({n_features},), got {coef.shape}")
    return coef
