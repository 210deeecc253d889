r"""Batch normalization from scratch as Keras layers: PyTorch's convention and Keras's.

:class:`BatchNorm` is the book's layer (PyTorch's convention, as :class:`regbook.np.BatchNorm`
and :class:`regbook.torch.BatchNorm`), written in ``keras.ops`` for channels-last inputs;
:class:`KerasBatchNorm` equals ``keras.layers.BatchNormalization`` and shows Keras's own
convention. The differences (momentum :math:`m \leftrightarrow 1-m`, the stored variance's
:math:`n/(n-1)`, the defaults) are in :mod:`regbook.convert.batchnorm`.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops

from regbook._validate import check_float
from regbook.tf._feature_norm import FeatureNorm

__all__ = ["BatchNorm", "KerasBatchNorm"]


class BatchNorm(FeatureNorm):
    r"""Batch normalization over the last axis in ``keras.ops``, with PyTorch's convention.

    The same layer as ``torch.nn.BatchNorm1d/2d`` (and :class:`regbook.torch.BatchNorm`), for
    channels-last inputs ``(N, D)`` or ``(N, H, W, C)`` (features on the last axis). Called with
    ``training=True``, with :math:`n` values per feature (:math:`N`, or :math:`N H W`),

    .. math::
        y = \gamma \frac{x - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta, \qquad
        r_\mu \leftarrow (1-m)\,r_\mu + m\,\mu_B, \qquad
        r_{\sigma^2} \leftarrow (1-m)\,r_{\sigma^2} + m\,\tfrac{n}{n-1}\sigma_B^2,

    normalising with the biased batch variance :math:`\sigma_B^2` and storing the unbiased
    one; ``momentum`` :math:`m` is the weight of the NEW batch. A bare call (``training``
    omitted or False), or a layer with ``trainable = False`` (Keras's rule for frozen batch
    norm), uses the running buffers and leaves them alone. Gradients come from automatic
    differentiation through the batch statistics.

    Compared with ``keras.layers.BatchNormalization(**regbook.convert.
    keras_bn_kwargs_from_torch(momentum, eps))`` the outputs are equal and the running means
    too, but ``running_var`` grows by :math:`n/(n-1)` per update where Keras's
    ``moving_variance`` stores the biased :math:`\sigma_B^2`.

    A training batch with one value per feature (:math:`n = 1`) is refused with a
    ``ValueError``, as PyTorch refuses it: the unbiased variance divides by :math:`n - 1 = 0`,
    and normalising one value by its own statistics gives :math:`\hat x = 0`, output
    :math:`\beta` whatever the input. (Keras accepts it.) Inside a ``tf.function`` whose batch
    size is unknown the check runs with the graph and raises ``InvalidArgumentError``.

    The parameters are ``gamma`` and ``beta``; the non-trainable buffers ``running_mean``
    and ``running_var`` (PyTorch's names).

    Parameters
    ----------
    num_features : int
        Size of the last axis (D, or C for images).
    momentum : float
        Weight of the new batch in the running averages, in [0, 1] (PyTorch's 0.1).
    eps : float
        :math:`\epsilon > 0` (PyTorch's 1e-5).
    dtype : str or keras.DTypePolicy, optional
        Of the variables and the computation (default ``keras.config.floatx()``).
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ...).
    """

    def __init__(self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5,
                 dtype=None, **kwargs):
        momentum = check_float(momentum, "momentum", minimum=0.0, maximum=1.0)
        super().__init__(num_features, eps=eps, dtype=dtype, **kwargs)
        self.momentum = momentum

    _layouts, _min_ndim = "(N, {d}) or (N, H, W, {d})", 2

    def build(self, input_shape):
        super().build(input_shape)
        d = (self.num_features,)
        self.running_mean = self.add_weight(shape=d, initializer="zeros", name="running_mean",
                                            trainable=False)
        self.running_var = self.add_weight(shape=d, initializer="ones", name="running_var",
                                           trainable=False)

    def call(self, inputs, training=False):
        x = ops.cast(inputs, self.compute_dtype)
        self._check_shape(x.shape)
        if training and self.trainable:
            mean, var = self._batch_statistics(x)
        else:
            mean = ops.cast(self.running_mean, x.dtype)
            var = ops.cast(self.running_var, x.dtype)
        gamma, beta = ops.cast(self.gamma, x.dtype), ops.cast(self.beta, x.dtype)
        return (x - mean) / ops.sqrt(var + self.eps) * gamma + beta

    def _batch_statistics(self, x):
        """The batch mean and biased variance; updates the running buffers PyTorch's way."""
        n = _values_per_feature(x)
        axes = tuple(range(len(x.shape) - 1))
        mean = ops.mean(x, axis=axes)
        var = ops.mean(ops.square(x - mean), axis=axes)
        n = ops.cast(n, x.dtype)
        unbiased = var * (n / (n - 1.0))
        m = self.momentum
        dtype = self.running_mean.dtype
        self.running_mean.assign(m * ops.cast(mean, dtype) + (1.0 - m) * self.running_mean)
        self.running_var.assign(m * ops.cast(unbiased, dtype) + (1.0 - m) * self.running_var)
        return mean, var

    def get_config(self) -> dict:
        return {**super().get_config(), "num_features": self.num_features,
                "momentum": self.momentum, "eps": self.eps}


def _values_per_feature(x):
    """n, the number of values per feature; refuses n < 2 (before any state changes)."""
    dims = tuple(x.shape[:-1])
    message = (f"Expected more than 1 value per channel when training, got input of shape "
               f"{tuple(x.shape)}; use inference mode (training=False) for a single example")
    if all(d is not None for d in dims):
        n = math.prod(dims)
        if n < 2:
            raise ValueError(message)
        return n
    n = ops.prod(ops.shape(x)[:-1])   # unknown batch size inside a tf.function
    tf.debugging.assert_greater_equal(n, 2, message=message)
    return n


class KerasBatchNorm(keras.layers.Layer):
    r"""Batch normalization over the last axis in ``keras.ops``, with Keras's convention.

    The layer that shows Keras's own semantics on purpose, beside :class:`BatchNorm`
    (PyTorch's, the book's). Equal to
    ``keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)`` with its
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
