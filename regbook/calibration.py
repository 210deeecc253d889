r"""How confident a classifier is, and how right: negative log-likelihood and calibration error.

Backend-agnostic: every function takes NumPy logits ``(n, C)`` (``predict_logits`` of any
backend) and integer labels ``(n,)``. With :math:`p_i = \operatorname{softmax}(z_i)`, the
*confidence* of example :math:`i` is :math:`\max_c p_{ic}` and its prediction
:math:`\hat y_i = \arg\max_c p_{ic}`. A classifier is *calibrated* when, among the examples it
predicts with confidence about :math:`q`, a fraction :math:`q` is right.
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_int, check_labels
from regbook.np.losses import log_softmax
from regbook.np.losses import softmax as _softmax

__all__ = ["softmax", "negative_log_likelihood", "reliability_bins",
           "expected_calibration_error"]


def _check(logits, y) -> tuple[np.ndarray, np.ndarray]:
    logits = check_array(logits, "logits", ndim=2)
    y = check_array(y, "y", ndim=1, dtype=None)
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if len(y) != len(logits) or len(y) == 0:
        raise ValueError(f"logits and y must have the same, non-zero number of rows, got "
                         f"{logits.shape} and {y.shape}")
    return logits, check_labels(y, "y", logits.shape[1])


def softmax(logits) -> np.ndarray:
    r"""Row-wise softmax of float64 logits, :func:`regbook.np.softmax` (stable)."""
    return _softmax(check_array(logits, "logits", ndim=2))


def negative_log_likelihood(logits, y) -> float:
    r"""Mean cross-entropy of the true classes, :math:`-\frac1n\sum_i \log p_{i y_i}` (nats).

    Computed with :func:`regbook.np.log_softmax`, stable for large logits.
    """
    z, y = _check(logits, y)
    return float(-np.mean(log_softmax(z)[np.arange(len(y)), y]))


def reliability_bins(logits, y, *, n_bins: int = 15) -> dict:
    r"""Confidence and accuracy in ``n_bins`` equal-width confidence bins on (0, 1].

    Bin :math:`b` holds the examples with confidence in :math:`((b-1)/M,\ b/M]`.

    Returns
    -------
    dict of numpy.ndarray, each of shape (n_bins,)
        ``count`` (examples per bin), ``confidence`` (their mean confidence) and ``accuracy``
        (their fraction predicted right); NaN in an empty bin. ``edges`` has shape
        ``(n_bins + 1,)``.
    """
    z, y = _check(logits, y)
    n_bins = check_int(n_bins, "n_bins", minimum=1)
    p = softmax(z)
    conf, right = p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(which, conf, minlength=n_bins) / count
        accuracy = np.bincount(which, right, minlength=n_bins) / count
    return {"edges": edges, "count": count, "confidence": confidence, "accuracy": accuracy}


def expected_calibration_error(logits, y, *, n_bins: int = 15) -> float:
    r"""Expected calibration error (Guo et al., 2017) with equal-width bins.

    .. math:: \mathrm{ECE} = \sum_{b=1}^{M} \frac{|B_b|}{n}\,
              \bigl|\operatorname{acc}(B_b) - \operatorname{conf}(B_b)\bigr|

    over the bins of :func:`reliability_bins`: 0 for a calibrated classifier, large for one
    whose confidence runs ahead of (over-confident) or behind its accuracy.
    """
    bins = reliability_bins(logits, y, n_bins=n_bins)
    full = bins["count"] > 0
    gaps = np.abs(bins["accuracy"][full] - bins["confidence"][full])
    return float(np.sum(bins["count"][full] * gaps) / bins["count"].sum())
