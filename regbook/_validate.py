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


def check_classification_data(X_train, y_train, X_val=None, y_val=None, *, dtype=np.float32):
    """Validate a classifier's training (and optional validation) data for every backend.

    Returns ``(X_train, y_train, validation)`` with features as ``dtype`` (float32 by default)
    ``(n, d)``, labels as
    ``int64 (n,)`` (fractional labels are refused, not truncated) and ``validation`` either
    ``None`` or the ``(X_val, y_val)`` pair.
    """
    X_train, y_train = check_Xy(X_train, y_train, X_name="X_train", y_name="y_train",
                                y_dtype=np.int64)
    X_train = X_train.astype(dtype, copy=False)
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if X_val is None:
        return X_train, y_train, None
    X_val, y_val = check_Xy(X_val, y_val, X_name="X_val", y_name="y_val", y_dtype=np.int64)
    X_val = X_val.astype(dtype, copy=False)
    if X_val.shape[1] != X_train.shape[1]:
        raise ValueError(f"X_val has {X_val.shape[1]} features but X_train has {X_train.shape[1]}")
    return X_train, y_train, (X_val, y_val)


def check_bool(value, name: str) -> bool:
    """Return ``value`` as a ``bool``; only ``bool`` and ``numpy.bool_`` are accepted.

    A string such as ``'False'`` is refused (it would otherwise be truthy), and so are 0 and 1.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool (True or False), got {type(value).__name__} "
                        f"{value!r}")
    return bool(value)


def check_generator(rng, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` after checking that it is a ``numpy.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator (numpy.random.default_rng("
                        f"seed)), got {type(rng).__name__}")
    return rng


def check_float_dtype(dtype, name: str = "dtype") -> np.dtype:
    """Return ``dtype`` (``"float32"``, ``"float64"`` or a NumPy float dtype) as a ``np.dtype``."""
    try:
        dt = None if dtype is None or isinstance(dtype, bool) else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise TypeError(f"{name} must be a floating dtype ('float32', 'float64' or a NumPy float "
                        f"dtype), got {dtype!r}")
    return dt


def check_seed(seed, name: str = "seed") -> int:
    """Return ``seed`` as an ``int`` in ``[0, 2**32 - 1]``."""
    return check_int(seed, name, minimum=0, maximum=2**32 - 1)


def check_choice(value, name: str, choices) -> str:
    """Return ``value`` after checking that it is one of ``choices`` (strings)."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_Xy(X, y, *, X_name: str = "X", y_name: str = "y", y_dtype=np.float64):
    """Validate a design matrix ``(n, d)`` and its targets ``(n,)`` of the same length.

    Returns ``(X, y)`` as float64 ``X`` and ``y`` of ``y_dtype``. The names are the caller's
    argument names, so the message names what the caller passed.
    """
    X = check_array(X, X_name, ndim=2)
    y = check_array(y, y_name, ndim=1, dtype=None)
    if y_dtype is not None and np.dtype(y_dtype).kind in "iu" and y.dtype.kind == "f":
        if not np.all(y == np.round(y)):
            raise ValueError(f"{y_name} must hold integer class labels, got fractional values")
    if y_dtype is not None:
        y = y.astype(y_dtype, copy=False)
    if len(X) != len(y):
        raise ValueError(f"{X_name} and {y_name} lengths differ: {len(X)} and {len(y)}")
    return X, y


def check_labels(y, name: str, n_classes: int) -> np.ndarray:
    """Check integer class labels against a model's number of classes, ``0 <= y < n_classes``."""
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name} must hold class labels in [0, {n_classes - 1}] (the model has "
                         f"{n_classes} outputs), got values in [{y.min()}, {y.max()}]")
    return y


def check_tensor_list(weights, tensor_types, *, model_types, what: str, item: str,
                      convert: str) -> list:
    """``weights`` of a framework penalty as a list: one tensor, or an iterable of tensors.

    A model (``model_types``) is the caller's to handle first. ``what`` names the tensor kind,
    ``item`` one of them, ``convert`` the conversion from NumPy, for the messages.
    """
    if isinstance(weights, tensor_types):
        return [weights]
    if isinstance(weights, np.ndarray):
        raise TypeError(f"weights must be {what}, got a numpy.ndarray; convert with {convert} "
                        "(or use regbook.np.l1_penalty / l2_penalty)")
    if not isinstance(weights, (str, bytes)) and hasattr(weights, "__iter__"):
        tensors = list(weights)
        if not tensors:
            raise ValueError("weights must not be empty: give a model, a tensor, or tensors")
        for i, t in enumerate(tensors):
            if not isinstance(t, tensor_types):
                raise TypeError(f"weights[{i}] must be {item}, got {type(t).__name__}")
        return tensors
    names = " or ".join(t.__name__ for t in model_types)
    raise TypeError(f"weights must be a {names}, one of {what}, or a non-empty iterable of "
                    f"them, got {type(weights).__name__}")
