r"""Classification losses with hand-written gradients."""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array

__all__ = ["log_softmax", "softmax", "softmax_cross_entropy"]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    r"""Row-wise log-softmax, computed stably by shifting each row by its maximum.

    .. math:: \log \operatorname{softmax}(z)_k = (z_k - \max_j z_j)
              - \log \sum_j e^{z_j - \max_j z_j}
    """
    logits = check_array(logits, "logits", ndim=2, dtype=None)
    if logits.dtype.kind != "f":
        logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    r"""Row-wise softmax :math:`\operatorname{softmax}(z)_k = e^{z_k} / \sum_j e^{z_j}` (stable)."""
    return np.exp(log_softmax(logits))


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    r"""Mean softmax cross-entropy over a batch, and its gradient with respect to the logits.

    With :math:`P = \operatorname{softmax}(Z)` row by row and one-hot labels :math:`Y`:

    .. math:: L = -\frac{1}{N}\sum_{i=1}^{N} \log P_{i, y_i}, \qquad
              \frac{\partial L}{\partial Z} = \frac{1}{N}(P - Y)

    The log-softmax is computed with the max-shift, so huge logits neither overflow nor give
    ``log(0)``.

    Parameters
    ----------
    logits : numpy.ndarray, shape (N, C)
        Unnormalised class scores, finite.
    y : numpy.ndarray of int, shape (N,)
        Labels in ``0 .. C-1``.

    Returns
    -------
    loss : float
    dlogits : numpy.ndarray, shape (N, C), the dtype of ``logits``
    """
    logp = log_softmax(logits)
    labels = np.asarray(y)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class labels, got dtype {labels.dtype}")
    if labels.shape != (logp.shape[0],):
        raise ValueError(
            f"y must have shape ({logp.shape[0]},) to match logits, got {labels.shape}")
    n, c = logp.shape
    if labels.size and (labels.min() < 0 or labels.max() >= c):
        raise ValueError(f"y must hold labels in [0, {c - 1}], got range "
                         f"[{labels.min()}, {labels.max()}]")
    rows = np.arange(n)
    loss = float(-logp[rows, labels].mean())
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1.0
    dlogits /= n
    return loss, dlogits
