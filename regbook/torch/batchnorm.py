r"""Batch normalization from scratch as a ``torch.nn.Module``, equal to ``nn.BatchNorm1d/2d``."""

from __future__ import annotations

import torch
from torch import nn

from regbook._validate import check_float, check_int
from regbook.torch.dropout import _check_tensor

__all__ = ["BatchNorm"]


class BatchNorm(nn.Module):
    r"""Batch normalization for ``(N, D)`` or ``(N, C, H, W)`` tensors, written out in torch ops.

    The same layer as :class:`regbook.np.BatchNorm` and ``torch.nn.BatchNorm1d/2d`` (PyTorch's
    convention): in ``module.train()`` mode, with :math:`n` values per feature,

    .. math::
        y = \gamma \frac{x - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta, \qquad
        r_\mu \leftarrow (1-m)\,r_\mu + m\,\mu_B, \qquad
        r_{\sigma^2} \leftarrow (1-m)\,r_{\sigma^2} + m\,\tfrac{n}{n-1}\sigma_B^2,

    with the biased batch variance :math:`\sigma_B^2` used to normalise and the unbiased one
    stored; in ``module.eval()`` mode :math:`\mu_B, \sigma_B^2` are replaced by the running
    buffers. Autograd differentiates through the batch statistics. A training batch with one
    value per feature (:math:`n = 1`) is refused with a ``ValueError``, as ``nn.BatchNorm``
    refuses it: its unbiased variance divides by :math:`n - 1 = 0`.

    The parameters are ``gamma`` and ``beta`` (``nn.BatchNorm`` calls them ``weight`` and
    ``bias``); the buffers ``running_mean`` and ``running_var`` (registered, so they are in
    ``state_dict()`` and follow ``.to()`` / ``.double()``).

    Parameters
    ----------
    num_features : int
        D for ``(N, D)`` inputs, C for ``(N, C, H, W)``.
    momentum : float
        Weight of the new batch in the running averages, in [0, 1].
    eps : float
        :math:`\epsilon > 0`.
    dtype : torch.dtype, optional
        Of the parameters and buffers (default float32).
    """

    def __init__(self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5,
                 dtype: torch.dtype | None = None):
        super().__init__()
        self.num_features = check_int(num_features, "num_features", minimum=1)
        self.momentum = check_float(momentum, "momentum", minimum=0.0, maximum=1.0)
        self.eps = check_float(eps, "eps", minimum=0.0, include_min=False)
        d = self.num_features
        self.gamma = nn.Parameter(torch.ones(d, dtype=dtype))
        self.beta = nn.Parameter(torch.zeros(d, dtype=dtype))
        self.register_buffer("running_mean", torch.zeros(d, dtype=dtype))
        self.register_buffer("running_var", torch.ones(d, dtype=dtype))

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_tensor(x)
        if x.dim() not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(f"expected an (N, {self.num_features}) or (N, {self.num_features}, "
                             f"H, W) input, got shape {tuple(x.shape)}")
        axes = (0,) if x.dim() == 2 else (0, 2, 3)
        shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
        if self.training:
            n = x.numel() // self.num_features
            if n < 2:
                raise ValueError(f"Expected more than 1 value per channel when training, got "
                                 f"input of shape {tuple(x.shape)}")
            mean = x.mean(dim=axes)
            var = ((x - mean.view(shape)) ** 2).mean(dim=axes)
            with torch.no_grad():
                m = self.momentum
                self.running_mean.copy_(m * mean + (1 - m) * self.running_mean)
                self.running_var.copy_(m * var * (n / (n - 1)) + (1 - m) * self.running_var)
        else:
            mean, var = self.running_mean, self.running_var
        xhat = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        return self.gamma.view(shape) * xhat + self.beta.view(shape)
