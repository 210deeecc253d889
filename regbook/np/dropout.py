r"""Dropout from scratch: a forward/backward pair with an explicit cache (CS231n style).

``p`` is the probability of *dropping* a unit (PyTorch's ``p``, Keras's ``rate``). Two scalings
give the same expected output:

- **inverted** (the default; what PyTorch and Keras do): in training keep each unit with
  probability :math:`1-p` and divide the kept ones by :math:`1-p`; in evaluation the layer is
  the identity.
- **original** (Srivastava et al., 2014): in training keep units unscaled; in evaluation
  multiply every unit by :math:`1-p`.
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_bool, check_choice, check_float, check_generator
from regbook.np._cache import check_cache, make_cache

__all__ = ["dropout_forward", "dropout_backward", "dropout_mask", "SCALINGS"]

#: The two ways of scaling dropout; see the module docstring.
SCALINGS = ("inverted", "original")


def _check_p(p) -> float:
    return check_float(p, "p", minimum=0.0, maximum=1.0, include_max=False)


def _as_float_array(x, name: str) -> np.ndarray:
    """A finite floating-point array; integer input becomes float64, float dtypes are kept."""
    arr = check_array(x, name, dtype=None, allow_empty=True)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def dropout_mask(shape: tuple[int, ...], p: float, *, rng: np.random.Generator) -> np.ndarray:
    r"""Draw a boolean keep-mask: each entry is ``True`` with probability :math:`1-p`.

    .. math:: m_i = [u_i \ge p], \qquad u_i \sim \mathcal{U}[0, 1) \text{ i.i.d.},
              \qquad P(m_i = 1) = 1 - p

    Parameters
    ----------
    shape : tuple of int
        Shape of the mask.
    p : float
        Drop probability in [0, 1).
    rng : numpy.random.Generator
        Source of the uniform draws.

    Returns
    -------
    numpy.ndarray of bool, shape ``shape``
    """
    p = _check_p(p)
    return check_generator(rng).random(shape) >= p


def dropout_forward(
    x: np.ndarray,
    p: float,
    *,
    rng: np.random.Generator | None,
    training: bool = True,
    scaling: str = "inverted",
    keep_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    r"""Forward pass of dropout.

    With a keep-mask :math:`m \in \{0, 1\}^{\text{shape}(x)}`, :math:`P(m_i = 1) = 1 - p`:

    .. math::
        \text{inverted:}\quad y = \begin{cases} \dfrac{m \odot x}{1-p} & \text{training} \\
                                                 x & \text{evaluation} \end{cases}
        \qquad
        \text{original:}\quad y = \begin{cases} m \odot x & \text{training} \\
                                                 (1-p)\, x & \text{evaluation} \end{cases}

    Both give :math:`\mathbb{E}[y_{\text{train}}] = y_{\text{eval}}`.

    Parameters
    ----------
    x : numpy.ndarray
        Input of any shape; float dtypes are kept (integers become float64).
    p : float
        Drop probability in [0, 1).
    rng : numpy.random.Generator or None
        Draws the mask in training mode. May be ``None`` in evaluation mode or when
        ``keep_mask`` is given.
    training : bool
        Training mode draws (or uses) a mask; evaluation mode is deterministic.
    scaling : {"inverted", "original"}
        Where the factor :math:`1-p` goes (see above).
    keep_mask : numpy.ndarray of bool, optional
        Use this mask (``True`` = keep) instead of drawing one, e.g. a mask taken from
        PyTorch or Keras to compare the three implementations. Same shape as ``x``.

    Returns
    -------
    out : numpy.ndarray, same shape and dtype as ``x``
    cache : dict
        ``mask`` (bool array, or ``None`` in evaluation mode), ``scale`` (the factor applied
        to the kept units), ``p``, ``training``, ``scaling``, ``shape`` (of ``x``), and
        ``kind`` ("dropout"): what :func:`dropout_backward` needs.
    """
    x = _as_float_array(x, "x")
    p = _check_p(p)
    scaling = check_choice(scaling, "scaling", SCALINGS)
    training = check_bool(training, "training")
    if not training:
        scale = 1.0 if scaling == "inverted" else 1.0 - p
        cache = make_cache("dropout", mask=None, scale=scale, p=p, training=False,
                           scaling=scaling, shape=x.shape)
        return (x.copy() if scale == 1.0 else x * scale), cache
    if keep_mask is not None:
        mask = np.asarray(keep_mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"keep_mask must be a boolean array, got dtype {mask.dtype}")
        if mask.shape != x.shape:
            raise ValueError(f"keep_mask must have the shape of x {x.shape}, got {mask.shape}")
    else:
        mask = check_generator(rng).random(x.shape) >= p
    scale = 1.0 / (1.0 - p) if scaling == "inverted" else 1.0
    out = (x * mask) * scale  # same order as torch.native_dropout: (x * m) * scale
    cache = make_cache("dropout", mask=mask, scale=scale, p=p, training=True, scaling=scaling,
                       shape=x.shape)
    return out.astype(x.dtype, copy=False), cache


def dropout_backward(dout: np.ndarray, cache: dict) -> np.ndarray:
    r"""Backward pass of dropout: the forward map is linear in :math:`x`, so

    .. math::
        \frac{\partial L}{\partial x} = \begin{cases}
            \dfrac{m}{1-p} \odot \dfrac{\partial L}{\partial y} & \text{inverted, training} \\
            m \odot \dfrac{\partial L}{\partial y} & \text{original, training} \\
            s\, \dfrac{\partial L}{\partial y} & \text{evaluation } (s = 1 \text{ or } 1-p)
        \end{cases}

    Parameters
    ----------
    dout : numpy.ndarray
        Upstream gradient :math:`\partial L / \partial y`, the shape of the forward output.
    cache : dict
        From :func:`dropout_forward`.

    Returns
    -------
    dx : numpy.ndarray, same shape as ``dout``
    """
    cache = check_cache(cache, "dropout")
    dout = _as_float_array(dout, "dout")
    mask, scale = cache["mask"], cache["scale"]
    if dout.shape != cache["shape"]:
        raise ValueError(
            f"dout must have the forward output's shape {cache['shape']}, got {dout.shape}")
    if mask is None:
        return dout * scale
    return ((dout * mask) * scale).astype(dout.dtype, copy=False)
