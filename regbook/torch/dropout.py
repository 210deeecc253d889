r"""Dropout in PyTorch: a from-scratch module equal to ``nn.Dropout``, and reading its mask.

PyTorch's ``nn.Dropout(p)`` is inverted dropout: in ``module.train()`` mode it draws a
Bernoulli(:math:`1-p`) keep-mask and returns :math:`(x \odot m) / (1-p)`; in ``module.eval()``
mode it is the identity. A dropout MLP is :func:`regbook.torch.make_mlp` with ``dropout=p``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from regbook._validate import check_float, check_int, check_seed

__all__ = ["Dropout", "mask_from_ones"]


def _check_p(p) -> float:
    return check_float(p, "p", minimum=0.0, maximum=1.0, include_max=False)


def _check_tensor(x, name: str = "x") -> torch.Tensor:
    """Return ``x`` after checking that it is a ``torch.Tensor`` (a NumPy array is refused)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; convert with torch.from_numpy, got "
                        f"{type(x).__name__}")
    return x


class Dropout(nn.Module):
    r"""Inverted dropout written out by hand, switched by ``self.training``.

    .. math:: y = \begin{cases} (x \odot m) / (1-p), \quad m_i \sim \text{Bernoulli}(1-p)
              & \text{training} \\ x & \text{evaluation} \end{cases}

    Autograd supplies the backward pass :math:`\frac{m}{1-p} \odot \partial L / \partial y`.
    The mask is drawn as ``nn.Dropout`` draws it (``bernoulli_(1 - p)`` on a tensor like
    ``x``), from one of two generators:

    - ``seed=None``: PyTorch's global generator, exactly like ``nn.Dropout`` (so from the same
      global state the two modules drop the same units, and the draws advance that state);
    - ``seed=s``: the module's own ``torch.Generator`` seeded with ``s`` (the global state is
      never read or changed). Its first mask is the one ``nn.Dropout`` would draw right after
      ``torch.manual_seed(s)``. The masks are drawn on the CPU and moved to ``x``'s device.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1).
    seed : int, optional
        Seed of the module's own generator, in ``[0, 2**32 - 1]``.
    """

    def __init__(self, p: float, *, seed: int | None = None):
        super().__init__()
        self.p = _check_p(p)
        self.seed = None if seed is None else check_seed(seed)
        self.generator = None if seed is None else torch.Generator().manual_seed(self.seed)

    def forward(self, x: torch.Tensor, keep_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Apply dropout; ``keep_mask`` (a bool tensor, ``True`` = keep) replaces the draw."""
        x = _check_tensor(x)
        if keep_mask is not None:
            keep_mask = _check_keep_mask(keep_mask, x)
        if not self.training or self.p == 0.0:
            return x
        if keep_mask is not None:
            mask = keep_mask.to(device=x.device, dtype=x.dtype)
        elif self.generator is None:
            mask = torch.empty_like(x).bernoulli_(1.0 - self.p)
        else:
            mask = torch.empty(x.shape, dtype=x.dtype).bernoulli_(1.0 - self.p,
                                                                  generator=self.generator)
            mask = mask.to(x.device)
        return x * mask * (1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}" + ("" if self.seed is None else f", seed={self.seed}")


def _check_keep_mask(keep_mask, x: torch.Tensor) -> torch.Tensor:
    keep_mask = _check_tensor(keep_mask, "keep_mask")
    if keep_mask.dtype != torch.bool:
        raise TypeError(f"keep_mask must be a bool tensor (True = keep), got {keep_mask.dtype}")
    if keep_mask.shape != x.shape:
        raise ValueError(f"keep_mask must have shape {tuple(x.shape)}, "
                         f"got {tuple(keep_mask.shape)}")
    return keep_mask


def mask_from_ones(module: nn.Module, shape: Sequence[int], *,
                   dtype: torch.dtype = torch.float64) -> np.ndarray:
    r"""The keep-mask a dropout module draws next: run it in training mode on ones.

    For inverted dropout the output on ones is :math:`m/(1-p)`, so :math:`m = [y \ne 0]`. The
    call consumes random numbers. To apply the *same* mask to real data, draw both from the
    same generator state: for :class:`Dropout` with a ``seed``, use a second module built with
    the same seed; for ``nn.Dropout`` (the global generator), call ``torch.manual_seed(s)``
    inside ``torch.random.fork_rng(devices=[])`` before this call and again before the real
    call, so the global state is restored afterwards. The module's mode is restored.

    Parameters
    ----------
    module : torch.nn.Module
        A dropout module (``nn.Dropout``, :class:`Dropout`, ...).
    shape : sequence of int
        Shape of the mask.
    dtype : torch.dtype
        Of the tensor of ones.

    Returns
    -------
    numpy.ndarray of bool, shape ``shape``
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    shape = tuple(check_int(s, "shape[i]", minimum=1) for s in shape)
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype, got {type(dtype).__name__}")
    was_training = module.training
    module.train()
    try:
        with torch.no_grad():
            out = module(torch.ones(shape, dtype=dtype))
    finally:
        module.train(was_training)
    return (out != 0).cpu().numpy()
