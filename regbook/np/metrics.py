"""Error measures used across chapters."""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array

__all__ = ["mse", "accuracy"]


def _same_length(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same length, got {a.shape[0]} and "
            f"{b.shape[0]}"
        )


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    r"""Mean squared error :math:`\frac{1}{n}\sum_i (y_i - \hat y_i)^2` (no factor 1/2)."""
    y_true = check_array(y_true, "y_true", ndim=1)
    y_pred = check_array(y_pred, "y_pred", ndim=1)
    _same_length(y_true, y_pred, ("y_true", "y_pred"))
    return float(np.mean((y_true - y_pred) ** 2))


def accuracy(y_true: np.ndarray, scores_or_labels: np.ndarray) -> float:
    r"""Fraction of correct labels, :math:`\frac{1}{n}\sum_i [\hat y_i = y_i]`.

    ``scores_or_labels`` is either predicted labels ``(n,)`` or class scores ``(n, k)``
    (logits or probabilities), in which case the arg-max is the prediction.
    """
    y_true = check_array(y_true, "y_true", ndim=1, dtype=None)
    pred = check_array(scores_or_labels, "scores_or_labels", ndim=(1, 2), dtype=None)
    _same_length(y_true, pred, ("y_true", "scores_or_labels"))
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    return float(np.mean(pred == y_true))
