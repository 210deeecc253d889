r"""The book's models in PyTorch: the ReLU MLP, the 1-D CNN and the linear model.

The same names and arguments as :mod:`regbook.np` and :mod:`regbook.tf` (see
:mod:`regbook.backends`). Weights are drawn with PyTorch's default initialisation (or, with
``init="he"``, ``nn.init.kaiming_normal_``) inside
``torch.random.fork_rng`` after ``torch.manual_seed(seed)``: the same seed gives the same
network, and the caller's global generator is left exactly as it was.
"""

from __future__ import annotations


import numpy as np
import torch
from torch import nn

from regbook import _signatures
from regbook._architecture import check_cnn_args, check_linear_args, check_mlp_args
from regbook._validate import (
    check_choice,
)
from regbook.torch.layernorm import ChannelLayerNorm

__all__ = ["make_mlp", "make_cnn", "make_linear"]

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


@_signatures.implements(_signatures.make_mlp)
def make_mlp(n_inputs, hidden, n_classes, *, dropout, batchnorm, init, seed,
             dtype) -> nn.Sequential:
    r"""A ReLU MLP ``Linear -> [BatchNorm1d] -> ReLU -> [Dropout] -> ... -> Linear`` (logits).

    .. math:: h_0 = x,\quad
              h_\ell = \operatorname{drop}_p\big(\max(0, \operatorname{BN}(W_\ell h_{\ell-1}
              + b_\ell))\big),\quad \text{logits} = W_L h_{L-1} + b_L

    ``nn.BatchNorm1d`` only when ``batchnorm=True``, ``nn.Dropout(dropout)`` only when
    ``dropout > 0``. The ``Linear`` layers have PyTorch's default initialisation
    (:math:`W, b \sim U(\pm 1/\sqrt{\text{fan\_in}})`), drawn inside
    ``torch.random.fork_rng`` after ``torch.manual_seed(seed)``; with ``init="he"`` each
    weight is then redrawn by ``nn.init.kaiming_normal_(mode="fan_in",
    nonlinearity="relu")`` (:math:`\mathcal N(0, 2/\text{fan\_in})`) and each bias zeroed,
    layer by layer. The global generator is left untouched, and since batch norm
    (:math:`\gamma = 1, \beta = 0`) and dropout draw nothing, a seed gives the same ``Linear``
    weights whatever ``dropout`` and ``batchnorm`` are.

    Returns
    -------
    torch.nn.Sequential
        In training mode, as every new ``nn.Module``.
    """
    n_inputs, widths, n_classes, dropout, batchnorm, seed, init = check_mlp_args(
        n_inputs, hidden, n_classes, dropout, batchnorm, seed, init)
    dtype = _check_dtype(dtype)
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fan_in = n_inputs
        for width in widths:
            layers.append(_initialised(nn.Linear(fan_in, width, dtype=dtype), init))
            if batchnorm:
                layers.append(nn.BatchNorm1d(width, dtype=dtype))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            fan_in = width
        layers.append(_initialised(nn.Linear(fan_in, n_classes, dtype=dtype), init))
    return nn.Sequential(*layers)


def _initialised(layer: nn.Linear | nn.Conv1d, init: str) -> nn.Linear | nn.Conv1d:
    """``layer`` as built (``init="pytorch"``) or with He's weights and zero biases."""
    if init == "he":
        nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
        nn.init.zeros_(layer.bias)
    return layer


@_signatures.implements(_signatures.make_cnn)
def make_cnn(n_inputs, n_classes, *, channels, kernel_size, stride, padding, dropout, batchnorm,
             layernorm, init, seed, dtype) -> nn.Sequential:
    r"""A 1-D convolutional network for ``(N, n_inputs)`` rows; the defaults are MNIST-1D's CNN.

    The network of :func:`regbook.np.make_cnn` (its docstring has the formula) in ``torch.nn``:
    ``nn.Unflatten(1, (1, n_inputs))`` adds the channel axis (``(N, L)`` -> ``(N, 1, L)``,
    PyTorch's ``(N, C, L)`` layout), then per block :math:`b`
    ``Conv1d(C_{b-1}, channels[b], kernel_size[b], stride, padding) -> [BatchNorm1d] ->
    [LayerNorm over the channels] -> ReLU -> [Dropout]``, and finally ``Flatten`` (in
    ``(C, L)`` order) ``-> Linear(channels[-1] * L_last, n_classes)`` (logits). With the
    defaults and 40 inputs the lengths are 40 -> 19 -> 10 -> 5 and the head is
    ``Linear(125, 10)``: the ``ConvBase`` of Greydanus & Steinbach's MNIST-1D paper (ICML 2024),
    5,210 parameters.

    ``nn.BatchNorm1d`` only with ``batchnorm=True``,
    :class:`~regbook.torch.layernorm.ChannelLayerNorm` (:class:`regbook.torch.LayerNorm` of the
    channels at each position) only with ``layernorm=True``, ``nn.Dropout(dropout)`` only when
    ``dropout > 0``. The ``Conv1d`` and ``Linear`` layers
    have PyTorch's default initialisation (:math:`U(\pm 1/\sqrt{\text{fan\_in}})`,
    :math:`\text{fan\_in} = C_{b-1} k_b`), drawn first, block by block and then the head,
    inside ``torch.random.fork_rng`` after ``torch.manual_seed(seed)``; with ``init="he"``
    each layer's weight is redrawn right after it is built by ``nn.init.kaiming_normal_``
    (:math:`\mathcal N(0, 2/\text{fan\_in})`) and its bias zeroed. The global generator
    is left untouched, and a seed gives the same weights whatever ``dropout``, ``batchnorm``
    and ``layernorm`` are.

    Returns
    -------
    torch.nn.Sequential
        ``Unflatten, (Conv1d, [BatchNorm1d], [ChannelLayerNorm], ReLU, [Dropout]) * blocks,
        Flatten, Linear``, in training mode.
    """
    (n_inputs, n_classes, widths, kernels, lengths, stride, padding, dropout, batchnorm,
     layernorm, seed, init) = check_cnn_args(n_inputs, n_classes, channels, kernel_size, stride,
                                             padding, dropout, batchnorm, layernorm, seed, init)
    dtype = _check_dtype(dtype)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        convs = [_initialised(nn.Conv1d(c_in, c_out, k, stride=stride, padding=padding,
                                        dtype=dtype), init)
                 for c_in, c_out, k in zip([1] + widths[:-1], widths, kernels)]
        head = _initialised(nn.Linear(widths[-1] * lengths[-1], n_classes, dtype=dtype), init)
    layers: list[nn.Module] = [nn.Unflatten(1, (1, n_inputs))]
    for conv, width in zip(convs, widths):
        layers.append(conv)
        if batchnorm:
            layers.append(nn.BatchNorm1d(width, dtype=dtype))
        if layernorm:
            layers.append(ChannelLayerNorm(width, dtype=dtype))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers += [nn.Flatten(), head]
    return nn.Sequential(*layers)


@_signatures.implements(_signatures.make_linear)
def make_linear(n_features, *, coef, intercept) -> nn.Linear:
    r"""A float64 linear model :math:`f(x) = x^\top w + b` with given starting weights.

    Returns
    -------
    torch.nn.Linear
        ``Linear(d, 1)`` in float64; its ``weight`` is :math:`w^\top` ``(1, d)``.
    """
    n_features, coef, intercept = check_linear_args(n_features, coef, intercept)
    with torch.random.fork_rng(devices=[]):  # its default init is overwritten at once
        model = nn.Linear(n_features, 1, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(coef[None, :]))
        model.bias.fill_(intercept)
    return model


