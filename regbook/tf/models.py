r"""The book's Keras models: the multilayer perceptron, the 1-D CNN and the linear model.

The Keras twins of :mod:`regbook.np` and :mod:`regbook.torch`'s ``make_mlp``, ``make_cnn`` and
``make_linear`` (same names, same parameters). Every random draw comes from an explicit seed
derived from ``seed`` (:func:`layer_seed`), never from a global generator.
"""

from __future__ import annotations


import keras
import numpy as np

from regbook import _signatures
from regbook._architecture import check_cnn_args, check_linear_args, check_mlp_args
from regbook.tf.batchnorm import BatchNorm
from regbook.tf.layernorm import LayerNorm

__all__ = ["make_mlp", "make_cnn", "make_linear", "layer_seed"]

#: The floating-point types a model may have.
DTYPES = ("float32", "float64")


def layer_seed(seed: int, kind: str, index: int) -> int:
    """The seed of the ``index``-th layer of a ``kind`` (``"dense"``, ``"dropout"``, ``"conv"``).

    ``numpy.random.SeedSequence([seed, kind, index])`` turned into one int in ``[0, 2**31)``:
    the Dense and Conv1D initialisers and the Dropout generators of a model draw from separate
    streams, so adding dropout or a normalization layer does not change the weights drawn for a
    seed.
    """
    kinds = {"dense": 0, "dropout": 1, "conv": 2}
    words = np.random.SeedSequence([seed, kinds[kind], index]).generate_state(1)
    return int(words[0] >> 1)


def check_dtype(dtype, name: str = "dtype") -> str:
    """``"float32"`` or ``"float64"`` from a string, a NumPy dtype or a TensorFlow dtype."""
    try:
        value = np.dtype(getattr(dtype, "as_numpy_dtype", dtype)).name
    except TypeError:
        value = None
    if value not in DTYPES:
        raise ValueError(f"{name} must be one of {DTYPES} (or the NumPy dtype), got {dtype!r}")
    return value


@_signatures.implements(_signatures.make_mlp)
def make_mlp(n_inputs, hidden, n_classes, *, dropout, batchnorm, init, seed,
             dtype) -> keras.Sequential:
    r"""A ReLU multilayer perceptron returning logits, ``Dense -> [BN] -> ReLU -> [Dropout]``.

    .. math:: h_0 = x,\quad h_\ell = \operatorname{drop}_p\bigl(\max(0,
              \operatorname{BN}(h_{\ell-1} W_\ell + b_\ell))\bigr),\quad
              \text{logits} = h_{L-1} W_L + b_L

    (Keras kernels are ``(in, out)``, hence :math:`hW` rather than PyTorch's :math:`Wh`.)
    Biases start at 0; kernels are Glorot uniform (Keras's default), or He's normal with
    ``init="he"``, each layer drawn with a seed of its own (:func:`layer_seed`).

    Returns
    -------
    keras.Sequential
        Built (its variables exist), in inference mode unless called with ``training=True``.
    """
    n_inputs, widths, n_classes, dropout, batchnorm, seed, init = check_mlp_args(
        n_inputs, hidden, n_classes, dropout, batchnorm, seed, init)
    dtype = check_dtype(dtype)
    layers: list = [keras.Input(shape=(n_inputs,), dtype=dtype)]
    for i, width in enumerate(widths):
        layers.append(_dense(width, seed, i, init, dtype))
        layers += _after(width, batchnorm, False, dropout, layer_seed(seed, "dropout", i), dtype)
    layers.append(_dense(n_classes, seed, len(widths), init, dtype))
    return keras.Sequential(layers)


def _after(width: int, batchnorm: bool, layernorm: bool, dropout: float, dropout_seed: int,
           dtype: str) -> list:
    """What follows a hidden layer: ``[BatchNorm] -> [LayerNorm] -> ReLU -> [Dropout]``."""
    layers: list = [BatchNorm(width, dtype=dtype)] if batchnorm else []
    if layernorm:
        layers.append(LayerNorm(width, dtype=dtype))
    layers.append(keras.layers.ReLU(dtype=dtype))
    if dropout > 0.0:
        layers.append(keras.layers.Dropout(dropout, seed=dropout_seed, dtype=dtype))
    return layers


def _kernel_initializer(init: str, seed: int) -> keras.initializers.Initializer:
    r"""The kernel initialiser of ``init``, seeded: ``"pytorch"`` keeps Keras's default
    ``GlorotUniform`` (:math:`\mathcal U(\pm\sqrt{6/(\text{fan\_in} + \text{fan\_out})})`);
    ``"he"`` is :math:`\mathcal N(0, 2/\text{fan\_in})`, ``VarianceScaling(2, "fan_in",
    "untruncated_normal")`` -- PyTorch's ``kaiming_normal_``. (Keras's ``HeNormal`` has the
    same variance but truncates at two of its standard deviations.)"""
    if init == "he":
        return keras.initializers.VarianceScaling(2.0, mode="fan_in",
                                                  distribution="untruncated_normal", seed=seed)
    return keras.initializers.GlorotUniform(seed=seed)


