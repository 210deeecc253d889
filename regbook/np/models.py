r"""The book's NumPy models: the ReLU MLP and the 1-D convolutional network.

:func:`make_mlp` (defined in :mod:`regbook.np.layers`, re-exported here) and :func:`make_cnn`
are the NumPy twins of :func:`regbook.torch.make_mlp` / :func:`regbook.torch.make_cnn` and
their Keras counterparts: the same arguments, PyTorch's default initialisation (or He's, with
``init="he"``) drawn from ``numpy.random.default_rng(seed)``, dropout masks from generators of
their own, and no global generator touched.
"""

from __future__ import annotations


import numpy as np

from regbook import _signatures
from regbook._architecture import check_cnn_args
from regbook._validate import (
    check_float_dtype,
)
from regbook.np.layers import (
    AddChannel,
    BatchNorm,
    ChannelsLast,
    Conv1d,
    Dropout,
    Flatten,
    LayerNorm,
    Linear,
    ReLU,
    Sequential,
    _LAYER_INIT,
    make_mlp,
)

__all__ = ["make_mlp", "make_cnn"]


@_signatures.implements(_signatures.make_cnn)
def make_cnn(n_inputs, n_classes, *, channels, kernel_size, stride, padding, dropout, batchnorm,
             layernorm, init, seed, dtype) -> Sequential:
    r"""A 1-D convolutional network for ``(N, n_inputs)`` rows; the defaults are MNIST-1D's CNN.

    The model adds the channel axis itself (:class:`regbook.np.AddChannel`: ``(N, L)`` ->
    ``(N, 1, L)``, PyTorch's ``(N, C, L)`` layout), then per block :math:`b`

    .. math:: h_b = \operatorname{drop}_p\big(\max(0, \operatorname{Norm}(
              w_b \star h_{b-1} + b_b))\big), \qquad
              L_b = \Big\lfloor \frac{L_{b-1} + 2\,\text{padding} - k_b}{\text{stride}}
              \Big\rfloor + 1,

    ``Conv1d(C_{b-1}, channels[b], kernel_size[b], stride, padding) -> [BatchNorm] ->
    [ChannelsLast(LayerNorm)] -> ReLU -> [Dropout]``, and finally ``Flatten`` (in ``(C, L)``
    order, as ``torch.nn.Flatten``) ``-> Linear(channels[-1] * L_last, n_classes)`` (logits).
    With the defaults and 40 inputs the lengths are 40 -> 19 -> 10 -> 5 and the head is
    ``Linear(125, 10)``: the ``ConvBase`` of Greydanus & Steinbach's MNIST-1D paper (ICML
    2024), 5,210 parameters.

    :class:`regbook.np.BatchNorm` (per channel, over the batch and the positions) only with
    ``batchnorm=True``; ``ChannelsLast(LayerNorm(C))`` (over the C channels at each position,
    as ``nn.LayerNorm(C)`` on the ``(N, L, C)`` transpose) only with ``layernorm=True``;
    :class:`regbook.np.Dropout` only when ``dropout > 0``. The ``Conv1d`` kernels and biases
    and then the head's are drawn, block by block, with PyTorch's default initialisation
    (:math:`U(\pm 1/\sqrt{\text{fan\_in}})`, :math:`\text{fan\_in} = C_{b-1} k_b`) or, with
    ``init="he"``, He's (:math:`\mathcal N(0, 2/\text{fan\_in})`, zero biases) from one
    ``numpy.random.default_rng(seed)``; each dropout layer's generator is spawned from
    ``numpy.random.SeedSequence(seed)``. So a seed gives the same weights whatever
    ``dropout``, ``batchnorm`` and ``layernorm`` are, and no global generator is used.

    Returns
    -------
    regbook.np.Sequential
        ``AddChannel, (Conv1d, [BatchNorm], [ChannelsLast(LayerNorm)], ReLU, [Dropout]) *
        blocks, Flatten, Linear`` -- the layer order of :func:`regbook.torch.make_cnn`, so
        ``get_weights()`` lists the arrays in the order of its ``state_dict()``.
    """
    (n_inputs, n_classes, widths, kernels, lengths, stride, padding, dropout, batchnorm,
     layernorm, seed, init) = check_cnn_args(n_inputs, n_classes, channels, kernel_size, stride,
                                             padding, dropout, batchnorm, layernorm, seed, init)
    dtype = check_float_dtype(dtype)
    init = _LAYER_INIT[init]
    rng = np.random.default_rng(seed)
    convs = [Conv1d(c_in, c_out, k, stride=stride, padding=padding, rng=rng, init=init,
                    dtype=dtype)
             for c_in, c_out, k in zip([1] + widths[:-1], widths, kernels)]
    head = Linear(widths[-1] * lengths[-1], n_classes, rng=rng, init=init, dtype=dtype)
    mask_seeds = np.random.SeedSequence(seed).spawn(len(widths))
    layers: list = [AddChannel(n_inputs)]
    for conv, width, mask_seed in zip(convs, widths, mask_seeds):
        layers.append(conv)
        if batchnorm:
            layers.append(BatchNorm(width, dtype=dtype))
        if layernorm:
            layers.append(ChannelsLast(LayerNorm(width, dtype=dtype)))
        layers.append(ReLU())
        if dropout > 0:
            layers.append(Dropout(dropout, rng=np.random.default_rng(mask_seed)))
    return Sequential(layers + [Flatten(), head])
