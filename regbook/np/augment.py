r"""Data augmentation for small images stored as flat rows: random integer shifts and noise.

Images arrive as ``(n, h * w)`` rows (the layout of ``load_digits``: ``(n, 64)`` for 8x8) and
leave in the same layout and dtype. Every random function takes an explicit
``numpy.random.Generator``, so the same generator state gives the same augmented batch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from regbook._validate import check_array, check_bool, check_float, check_generator, check_int

__all__ = ["shift_images", "random_shift", "add_gaussian_noise", "augment_batch",
           "augment_dataset"]


def _check_images(X, name: str, image_shape) -> tuple[np.ndarray, int, int]:
    X = check_array(X, name, ndim=2, dtype=None)
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if len(image_shape) != 2:
        raise ValueError(f"image_shape must be (height, width), got {tuple(image_shape)!r}")
    h = check_int(image_shape[0], "image_shape[0]", minimum=1)
    w = check_int(image_shape[1], "image_shape[1]", minimum=1)
    if X.shape[1] != h * w:
        raise ValueError(f"{name} must have image_shape[0] * image_shape[1] = {h * w} columns, "
                         f"got shape {X.shape}")
    return X, h, w


def shift_images(
    X: np.ndarray, dy, dx, *, image_shape: Sequence[int] = (8, 8)
) -> np.ndarray:
    r"""Translate each image by a whole number of pixels, filling the uncovered border with 0.

    .. math:: x'_{r,c} = \begin{cases} x_{r - \delta_y,\, c - \delta_x} &
              0 \le r - \delta_y < h,\ 0 \le c - \delta_x < w \\ 0 & \text{otherwise} \end{cases}

    so a positive :math:`\delta_x` moves the content right and a positive :math:`\delta_y`
    moves it down; pixels pushed past the border are lost.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, h * w)
        Flat images, row-major (``X.reshape(n, h, w)`` gives the pictures).
    dy, dx : int or array of int, shape (n,)
        Vertical and horizontal shift of every image (one value for all, or one per image).
    image_shape : (int, int)
        Height and width ``(h, w)`` of one image.

    Returns
    -------
    numpy.ndarray, shape (n, h * w)
        The shifted images, in ``X``'s float dtype (integer input gives float64).
    """
    X, h, w = _check_images(X, "X", image_shape)
    n = len(X)
    shifts = []
    for value, name in ((dy, "dy"), (dx, "dx")):
        arr = np.asarray(value)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
        if arr.ndim > 1 or (arr.ndim == 1 and len(arr) != n):
            raise ValueError(f"{name} must be an integer or have shape ({n},), got {arr.shape}")
        shifts.append(np.broadcast_to(arr.astype(np.int64), (n,)))
    dy, dx = shifts
    rows = np.arange(h)[None, :] - dy[:, None]          # source row of each output row
    cols = np.arange(w)[None, :] - dx[:, None]          # source column of each output column
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    images = X.reshape(n, h, w)
    out = images[np.arange(n)[:, None, None], np.clip(rows, 0, h - 1)[:, :, None],
                 np.clip(cols, 0, w - 1)[:, None, :]]
    return np.where(inside, out, 0).astype(X.dtype, copy=False).reshape(n, h * w)


def random_shift(
    X: np.ndarray,
    max_shift: int = 1,
    *,
    rng: np.random.Generator,
    image_shape: Sequence[int] = (8, 8),
) -> np.ndarray:
    r"""Shift every image by its own random whole-pixel offset, zero-filling the border.

    .. math:: \delta_y, \delta_x \overset{\text{iid}}{\sim}
              \mathcal{U}\{-m, \dots, m\}, \qquad x' = \operatorname{shift}(x; \delta_y, \delta_x)

    with :math:`m` = ``max_shift`` and the shift of :func:`shift_images`. Each of the
    :math:`(2m + 1)^2` offsets has probability :math:`1 / (2m + 1)^2`; ``max_shift=0`` is the
    identity.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, h * w)
        Flat images.
    max_shift : int
        Largest shift :math:`m` in pixels, ``0 <= m < min(h, w)``.
    rng : numpy.random.Generator
        Source of the offsets (draws ``dy`` then ``dx``, each of shape ``(n,)``).
    image_shape : (int, int)
        Height and width of one image.

    Returns
    -------
    numpy.ndarray, shape (n, h * w)
        Shifted images in ``X``'s float dtype.
    """
    X, h, w = _check_images(X, "X", image_shape)
    max_shift = check_int(max_shift, "max_shift", minimum=0, maximum=min(h, w) - 1)
    rng = check_generator(rng)
    dy = rng.integers(-max_shift, max_shift + 1, size=len(X))
    dx = rng.integers(-max_shift, max_shift + 1, size=len(X))
    return shift_images(X, dy, dx, image_shape=(h, w))


def add_gaussian_noise(X: np.ndarray, sigma: float, *, rng: np.random.Generator) -> np.ndarray:
    r"""Add independent Gaussian noise to every pixel, then clip back to the pixel range [0, 1].

    .. math:: x' = \operatorname{clip}(x + \sigma \varepsilon,\ 0,\ 1), \qquad
              \varepsilon \sim \mathcal{N}(0, I)

    Before clipping the added noise has mean 0 and standard deviation :math:`\sigma`;
    ``sigma=0`` is the identity.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, d)
        Pixels in [0, 1] (any layout with two dimensions).
    sigma : float
        Noise standard deviation, ``sigma >= 0``.
    rng : numpy.random.Generator
        Source of :math:`\varepsilon` (one ``standard_normal`` draw of ``X``'s shape).

    Returns
    -------
    numpy.ndarray, shape (n, d)
        Noisy pixels in [0, 1], in ``X``'s float dtype.
    """
    X = check_array(X, "X", ndim=2, dtype=None)
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if X.min() < 0 or X.max() > 1:
        raise ValueError(f"X must hold pixels in [0, 1], got values in [{X.min()}, {X.max()}]")
    sigma = check_float(sigma, "sigma", minimum=0.0)
    rng = check_generator(rng)
    noise = rng.standard_normal(X.shape)
    return np.clip(X + sigma * noise, 0.0, 1.0).astype(X.dtype, copy=False)


def augment_batch(
    X: np.ndarray,
    *,
    rng: np.random.Generator,
    max_shift: int = 1,
    sigma: float = 0.0,
    image_shape: Sequence[int] = (8, 8),
) -> np.ndarray:
    r"""One augmented version of a batch: a random shift, then clipped Gaussian noise.

    .. math:: x' = \operatorname{clip}\big(\operatorname{shift}(x; \delta_y, \delta_x)
              + \sigma\varepsilon,\ 0,\ 1\big), \qquad
              \delta_y, \delta_x \sim \mathcal{U}\{-m, \dots, m\},\
              \varepsilon \sim \mathcal{N}(0, I)

    (:func:`random_shift` followed by :func:`add_gaussian_noise`; noise is skipped when
    ``sigma == 0``, so ``max_shift=0, sigma=0`` returns an unchanged copy.)

    Parameters
    ----------
    X : numpy.ndarray, shape (n, h * w)
        Flat images with pixels in [0, 1].
    rng : numpy.random.Generator
        Source of all randomness.
    max_shift : int
        Largest shift in pixels, ``0 <= max_shift < min(h, w)``.
    sigma : float
        Noise standard deviation, ``>= 0``.
    image_shape : (int, int)
        Height and width of one image.

    Returns
    -------
    numpy.ndarray, shape (n, h * w)
    """
    X, h, w = _check_images(X, "X", image_shape)
    if X.min() < 0 or X.max() > 1:
        raise ValueError(f"X must hold pixels in [0, 1], got values in [{X.min()}, {X.max()}]")
    max_shift = check_int(max_shift, "max_shift", minimum=0, maximum=min(h, w) - 1)
    sigma = check_float(sigma, "sigma", minimum=0.0)
    rng = check_generator(rng)
    out = random_shift(X, max_shift, rng=rng, image_shape=(h, w))
    return add_gaussian_noise(out, sigma, rng=rng) if sigma > 0 else out


def augment_dataset(
    X: np.ndarray,
    y: np.ndarray,
    *,
    rng: np.random.Generator,
    copies: int = 1,
    max_shift: int = 1,
    sigma: float = 0.0,
    include_original: bool = False,
    image_shape: Sequence[int] = (8, 8),
) -> tuple[np.ndarray, np.ndarray]:
    r"""``copies`` independently augmented copies of a labelled set, labels unchanged.

    .. math:: \tilde{\mathcal{D}} = \{(x_i^{(k)}, y_i) : i = 1..n,\ k = 1..K\}, \qquad
              x_i^{(k)} = T_{ik}(x_i)\ \text{(independent random shift and noise } T_{ik})

    The label of an augmented image is the label of its source: the transformations are chosen
    so that they do not change the class. The copies are stacked one after another (the ``n``
    rows of copy 1, then those of copy 2, ...); with ``include_original`` the untouched set comes
    first (``(K + 1) n`` rows in all).

    Parameters
    ----------
    X : numpy.ndarray, shape (n, h * w)
        Flat images with pixels in [0, 1].
    y : numpy.ndarray, shape (n,)
        Labels (any dtype), repeated for every copy.
    rng : numpy.random.Generator
        Source of all randomness.
    copies : int
        Number :math:`K \ge 1` of augmented copies.
    max_shift, sigma : int, float
        As in :func:`augment_batch`.
    include_original : bool
        Prepend the original ``X`` and ``y``.
    image_shape : (int, int)
        Height and width of one image.

    Returns
    -------
    X_aug : numpy.ndarray, shape (K n, h * w) or ((K + 1) n, h * w)
    y_aug : numpy.ndarray, shape (K n,) or ((K + 1) n,)
    """
    X, h, w = _check_images(X, "X", image_shape)
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must have shape ({len(X)},) to match X, got {y.shape}")
    copies = check_int(copies, "copies", minimum=1)
    include_original = check_bool(include_original, "include_original")
    # validate everything before drawing anything (nothing half-done on error)
    if X.min() < 0 or X.max() > 1:
        raise ValueError(f"X must hold pixels in [0, 1], got values in [{X.min()}, {X.max()}]")
    max_shift = check_int(max_shift, "max_shift", minimum=0, maximum=min(h, w) - 1)
    sigma = check_float(sigma, "sigma", minimum=0.0)
    rng = check_generator(rng)
    parts = [X] if include_original else []
    parts += [augment_batch(X, rng=rng, max_shift=max_shift, sigma=sigma, image_shape=(h, w))
              for _ in range(copies)]
    return np.concatenate(parts), np.tile(y, len(parts))
