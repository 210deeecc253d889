r"""Data augmentation with Keras preprocessing layers (twin of :mod:`regbook.np.augment`)."""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

from regbook._validate import check_array, check_bool, check_float, check_int, check_seed

__all__ = ["make_augmenter", "apply_augmenter"]


def make_augmenter(
    max_shift: int = 1,
    sigma: float = 0.0,
    *,
    image_shape: Sequence[int] = (8, 8),
    flat: bool = False,
    clip: bool = True,
    seed: int | None = None,
) -> keras.Sequential:
    r"""Random whole-pixel shifts and Gaussian pixel noise as Keras preprocessing layers.

    .. math:: x' = \operatorname{clip}\big(\operatorname{shift}(x; \delta_y, \delta_x)
              + \sigma\varepsilon,\ 0,\ 1\big), \qquad
              \delta = \operatorname{round}(u),\ u \sim \mathcal{U}[-m, m],\
              \varepsilon \sim \mathcal{N}(0, I)

    ``keras.layers.RandomTranslation(m/h, m/w, fill_mode="constant", interpolation="nearest")``
    draws a real translation :math:`u` in :math:`[-m, m]` pixels per image; nearest-neighbour
    interpolation turns it into a whole-pixel shift with zero fill, one of the same
    :math:`(2m+1)^2` shifts as :func:`regbook.np.random_shift` (but the end values
    :math:`\pm m` are half as likely as the others, where NumPy's are uniform). Then
    ``keras.layers.GaussianNoise(sigma)`` and, with ``clip``, ``keras.layers.ReLU(max_value=1)``,
    which is :math:`\min(\max(x, 0), 1)`. Called with ``training=False`` (as ``model.predict``
    and ``model.evaluate`` do) the model is the identity. Beware a bare call ``model(x)``: Keras
    3's image augmentation layers default to ``training=True`` while ``GaussianNoise`` defaults
    to ``False``, so a bare call shifts but adds no noise. :func:`apply_augmenter` always passes
    ``training`` explicitly.

    Parameters
    ----------
    max_shift : int
        Largest shift :math:`m` in pixels, ``0 <= m < min(h, w)``; 0 leaves out the translation.
    sigma : float
        Noise standard deviation in [0, 1] (``GaussianNoise`` refuses more); 0 leaves out the
        noise.
    image_shape : (int, int)
        Height and width ``(h, w)`` of one image.
    flat : bool
        If True the model takes and returns flat rows ``(n, h * w)`` (like the NumPy functions,
        ready to sit in front of :func:`regbook.tf.make_mlp`); otherwise images ``(n, h, w, 1)``.
    clip : bool
        Clip the result to [0, 1] (after the noise), as :func:`regbook.np.add_gaussian_noise`.
    seed : int, optional
        Seed of the layers' generators: two augmenters built with the same seed produce the same
        sequence of augmented batches.

    Returns
    -------
    keras.Sequential
    """
    if len(image_shape) != 2:
        raise ValueError(f"image_shape must be (height, width), got {tuple(image_shape)!r}")
    h = check_int(image_shape[0], "image_shape[0]", minimum=1)
    w = check_int(image_shape[1], "image_shape[1]", minimum=1)
    max_shift = check_int(max_shift, "max_shift", minimum=0, maximum=min(h, w) - 1)
    sigma = check_float(sigma, "sigma", minimum=0.0, maximum=1.0)
    flat, clip = check_bool(flat, "flat"), check_bool(clip, "clip")
    if seed is not None:
        seed = check_seed(seed)
    layers: list = [keras.Input(shape=(h * w,) if flat else (h, w, 1))]
    if flat:
        layers.append(keras.layers.Reshape((h, w, 1)))
    if max_shift > 0:
        layers.append(keras.layers.RandomTranslation(
            max_shift / h, max_shift / w, fill_mode="constant", interpolation="nearest",
            fill_value=0.0, seed=seed))
    if sigma > 0:
        layers.append(keras.layers.GaussianNoise(sigma, seed=None if seed is None else seed + 1))
    if clip:
        layers.append(keras.layers.ReLU(max_value=1.0))
    if flat:
        layers.append(keras.layers.Reshape((h * w,)))
    return keras.Sequential(layers, name="augmenter")


def apply_augmenter(augmenter: keras.Model, X: np.ndarray, *,
                    training: bool = True) -> np.ndarray:
    """Run ``augmenter`` on a NumPy batch and return a NumPy array of the same shape (float32).

    The Keras counterpart of :func:`regbook.np.augment_batch` (which draws the shifts and
    noise itself from a NumPy generator). ``training=True`` (the default here) applies all the
    random layers; ``training=False`` is the identity (up to the float32 cast and clipping of
    values already in [0, 1]).
    """
    if not isinstance(augmenter, keras.Model):
        raise TypeError(f"augmenter must be a keras.Model, got {type(augmenter).__name__}")
    training = check_bool(training, "training")
    X = check_array(X, "X", ndim=(2, 4), dtype=np.float32)
    want = tuple(augmenter.input_shape[1:])
    if X.shape[1:] != want:
        raise ValueError(f"X must have shape (n, {', '.join(map(str, want))}), got {X.shape}")
    return keras.ops.convert_to_numpy(augmenter(X, training=training))
