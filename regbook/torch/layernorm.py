r"""Layer normalization from scratch as a ``torch.nn.Module``, equal to ``nn.LayerNorm(D)``.

:class:`LayerNorm` normalises the last axis; :class:`ChannelLayerNorm` applies it to the
channel axis of a ``(N, C, L)`` convolutional feature map, as :func:`regbook.torch.make_cnn`
needs.
"""

from __future__ import annotations

import torch
from torch import nn

from regbook._validate import check_float, check_int
from regbook.torch.dropout import _check_tensor

__all__ = ["LayerNorm", "ChannelLayerNorm"]


class LayerNorm(nn.Module):
    r"""Layer normalization over the last axis (Ba, Kiros & Hinton, 2016), in torch ops.

    The same layer as ``torch.nn.LayerNorm(D, eps=eps)`` and
    :func:`regbook.np.layernorm_forward`: every row :math:`x \in \mathbb{R}^D` (every index
    of the leading axes) is normalised with its own statistics,

    .. math::
        \mu = \frac1D \sum_{j=1}^D x_j, \qquad
        \sigma^2 = \frac1D \sum_{j=1}^D (x_j - \mu)^2, \qquad
        y_j = \gamma_j \frac{x_j - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta_j,

    with the biased variance (divide by :math:`D`). Unlike batch normalization there are no
    running estimates: training and evaluation mode compute the same thing. Autograd
    differentiates through :math:`\mu` and :math:`\sigma^2`.

    The parameters are ``gamma`` (ones) and ``beta`` (zeros), of shape ``(D,)``
    (``nn.LayerNorm`` calls them ``weight`` and ``bias``).

    Parameters
    ----------
    num_features : int
        :math:`D \ge 1`, the size of the input's last axis.
    eps : float
        :math:`\epsilon > 0` added to the variance.
    dtype : torch.dtype, optional
        Of the parameters (default float32).
    """

    def __init__(self, num_features: int, *, eps: float = 1e-5,
                 dtype: torch.dtype | None = None):
        super().__init__()
        self.num_features = check_int(num_features, "num_features", minimum=1)
        self.eps = check_float(eps, "eps", minimum=0.0, include_min=False)
        self.gamma = nn.Parameter(torch.ones(self.num_features, dtype=dtype))
        self.beta = nn.Parameter(torch.zeros(self.num_features, dtype=dtype))

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_tensor(x)
        if x.dim() < 1 or x.shape[-1] != self.num_features:
            raise ValueError(f"expected an input whose last axis has {self.num_features} "
                             f"features, got shape {tuple(x.shape)}")
        mean = x.mean(dim=-1, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
        xhat = (x - mean) / torch.sqrt(var + self.eps)
        return self.gamma * xhat + self.beta


class ChannelLayerNorm(nn.Module):
    r""":class:`LayerNorm` over the channels of a ``(N, C, L)`` feature map, at each position.

    .. math:: y_{n,:,l} = \operatorname{LN}_{\gamma,\beta}(x_{n,:,l}), \qquad
              \gamma, \beta \in \mathbb{R}^C,

    i.e. ``LayerNorm(C)`` applied to the ``(N, L, C)`` transpose and transposed back, as
    ``nn.LayerNorm(C)`` on ``x.transpose(1, 2)``. The parameters are ``norm.gamma`` and
    ``norm.beta``.

    Parameters
    ----------
    num_channels : int
        :math:`C \ge 1`.
    eps : float
        :math:`\epsilon > 0`.
    dtype : torch.dtype, optional
        Of the parameters (default float32).
    """

    def __init__(self, num_channels: int, *, eps: float = 1e-5,
                 dtype: torch.dtype | None = None):
        super().__init__()
        self.norm = LayerNorm(check_int(num_channels, "num_channels", minimum=1), eps=eps,
                              dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_tensor(x)
        c = self.norm.num_features
        if x.dim() != 3 or x.shape[1] != c:
            raise ValueError(f"expected an (N, {c}, L) input, got shape {tuple(x.shape)}")
        return self.norm(x.transpose(1, 2)).transpose(1, 2)
