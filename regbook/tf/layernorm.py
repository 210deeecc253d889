r"""Layer normalization from scratch as a Keras layer (Ba, Kiros & Hinton, 2016).

The Keras twin of :func:`regbook.np.layernorm_forward` and ``torch.nn.LayerNorm``: every
example (every position of a sequence) is normalised with its *own* statistics over the last
axis, so training and inference compute the same thing and there are no running estimates.
"""

from __future__ import annotations

from keras import ops

from regbook.tf._feature_norm import FeatureNorm

__all__ = ["LayerNorm"]


class LayerNorm(FeatureNorm):
    r"""Layer normalization over the last axis in ``keras.ops``, with PyTorch's default eps.

    For every vector :math:`x \in \mathbb{R}^D` along the last axis (every index of the
    leading axes: an example of ``(N, D)``, a position of ``(N, L, C)``),

    .. math::
        \mu = \frac1D \sum_{j=1}^D x_j, \qquad
        \sigma^2 = \frac1D \sum_{j=1}^D (x_j - \mu)^2, \qquad
        y_j = \gamma_j \frac{x_j - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta_j ,

    with the biased variance. Equal to ``torch.nn.LayerNorm(num_features, eps=eps)`` and to
    ``keras.layers.LayerNormalization(epsilon=eps)`` (axis -1). Mind the defaults: the book's
    ``eps`` is PyTorch's 1e-5, where Keras's ``LayerNormalization`` uses ``epsilon=1e-3``.
    The same computation with and without ``training``; gradients come from automatic
    differentiation. On a channels-last ``(N, L, C)`` activation, ``LayerNorm(C)`` normalises
    over the channels at each position (what :func:`regbook.tf.make_cnn` uses).

    The parameters are ``gamma`` (ones) and ``beta`` (zeros), of shape ``(num_features,)``;
    :func:`regbook.tf.split_decay_params` never penalises them.

    Parameters
    ----------
    num_features : int
        :math:`D`, the size of the last axis.
    eps : float
        :math:`\epsilon > 0` added to the variance (PyTorch's 1e-5; Keras's default is 1e-3).
    dtype : str or keras.DTypePolicy, optional
        Of the variables and the computation (default ``keras.config.floatx()``).
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ...).
    """

    def __init__(self, num_features: int, *, eps: float = 1e-5, dtype=None, **kwargs):
        super().__init__(num_features, eps=eps, dtype=dtype, **kwargs)

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        self._check_shape(x.shape)
        mean = ops.mean(x, axis=-1, keepdims=True)
        centred = x - mean
        var = ops.mean(ops.square(centred), axis=-1, keepdims=True)
        gamma, beta = ops.cast(self.gamma, x.dtype), ops.cast(self.beta, x.dtype)
        return centred / ops.sqrt(var + self.eps) * gamma + beta

    def get_config(self) -> dict:
        return {**super().get_config(), "num_features": self.num_features, "eps": self.eps}
