"""Argument checks shared by the public API.

Every public function validates its arguments up front (scikit-learn style) and raises a
``TypeError`` or ``ValueError`` whose message names the argument and the allowed range.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking its type and range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(
    value,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    include_min: bool = True,
    include_max: bool = True,
) -> float:
    """Return ``value`` as a finite ``float`` inside the given interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    lo = "-inf" if minimum is None else f"{minimum:g}"
    hi = "inf" if maximum is None else f"{maximum:g}"
    interval = f"{'[' if include_min and minimum is not None else '('}{lo}, {hi}" + (
        "]" if include_max and maximum is not None else ")"
    )
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number in {interval}, got {value}")
    too_low = minimum is not None and (value < minimum or (not include_min and value == minimum))
    too_high = maximum is not None and (value > maximum or (not include_max and value == maximum))
    if too_low or too_high:
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def check_array(
    x,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    dtype=np.float64,
    allow_empty: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """Return ``x`` as a finite numeric array, checking its number of dimensions.

    Booleans, strings and objects are rejected with a ``TypeError``; NaN or infinite entries,
    a wrong number of dimensions, or an empty array with a ``ValueError``. ``finite=False``
    skips the finiteness scan, for callers that detect NaN and inf more cheaply themselves.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must be {want}-dimensional, got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return arr


def check_classification_data(X_train, y_train, X_val=None, y_val=None):
    """Validate a classifier's training (and optional validation) data for both backends.

    Returns ``(X_train, y_train, validation)`` with features as ``float32 (n, d)``, labels as
    ``int64 (n,)`` and ``validation`` either ``None`` or the ``(X_val, y_val)`` pair.
    """
    X_train = check_array(X_train, "X_train", ndim=2, dtype=np.float32)
    y_train = check_array(y_train, "y_train", ndim=1, dtype=np.int64)
    if len(X_train) != len(y_train):
        raise ValueError(f"X_train and y_train lengths differ: {len(X_train)} and {len(y_train)}")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if X_val is None:
        return X_train, y_train, None
    X_val = check_array(X_val, "X_val", ndim=2, dtype=np.float32)
    y_val = check_array(y_val, "y_val", ndim=1, dtype=np.int64)
    if len(X_val) != len(y_val):
        raise ValueError(f"X_val and y_val lengths differ: {len(X_val)} and {len(y_val)}")
    if X_val.shape[1] != X_train.shape[1]:
        raise ValueError(f"X_val has {X_val.shape[1]} features but X_train has {X_train.shape[1]}")
    return X_train, y_train, (X_val, y_val)
