r"""Dropout in Keras: a from-scratch layer equal to ``keras.layers.Dropout``, and reading its mask.

Keras's ``Dropout(rate)`` is inverted dropout with ``rate`` = the book's :math:`p`. It drops
units only when called with ``training=True`` (``model.fit`` does that); a bare call is
inference, the identity. A dropout MLP is :func:`regbook.tf.make_mlp` with ``dropout=p``.
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

from regbook._validate import check_float, check_int, check_seed

__all__ = ["Dropout", "mask_from_ones"]


def _check_p(p) -> float:
    return check_float(p, "p", minimum=0.0, maximum=1.0, include_max=False)


class Dropout(keras.layers.Layer):
    r"""Inverted dropout written out by hand, switched by the ``training`` call argument.

    .. math:: y = \begin{cases} x \cdot \frac{1}{1-p} \odot m, \quad m_i = [u_i \ge p],\;
              u_i \sim \mathcal{U}[0,1) & \text{training} \\ x & \text{inference} \end{cases}

    The uniforms come from ``keras.random.uniform`` with the layer's own
    ``keras.random.SeedGenerator``, the draws ``keras.layers.Dropout(p, seed=...)`` makes on the
    TensorFlow backend, so this layer and Keras's built with the same ``seed`` drop the same
    units, and no global generator is read or reseeded. With ``seed=None`` the layer's seed is
    drawn once, at construction, as Keras does for its own layers (from Python's ``random``,
    or from ``keras.utils.set_random_seed``'s seed if one was set). The gradient comes from
    automatic differentiation.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1) (Keras's ``rate``).
    seed : int, optional
        Seed of the layer's generator, in ``[0, 2**32 - 1]``.
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).
    """

    def __init__(self, p: float, *, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.p = _check_p(p)
        self.seed = None if seed is None else check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs, training=False, keep_mask=None):
        """Dropout when ``training``; ``keep_mask`` (bool, ``True`` = keep) replaces the draw."""
        if keep_mask is not None and not _same_shape(keep_mask.shape, inputs.shape):
            raise ValueError(f"keep_mask must have shape {tuple(inputs.shape)}, "
                             f"got {tuple(keep_mask.shape)}")
        if not training or self.p == 0.0:
            return inputs
        if keep_mask is None:
            uniforms = keras.random.uniform(keras.ops.shape(inputs), dtype=inputs.dtype,
                                            seed=self.seed_generator)
            keep_mask = keras.ops.greater_equal(uniforms, self.p)
        mask = keras.ops.cast(keep_mask, inputs.dtype)
        # Same order as tf.nn.dropout: scale first, then zero the dropped units.
        return inputs * (1.0 / (1.0 - self.p)) * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "p": self.p, "seed": self.seed}


def _same_shape(a, b) -> bool:
    """Equal shapes, where an unknown (``None``) dimension matches any."""
    a, b = tuple(a), tuple(b)
    return len(a) == len(b) and all(i is None or j is None or i == j for i, j in zip(a, b))


def mask_from_ones(module: keras.layers.Layer, shape: Sequence[int], *,
                   dtype: str = "float64") -> np.ndarray:
    r"""The keep-mask a dropout layer draws next: call it with ``training=True`` on ones.

    For inverted dropout the output on ones is :math:`m/(1-p)`, so :math:`m = [y \ne 0]`. The
    call advances the layer's seed generator: a second layer built with the same ``seed`` will
    draw this same mask on its first call.

    Parameters
    ----------
    module : keras.layers.Layer
        A dropout layer (``keras.layers.Dropout``, :class:`Dropout`, ...).
    shape : sequence of int
        Shape of the mask.
    dtype : str
        Of the tensor of ones.

    Returns
    -------
    numpy.ndarray of bool, shape ``shape``
    """
    if not isinstance(module, keras.layers.Layer):
        raise TypeError(f"module must be a keras.layers.Layer, got {type(module).__name__}")
    shape = tuple(check_int(s, "shape[i]", minimum=1) for s in shape)
    out = module(keras.ops.ones(shape, dtype=dtype), training=True)
    return keras.ops.convert_to_numpy(out) != 0
