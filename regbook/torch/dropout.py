r"""Dropout in PyTorch: a from-scratch module equal to ``nn.Dropout``, and a dropout MLP.

PyTorch's ``nn.Dropout(p)`` is inverted dropout: in ``module.train()`` mode it draws a
Bernoulli(:math:`1-p`) keep-mask and returns :math:`(x \odot m) / (1-p)`; in ``module.eval()``
mode it is the identity.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from regbook._validate import check_float, check_int
from regbook.seeding import seed_everything

__all__ = ["Dropout", "mask_from_ones", "make_dropout_mlp"]


def _check_p(p) -> float:
    return check_float(p, "p", minimum=0.0, maximum=1.0, include_max=False)


class Dropout(nn.Module):
    r"""Inverted dropout written out by hand, switched by ``self.training``.

    .. math:: y = \begin{cases} (x \odot m) / (1-p), \quad m_i \sim \text{Bernoulli}(1-p)
              & \text{training} \\ x & \text{evaluation} \end{cases}

    The mask is drawn exactly as ``nn.Dropout`` draws it (``bernoulli_(1 - p)`` on a tensor
    like ``x``), so from the same generator state the two modules give the same output; autograd
    supplies the backward pass :math:`\frac{m}{1-p} \odot \partial L / \partial y`.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1).
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = _check_p(p)

    def forward(self, x: torch.Tensor, keep_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Apply dropout; ``keep_mask`` (bool, ``True`` = keep) replaces the random draw."""
        if not self.training or self.p == 0.0:
            return x
        if keep_mask is None:
            mask = torch.empty_like(x).bernoulli_(1.0 - self.p)
        else:
            if keep_mask.shape != x.shape:
                raise ValueError(f"keep_mask must have shape {tuple(x.shape)}, "
                                 f"got {tuple(keep_mask.shape)}")
            mask = keep_mask.to(x.dtype)
        return x * mask * (1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def mask_from_ones(module: nn.Module, shape: Sequence[int], *,
                   dtype: torch.dtype = torch.float64) -> np.ndarray:
    r"""The keep-mask a dropout module draws next: run it in training mode on ones.

    For inverted dropout the output on ones is :math:`m/(1-p)`, so :math:`m = [y \ne 0]`. The
    call consumes random numbers: to apply the *same* mask to real data, reset the generator
    (``torch.manual_seed(s)``) before this call and again before the real call.

    Returns
    -------
    numpy.ndarray of bool, shape ``shape``
    """
    shape = tuple(check_int(s, "shape[i]", minimum=1) for s in shape)
    was_training = module.training
    module.train()
    with torch.no_grad():
        out = module(torch.ones(shape, dtype=dtype))
    module.train(was_training)
    return (out != 0).numpy()


def make_dropout_mlp(
    n_inputs: int,
    hidden: Sequence[int] = (128,),
    n_classes: int = 10,
    *,
    p: float = 0.5,
    seed: int = 0,
    scratch: bool = False,
) -> nn.Sequential:
    r"""A ReLU MLP with dropout after every hidden layer, returning logits:
    ``Linear -> ReLU -> Dropout(p) -> ... -> Linear``.

    .. math:: h_\ell = \operatorname{drop}_p(\max(0, W_\ell h_{\ell-1} + b_\ell)), \quad
              \text{logits} = W_L h_{L-1} + b_L

    Weights are drawn after ``seed_everything(seed)`` exactly as in
    :func:`regbook.torch.make_mlp` (dropout has no parameters), so the same seed gives the same
    initial weights with or without dropout. ``scratch=True`` uses :class:`Dropout` (this
    module's) instead of ``nn.Dropout``.
    """
    n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    widths = [check_int(h, "hidden[i]", minimum=1) for h in hidden]
    p = _check_p(p)
    seed_everything(seed)
    layers: list[nn.Module] = []
    fan_in = n_inputs
    for width in widths:
        layers += [nn.Linear(fan_in, width), nn.ReLU(), Dropout(p) if scratch else nn.Dropout(p)]
        fan_in = width
    layers.append(nn.Linear(fan_in, n_classes))
    return nn.Sequential(*layers)