def _dense(units: int, seed: int, index: int, init: str, dtype: str) -> keras.layers.Dense:
    kernel = _kernel_initializer(init, layer_seed(seed, "dense", index))
    return keras.layers.Dense(units, kernel_initializer=kernel, bias_initializer="zeros",
                              dtype=dtype)


@_signatures.implements(_signatures.make_cnn)
def make_cnn(n_inputs, n_classes, *, channels, kernel_size, stride, padding, dropout, batchnorm,
             layernorm, init, seed, dtype) -> keras.Sequential:
    r"""A 1-D convolutional classifier returning logits; the defaults are MNIST-1D's CNN.

    The model takes the rows ``(N, n_inputs)`` of :func:`make_mlp`, adds a channel axis
    (Keras's channels-last ``(N, L, 1)``) and applies, for each block :math:`b`,

    .. math:: h_{b+1} = \operatorname{drop}_p\bigl(\max(0, \operatorname{Norm}(
              h_b \star W_b + c_b))\bigr), \qquad
              (h \star W)_{l, o} = \sum_{k, i} h_{s l + k - p,\, i}\, W_{k, i, o}

    (cross-correlation with stride :math:`s` and :math:`p` zeros on both sides, as PyTorch's
    ``Conv1d(stride=s, padding=p)``: a ``ZeroPadding1D(p)`` then a ``"valid"`` ``Conv1D``;
    Keras's ``padding="same"`` pads differently), then ``logits = flatten(h) W + c``. The
    flatten runs in PyTorch's ``(C, L)`` order (a ``Permute((2, 1))`` before ``Flatten``), so
    weights copy one-to-one from ``torch.nn``: a ``Conv1d`` weight ``(C_out, C_in, K)`` is
    the ``Conv1D`` kernel ``(K, C_in, C_out)`` (``w.transpose(2, 1, 0)``), a ``Linear``
    weight the ``Dense`` kernel transposed. With the defaults the lengths are
    40 -> 19 -> 10 -> 5 and the head is ``Dense(10)`` on 125 features: 5,210 parameters, the
    paper's ``ConvBase`` (Greydanus & Steinbach, 2024).

    Returns
    -------
    keras.Sequential
        Built, taking ``(N, n_inputs)``; layers ``Reshape``, then per block
        ``[ZeroPadding1D]`` (when ``padding > 0``), ``Conv1D``, ``[BatchNorm]``,
        ``[LayerNorm]``, ``ReLU``, ``[Dropout]``, then ``Permute``, ``Flatten``, ``Dense``.
    """
    (n_inputs, n_classes, widths, kernels, lengths, stride, padding, dropout, batchnorm,
     layernorm, seed, init) = check_cnn_args(n_inputs, n_classes, channels, kernel_size, stride,
                                             padding, dropout, batchnorm, layernorm, seed, init)
    dtype = check_dtype(dtype)
    layers: list = [keras.Input(shape=(n_inputs,), dtype=dtype),
                    keras.layers.Reshape((n_inputs, 1), dtype=dtype)]
    for b, (width, k) in enumerate(zip(widths, kernels)):
        if padding:
            layers.append(keras.layers.ZeroPadding1D(padding, dtype=dtype))
        kernel = _kernel_initializer(init, layer_seed(seed, "conv", b))
        layers.append(keras.layers.Conv1D(width, k, strides=stride, padding="valid",
                                          kernel_initializer=kernel, bias_initializer="zeros",
                                          dtype=dtype))
        layers += _after(width, batchnorm, layernorm, dropout, layer_seed(seed, "dropout", b),
                         dtype)
    layers += [keras.layers.Permute((2, 1), dtype=dtype), keras.layers.Flatten(dtype=dtype),
               _dense(n_classes, seed, 0, init, dtype)]
    return keras.Sequential(layers)


@_signatures.implements(_signatures.make_linear)
def make_linear(n_features, *, coef, intercept) -> keras.Sequential:
    r"""A float64 Keras linear model :math:`f(x) = x^\top w + b` with given starting weights.

    Returns
    -------
    keras.Sequential
        ``Dense(1)`` in float64; its kernel is :math:`w` as a ``(d, 1)`` column.
    """
    n_features, coef, intercept = check_linear_args(n_features, coef, intercept)
    model = keras.Sequential([keras.Input(shape=(n_features,), dtype="float64"),
                              keras.layers.Dense(1, kernel_initializer="zeros", dtype="float64")])
    model.layers[0].set_weights([coef[:, None], np.array([intercept])])
    return model
