r"""Batch normalization from scratch as a Keras layer, equal to Keras's ``BatchNormalization``."""

from __future__ import annotations

import keras
from keras import ops

from regbook._validate import check_float

__all__ = ["BatchNorm"]


class BatchNorm(keras.layers.Layer):
    r"""Batch normalization over the last axis, written out in ``keras.ops``; Keras's convention.

    Equal to ``keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)`` with its
    default ``axis=-1`` (channels last: ``(N, D)`` or ``(N, H, W, C)``). Called with
    ``training=True`` it normalises with the batch statistics over every axis but the last,
    and updates its non-trainable moving averages the *Keras* way,

    .. math::
        y = \gamma \frac{x - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta, \qquad
        r_\mu \leftarrow m\,r_\mu + (1-m)\,\mu_B, \qquad
        r_{\sigma^2} \leftarrow m\,r_{\sigma^2} + (1-m)\,\sigma_B^2,

    storing the *biased* variance :math:`\sigma_B^2`. A bare call (``training`` omitted or
    False), or a layer with ``trainable = False``, uses the moving averages and leaves them
    alone. This is NOT PyTorch's convention: convert settings with
    :func:`regbook.convert.keras_bn_kwargs_from_torch` (momentum :math:`m \leftrightarrow
    1-m`) and mind the :math:`n/(n-1)` between the stored variances. Like Keras (and unlike
    PyTorch) it does not reject a batch of one in training mode: the output is then
    :math:`\beta`.

    Parameters
    ----------
    momentum : float
        Keras's momentum in [0, 1]: the weight of the OLD value (default 0.99).
    epsilon : float
        :math:`\epsilon > 0` (default 1e-3, Keras's).
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum = check_float(momentum, "momentum", minimum=0.0, maximum=1.0)
        self.epsilon = check_float(epsilon, "epsilon", minimum=0.0, include_min=False)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"expected an input with a known last axis, got {input_shape}")
        d = (input_shape[-1],)
        self.gamma = self.add_weight(shape=d, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=d, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(shape=d, initializer="zeros", name="moving_mean",
                                           trainable=False)
        self.moving_variance = self.add_weight(shape=d, initializer="ones",
                                               name="moving_variance", trainable=False)

    def call(self, inputs, training=False):
        x = ops.cast(inputs, self.compute_dtype)
        if training and self.trainable:
            axes = tuple(range(len(x.shape) - 1))
            mean = ops.mean(x, axis=axes)
            var = ops.mean(ops.square(x - mean), axis=axes)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
            self.moving_variance.assign(self.moving_variance * m + var * (1.0 - m))
        else:
            mean = ops.cast(self.moving_mean, x.dtype)
            var = ops.cast(self.moving_variance, x.dtype)
        return (x - mean) / ops.sqrt(var + self.epsilon) * self.gamma + self.beta

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}
