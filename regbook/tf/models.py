r"""The book's Keras models: the multilayer perceptron classifier and the linear model.

The Keras twins of :mod:`regbook.np` and :mod:`regbook.torch`'s ``make_mlp`` and
``make_linear`` (same names, same parameters). Every random draw comes from an explicit seed
derived from ``seed`` (:func:`layer_seed`), never from a global generator.
"""

from __future__ import annotations

import numbers
from typing import Sequence

import keras
import numpy as np

from regbook._validate import check_array, check_bool, check_float, check_int, check_seed
from regbook.tf.batchnorm import BatchNorm

__all__ = ["make_mlp", "make_linear", "layer_seed"]

#: The floating-point types a model may have.
DTYPES = ("float32", "float64")


def layer_seed(seed: int, kind: str, index: int) -> int:
    """The seed of the ``index``-th layer of a ``kind`` (``"dense"``, ``"dropout"``) for ``seed``.

    ``numpy.random.SeedSequence([seed, kind, index])`` turned into one int in ``[0, 2**31)``:
    the Dense initialisers and the Dropout generators of a model draw from separate streams,
    so adding dropout or batch norm does not change the weights drawn for a seed.
    """
    kinds = {"dense": 0, "dropout": 1}
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


def _check_hidden(hidden) -> list[int]:
    if isinstance(hidden, (numbers.Number, str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError("hidden must be a sequence of layer widths such as (128,) or (64, 32), "
                        f"got {type(hidden).__name__} {hidden!r}")
    return [check_int(h, f"hidden[{i}]", minimum=1) for i, h in enumerate(hidden)]


def make_mlp(
    n_inputs: int,
    hidden: Sequence[int] = (128,),
    n_classes: int = 10,
    *,
    dropout: float = 0.0,
    batchnorm: bool = False,
    seed: int = 0,
    dtype: str = "float32",
) -> keras.Sequential:
    r"""A ReLU multilayer perceptron returning logits, ``Dense -> [BN] -> ReLU -> [Dropout]``.

    .. math:: h_0 = x,\quad h_\ell = \operatorname{drop}_p\bigl(\max(0,
              \operatorname{BN}(h_{\ell-1} W_\ell + b_\ell))\bigr),\quad
              \text{logits} = h_{L-1} W_L + b_L

    (Keras kernels are ``(in, out)``, hence :math:`hW` rather than PyTorch's :math:`Wh`.)

    Parameters
    ----------
    n_inputs : int
        Number of input features.
    hidden : sequence of int
        Width of each hidden layer (``(128,)``; ``()`` gives multinomial logistic regression).
    n_classes : int
        Number of outputs (logits), at least 2.
    dropout : float
        Drop probability :math:`p \in [0, 1)` of a ``keras.layers.Dropout`` after each hidden
        ReLU; none when 0.
    batchnorm : bool
        A :class:`regbook.tf.BatchNorm` (PyTorch's convention: momentum 0.1, eps 1e-5, the
        unbiased running variance) between each hidden ``Dense`` and its ReLU.
    seed : int
        The Dense layers use Keras's default initialisation (Glorot uniform kernels, zero
        biases) with the explicit seed :func:`layer_seed(seed, "dense", i) <layer_seed>`, and
        the Dropout layers the seed ``layer_seed(seed, "dropout", i)``: the same seed gives the
        same weights and the same masks, and dropout or batch norm leave the Dense weights of a
        seed unchanged. No global generator is read or reseeded.
    dtype : {"float32", "float64"}
        The model's floating-point type (NumPy and TensorFlow dtypes accepted). Keras draws the
        weights in this type, so a seed gives different weights in float32 and float64.

    Returns
    -------
    keras.Sequential
        Built (its variables exist), in inference mode unless called with ``training=True``.
    """
    n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
    widths = _check_hidden(hidden)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, include_max=False)
    batchnorm = check_bool(batchnorm, "batchnorm")
    seed = check_seed(seed)
    dtype = check_dtype(dtype)
    layers: list = [keras.Input(shape=(n_inputs,), dtype=dtype)]
    for i, width in enumerate(widths):
        layers.append(_dense(width, seed, i, dtype))
        if batchnorm:
            layers.append(BatchNorm(width, dtype=dtype))
        layers.append(keras.layers.ReLU(dtype=dtype))
        if dropout > 0.0:
            layers.append(keras.layers.Dropout(dropout, seed=layer_seed(seed, "dropout", i),
                                               dtype=dtype))
    layers.append(_dense(n_classes, seed, len(widths), dtype))
    return keras.Sequential(layers)


def _dense(units: int, seed: int, index: int, dtype: str) -> keras.layers.Dense:
    init = keras.initializers.GlorotUniform(seed=layer_seed(seed, "dense", index))
    return keras.layers.Dense(units, kernel_initializer=init, bias_initializer="zeros",
                              dtype=dtype)


def make_linear(n_features: int, *, coef=None, intercept: float = 0.0) -> keras.Sequential:
    r"""A float64 Keras linear model :math:`f(x) = x^\top w + b` with given starting weights.

    Parameters
    ----------
    n_features : int
        :math:`d \ge 1`.
    coef : array_like, shape (d,), optional
        Starting :math:`w` (zeros by default).
    intercept : float
        Starting :math:`b`.

    Returns
    -------
    keras.Sequential
        ``Dense(1)`` in float64; its kernel is :math:`w` as a ``(d, 1)`` column.
    """
    n_features = check_int(n_features, "n_features", minimum=1)
    if coef is None:
        coef = np.zeros(n_features)
    coef = check_array(coef, "coef", ndim=1)
    if coef.shape != (n_features,):
        raise ValueError(f"coef must have shape ({n_features},), got {coef.shape}")
    intercept = check_float(intercept, "intercept")
    model = keras.Sequential([keras.Input(shape=(n_features,), dtype="float64"),
                              keras.layers.Dense(1, kernel_initializer="zeros", dtype="float64")])
    model.layers[0].set_weights([coef[:, None], np.array([intercept])])
    return model
