"""Helpers for the book's notebooks."""

from __future__ import annotations

import numpy as np

__all__ = ["glue"]


def glue(name: str, value, *, display: bool = False) -> None:
    """``myst_nb.glue`` for numbers computed with NumPy.

    NumPy 2 scalars print as ``np.float64(0.5)``, which the book's ``{glue:text}`name:.2f```
    roles cannot format; this converts NumPy scalars (and 0-d arrays) to Python numbers first.
    Not displayed by default: the value appears where the prose references it.
    """
    from myst_nb import glue as _myst_glue  # the book's toolchain; imported on first use

    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    _myst_glue(name, value, display=display)
