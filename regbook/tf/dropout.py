r"""Dropout in Keras: a from-scratch layer equal to ``keras.layers.Dropout``, and a dropout MLP.

Keras's ``Dropout(rate)`` is inverted dropout with ``rate`` = the book's :math:`p`. It drops
units only when called with ``training=True`` (``model.fit`` does that); a bare call is
inference, the identity.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

from regbook._validate import check_float, check_int
from regbook.seeding import seed_everything

__all__ = ["Dropout", "mask_from_ones", "make_dropout_mlp"]


def _check_rate(rate) -> float:
    return check_float(rate, "rate", minimum=0.0, maximum=1.0, include_max=False)


class Dropout(keras.layers.Layer):
    r"""Inverted dropout written out by hand, switched by the ``training`` call argument.

    .. math:: y = \begin{cases} x \cdot \frac{1}{1-p} \odot m, \quad m_i = [u_i \ge p],\;
              u_i \sim \mathcal{U}[0,1) & \text{training} \\ x & \text{inference} \end{cases}

    The uniforms come from ``keras.random.uniform`` with the layer's own ``SeedGenerator``,
    the draws ``keras.layers.Dropout`` makes on the TensorFlow backend, so two layers built with
    the same ``seed`` drop the same units. The gradient comes from automatic differentiation.

    Parameters
    ----------
    rate : float
        Drop probability :math:`p` in [0, 1).
    seed : int, optional
        Seed of the layer's generator.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False, keep_mask=None):
        """Dropout when ``training``; ``keep_mask`` (bool, ``True`` = keep) replaces the draw."""
        if not training or self.rate == 0.0:
            return inputs
        if keep_mask is None:
            uniforms = keras.random.uniform(keras.ops.shape(inputs), dtype=inputs.dtype,
                                            seed=self.seed_generator)
            keep_mask = keras.ops.greater_equal(uniforms, self.rate)
        mask = keras.ops.cast(keep_mask, inputs.dtype)
        # Same order as tf.nn.dropout: scale first, then zero the dropped units.
        return inputs * (1.0 / (1.0 - self.rate)) * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def mask_from_ones(layer: keras.layers.Layer, shape: Sequence[int], *,
                   dtype: str = "float64") -> np.ndarray:
    r"""The keep-mask a dropout layer draws next: call it with ``training=True`` on ones.

    For inverted dropout the output on ones is :math:`m/(1-p)`, so :math:`m = [y \ne 0]`. The
    call advances the layer's seed generator: a second layer built with the same ``seed`` will
    draw this same mask on its first call.

    Returns
    -------
    numpy.ndarray of bool, shape ``shape``
    """
    shape = tuple(check_int(s, "shape[i]", minimum=1) for s in shape)
    out = layer(keras.ops.ones(shape, dtype=dtype), training=True)
    return keras.ops.convert_to_numpy(out) != 0


def make_dropout_mlp(
    n_inputs: int,
    hidden: Sequence[int] = (128,),
    n_classes: int = 10,
    *,
    p: float = 0.5,
    seed: int = 0,
    scratch: bool = False,
) -> keras.Sequential:
    r"""A ReLU MLP with dropout after every hidden layer, returning logits:
    ``Dense(relu) -> Dropout(p) -> ... -> Dense``.

    .. math:: h_\ell = \operatorname{drop}_p(\max(0, h_{\ell-1} W_\ell + b_\ell)), \quad
              \text{logits} = h_{L-1} W_L + b_L

    Built after ``seed_everything(seed)`` like :func:`regbook.tf.make_mlp`; the dropout layers
    get seeds ``seed + i`` so their masks are reproducible. ``scratch=True`` uses
    :class:`Dropout` (this module's) instead of ``keras.layers.Dropout``.
    """
    n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    widths = [check_int(h, "hidden[i]", minimum=1) for h in hidden]
    p = check_float(p, "p", minimum=0.0, maximum=1.0, include_max=False)
    seed_everything(seed)
    drop = Dropout if scratch else keras.layers.Dropout
    layers: list = [keras.Input(shape=(n_inputs,))]
    for i, width in enumerate(widths):
        layers += [keras.layers.Dense(width, activation="relu"), drop(p, seed=seed + i)]
    layers.append(keras.layers.Dense(n_classes))
    return keras.Sequential(layers)
