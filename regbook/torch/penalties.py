r"""L1 and L2 penalties over a PyTorch model's weights, and weight-decay parameter groups.

The book penalises weights, not biases or normalization parameters:

.. math:: R_1 = \lambda \sum_W \sum_j |W_j|, \qquad R_2 = \frac{\lambda}{2} \sum_W \sum_j W_j^2,

summed over the penalised tensors :math:`W` -- every parameter except those named ``bias`` and
those of normalization layers (batch/layer/group/instance norm, RMS norm). PyTorch's own
``weight_decay`` touches every parameter of a group, so :func:`param_groups` builds the two
groups that apply it the book's way.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from regbook._validate import check_float, check_tensor_list
from regbook.torch.batchnorm import BatchNorm
from regbook.torch.layernorm import LayerNorm

__all__ = ["NORM_LAYERS", "split_decay_params", "param_groups", "l1_penalty", "l2_penalty"]

#: Module types whose parameters (scale and shift) are never penalised: PyTorch's public
#: normalization layers, :class:`regbook.torch.BatchNorm` and :class:`regbook.torch.LayerNorm`
#: (subclasses count too).
NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm,
    nn.LazyBatchNorm1d, nn.LazyBatchNorm2d, nn.LazyBatchNorm3d,
    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
    nn.LazyInstanceNorm1d, nn.LazyInstanceNorm2d, nn.LazyInstanceNorm3d,
    nn.LayerNorm, nn.GroupNorm, nn.RMSNorm,
    BatchNorm, LayerNorm,
)


def _check_module(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def split_decay_params(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split a model's trainable parameters into (penalised weights, everything else).

    A parameter is *not* penalised when its name is ``bias`` or its module is one of
    :data:`NORM_LAYERS`. Shared parameters are listed once; frozen ones
    (``requires_grad=False``) are left out.

    Returns
    -------
    (list of Parameter, list of Parameter)
        ``decay`` and ``no_decay``, each in the order of ``model.named_parameters()``.
    """
    model = _check_module(model)
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen or not param.requires_grad:
                continue
            seen.add(id(param))
            if name == "bias" or isinstance(module, NORM_LAYERS):
                no_decay.append(param)
            else:
                decay.append(param)
    return decay, no_decay


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    r"""Optimizer parameter groups that apply ``weight_decay`` to the weights only.

    ``torch.optim.SGD(param_groups(model, wd), lr=...)`` decays the weights and leaves biases and
    normalization parameters alone (``torch.optim.SGD(model.parameters(), weight_decay=wd)``
    would decay all of them). For ``SGD``/``Adam`` pass ``weight_decay =``
    :func:`regbook.convert.torch_weight_decay` ``(lam)`` (:math:`= \lambda`); for ``AdamW`` it is
    the decoupled rate :math:`\lambda` in :math:`w \leftarrow (1 - \eta\lambda)w`.

    Returns
    -------
    list of dict
        ``[{"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0}]`` (a group is dropped when empty).
    """
    weight_decay = check_float(weight_decay, "weight_decay", minimum=0.0)
    decay, no_decay = split_decay_params(model)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def _weights(weights) -> list[torch.Tensor]:
    if isinstance(weights, nn.Module):
        return split_decay_params(weights)[0]
    return check_tensor_list(weights, (torch.Tensor,), model_types=(nn.Module,),
                             what="torch tensors", item="a torch.Tensor",
                             convert="torch.from_numpy")


def _total(weights: list[torch.Tensor], term) -> torch.Tensor:
    if not weights:  # a model without weights: a zero that still behaves like a loss term
        return torch.zeros((), dtype=torch.get_default_dtype())
    total = term(weights[0])
    for w in weights[1:]:
        total = total + term(w)
    return total


def l1_penalty(weights: nn.Module | torch.Tensor | Iterable[torch.Tensor],
               lam: float) -> torch.Tensor:
    r"""The L1 penalty :math:`\lambda\sum_W\sum_j|W_j|` as a differentiable scalar tensor.

    Parameters
    ----------
    weights : torch.nn.Module, torch.Tensor or iterable of tensors
        A model (its weights per :func:`split_decay_params`: no biases, no normalization
        parameters), one tensor, or a non-empty iterable of tensors to penalise.
    lam : float
        :math:`\lambda \ge 0`, the book's strength (as in :func:`regbook.np.l1_penalty`).

    Returns
    -------
    torch.Tensor
        A 0-d tensor; add it to the data loss before ``backward()``. Its gradient is
        :math:`\lambda\,\operatorname{sign}(W)` (0 at 0).
    """
    lam = check_float(lam, "lam", minimum=0.0)
    return lam * _total(_weights(weights), lambda w: w.abs().sum())


def l2_penalty(weights: nn.Module | torch.Tensor | Iterable[torch.Tensor],
               lam: float) -> torch.Tensor:
    r"""The L2 penalty :math:`\frac{\lambda}{2}\sum_W\sum_j W_j^2` as a differentiable scalar.

    Its gradient is :math:`\lambda W`, what ``torch.optim.SGD(weight_decay=lam)`` adds to the
    gradient.

    Parameters
    ----------
    weights : torch.nn.Module, torch.Tensor or iterable of tensors
        As in :func:`l1_penalty`.
    lam : float
        :math:`\lambda \ge 0`, as in :func:`regbook.np.l2_penalty`.

    Returns
    -------
    torch.Tensor
        A 0-d tensor.
    """
    lam = check_float(lam, "lam", minimum=0.0)
    return 0.5 * lam * _total(_weights(weights), lambda w: w.pow(2).sum())
