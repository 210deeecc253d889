r"""Data augmentation: random shifts and noise for small images stored as flat rows, and
random circular translations, time scalings and noise for 1-D signals (MNIST-1D's rows).

Images arrive as ``(n, h * w)`` rows (the layout of ``load_digits``: ``(n, 64)`` for 8x8) and
signals as ``(n, L)`` rows (``(n, 40)`` for MNIST-1D); both leave in the same layout and dtype.
Every random function takes an explicit ``numpy.random.Generator``, so the same generator state
gives the same augmented batch. :class:`SignalAugment` composes the signal transformations into
the ``augment(X_batch, rng)`` callable that ``fit_classifier(..., augment=...)`` and
``fit_seeds(..., augment=...)`` apply to every training batch, afresh at every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from regbook._validate import check_array, check_bool, check_float, check_generator, check_int

__all__ = ["shift_images", "random_shift", "add_gaussian_noise", "augment_batch",
           "augment_dataset", "translate_signals", "random_translate_signals", "scale_signals",
           "random_scale_signals", "SignalAugment"]


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


def add_gaussian_noise(X: np.ndarray, sigma: float, *, rng: np.random.Generator,
                       clip: tuple[float, float] | None = (0.0, 1.0)) -> np.ndarray:
    r"""Add independent Gaussian noise to every value, then clip back to a range (by default
    the pixel range [0, 1]).

    .. math:: x' = \operatorname{clip}(x + \sigma \varepsilon,\ a,\ b), \qquad
              \varepsilon \sim \mathcal{N}(0, I)

    Before clipping the added noise has mean 0 and standard deviation :math:`\sigma`;
    ``sigma=0`` is the identity. With ``clip=None`` (signals, whose values have no fixed
    range) nothing is clipped: :math:`x' = x + \sigma\varepsilon`.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, d)
        Pixels in [0, 1], or values in ``clip`` (any layout with two dimensions).
    sigma : float
        Noise standard deviation, ``sigma >= 0``.
    rng : numpy.random.Generator
        Source of :math:`\varepsilon` (one ``standard_normal`` draw of ``X``'s shape).
    clip : (float, float) or None
        The range :math:`[a, b]` that ``X`` must lie in and the result is clipped to; ``None``
        for no range and no clipping.

    Returns
    -------
    numpy.ndarray, shape (n, d)
        Noisy values (in ``clip``), in ``X``'s float dtype.
    """
    X = check_array(X, "X", ndim=2, dtype=None)
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if clip is not None:
        if len(clip) != 2:
            raise ValueError(f"clip must be (low, high) or None, got {clip!r}")
        low = check_float(clip[0], "clip[0]")
        high = check_float(clip[1], "clip[1]", minimum=low)
        if X.min() < low or X.max() > high:
            raise ValueError(f"X must hold values in [{low:g}, {high:g}] (clip), got values in "
                             f"[{X.min()}, {X.max()}]")
    sigma = check_float(sigma, "sigma", minimum=0.0)
    rng = check_generator(rng)
    out = X + sigma * rng.standard_normal(X.shape)
    if clip is not None:
        out = np.clip(out, low, high)
    return out.astype(X.dtype, copy=False)


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


# --- 1-D signals -----------------------------------------------------------------------------

def _check_signals(X, name: str = "X") -> np.ndarray:
    X = check_array(X, name, ndim=2, dtype=None)
    return X if X.dtype.kind == "f" else X.astype(np.float64)


def _per_row(value, name: str, n: int, kind: str) -> np.ndarray:
    """``value`` (a scalar or shape ``(n,)``) broadcast to ``(n,)``; ``kind`` "int" or "float"."""
    arr = np.asarray(value)
    if kind == "int" and arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if kind == "float" and arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim > 1 or (arr.ndim == 1 and len(arr) != n):
        raise ValueError(f"{name} must be a number or have shape ({n},), got {arr.shape}")
    return np.broadcast_to(arr.astype(np.int64 if kind == "int" else np.float64), (n,))


def translate_signals(X: np.ndarray, shifts) -> np.ndarray:
    r"""Shift every signal circularly by a whole number of positions.

    .. math:: x'_t = x_{(t - s) \bmod L}, \qquad t = 0, \dots, L - 1,

    so a positive :math:`s` moves the content to the right and what leaves at one end comes
    back at the other (``numpy.roll``): MNIST-1D's own generator places every digit with such a
    circular translation. Nothing is lost; ``translate_signals(translate_signals(X, s), -s)``
    is ``X``.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, L)
        Signals, one per row.
    shifts : int or array of int, shape (n,)
        The shift :math:`s` of every signal (one value for all, or one per row).

    Returns
    -------
    numpy.ndarray, shape (n, L)
        The shifted signals, in ``X``'s float dtype (integer input gives float64).
    """
    X = _check_signals(X)
    n, L = X.shape
    s = _per_row(shifts, "shifts", n, "int")
    source = (np.arange(L)[None, :] - s[:, None]) % L
    return np.take_along_axis(X, source, axis=1)


def random_translate_signals(X: np.ndarray, max_shift: int, *,
                             rng: np.random.Generator) -> np.ndarray:
    r"""Shift every signal circularly by its own random whole number of positions.

    .. math:: s_i \overset{\text{iid}}{\sim} \mathcal{U}\{-k, \dots, k\}, \qquad
              x'_{i,t} = x_{i, (t - s_i) \bmod L}

    with :math:`k` = ``max_shift`` (:func:`translate_signals`); ``max_shift=0`` is the identity.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, L)
        Signals.
    max_shift : int
        Largest shift :math:`k`, ``0 <= k < L``.
    rng : numpy.random.Generator
        Source of the shifts (one ``integers`` draw of shape ``(n,)``).

    Returns
    -------
    numpy.ndarray, shape (n, L)
        Shifted signals in ``X``'s float dtype.
    """
    X = _check_signals(X)
    max_shift = check_int(max_shift, "max_shift", minimum=0, maximum=X.shape[1] - 1)
    rng = check_generator(rng)
    return translate_signals(X, rng.integers(-max_shift, max_shift + 1, size=len(X)))


def scale_signals(X: np.ndarray, factors) -> np.ndarray:
    r"""Stretch (factor > 1) or compress (factor < 1) every signal in time about its centre and
    resample it at the same :math:`L` positions by periodic linear interpolation.

    .. math:: u_t = c + \frac{t - c}{a}, \qquad
              x'_t = (1 - \{u_t\})\, x_{\lfloor u_t \rfloor \bmod L}
              + \{u_t\}\, x_{(\lfloor u_t \rfloor + 1) \bmod L},

    with :math:`c = (L - 1)/2`, :math:`a` the factor and :math:`\{u\} = u - \lfloor u\rfloor`.
    The signal is read as periodic, as the circular translations read it: a compressed signal
    shows, near its ends, the values from beyond the opposite end. ``factor=1`` is the identity.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, L)
        Signals.
    factors : float or array of float, shape (n,)
        The factor :math:`a > 0` of every signal (one value for all, or one per row).

    Returns
    -------
    numpy.ndarray, shape (n, L)
        The resampled signals, in ``X``'s float dtype.
    """
    X = _check_signals(X)
    n, L = X.shape
    a = _per_row(factors, "factors", n, "float")
    if not np.all(np.isfinite(a) & (a > 0)):
        raise ValueError(f"factors must be finite and > 0, got values in [{a.min()}, {a.max()}]")
    c = (L - 1) / 2
    u = c + (np.arange(L)[None, :] - c) / a[:, None]
    lower = np.floor(u)
    frac = u - lower
    j0 = lower.astype(np.int64) % L
    left = np.take_along_axis(X, j0, axis=1)
    right = np.take_along_axis(X, (j0 + 1) % L, axis=1)
    return ((1 - frac) * left + frac * right).astype(X.dtype, copy=False)


def random_scale_signals(X: np.ndarray, max_scale: float, *,
                         rng: np.random.Generator) -> np.ndarray:
    r"""Stretch or compress every signal in time by its own random factor (:func:`scale_signals`).

    .. math:: a_i \overset{\text{iid}}{\sim} \mathcal{U}[1 - m, 1 + m], \qquad
              x'_i = \operatorname{scale}(x_i; a_i)

    with :math:`m` = ``max_scale``; ``max_scale=0`` is the identity.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, L)
        Signals.
    max_scale : float
        Largest relative change of length :math:`m`, ``0 <= m < 1``.
    rng : numpy.random.Generator
        Source of the factors (one ``uniform`` draw of shape ``(n,)``).

    Returns
    -------
    numpy.ndarray, shape (n, L)
        Resampled signals in ``X``'s float dtype.
    """
    X = _check_signals(X)
    max_scale = check_float(max_scale, "max_scale", minimum=0.0, maximum=1.0, include_max=False)
    rng = check_generator(rng)
    return scale_signals(X, rng.uniform(1.0 - max_scale, 1.0 + max_scale, size=len(X)))


@dataclass(frozen=True)
class SignalAugment:
    r"""Random time scaling, circular translation and Gaussian noise of 1-D signals, composed
    into the ``augment(X_batch, rng)`` callable of ``fit_classifier`` and ``fit_seeds``.

    .. math:: x' = \operatorname{translate}\big(\operatorname{scale}(x; a), s\big)
              + \sigma\varepsilon, \qquad a \sim \mathcal{U}[1 - m, 1 + m],\
              s \sim \mathcal{U}\{-k, \dots, k\},\ \varepsilon \sim \mathcal{N}(0, I),

    drawn independently for every signal (:func:`random_scale_signals`, then
    :func:`random_translate_signals`, then :func:`add_gaussian_noise` without clipping; each
    step is skipped when its setting is 0, so ``SignalAugment()`` returns an unchanged copy).
    A call returns a batch of the shape and dtype it was given. The label is not touched: the
    transformations are meant to keep the class.

    Parameters
    ----------
    max_shift : int
        Largest circular shift :math:`k` in positions, ``>= 0`` (and ``< L`` at the call).
    max_scale : float
        Largest relative stretch or compression :math:`m`, ``0 <= m < 1``.
    sigma : float
        Noise standard deviation :math:`\sigma`, ``>= 0``.

    Examples
    --------
    >>> augment = SignalAugment(max_shift=5, max_scale=0.1, sigma=0.05)
    >>> augment(np.zeros((3, 40), dtype=np.float32), np.random.default_rng(0)).shape
    (3, 40)
    """

    max_shift: int = 0
    max_scale: float = 0.0
    sigma: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "max_shift", check_int(self.max_shift, "max_shift", minimum=0))
        object.__setattr__(self, "max_scale", check_float(
            self.max_scale, "max_scale", minimum=0.0, maximum=1.0, include_max=False))
        object.__setattr__(self, "sigma", check_float(self.sigma, "sigma", minimum=0.0))

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One augmented version of the batch ``X`` ``(n, L)``, drawn from ``rng``."""
        X = _check_signals(X)
        rng = check_generator(rng)
        out = X.copy()
        if self.max_scale:
            out = random_scale_signals(out, self.max_scale, rng=rng)
        if self.max_shift:
            out = random_translate_signals(out, self.max_shift, rng=rng)
        if self.sigma:
            out = add_gaussian_noise(out, self.sigma, rng=rng, clip=None)
        return out
