r"""Classification losses with hand-written gradients."""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_float

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


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray, *,
                          label_smoothing: float = 0.0) -> tuple[float, np.ndarray]:
    r"""Mean softmax cross-entropy over a batch, and its gradient with respect to the logits.

    With :math:`P = \operatorname{softmax}(Z)` row by row, :math:`C` classes and the target
    rows

    .. math:: Q_{ik} = (1 - \varepsilon)\,[k = y_i] + \frac{\varepsilon}{C}

    (label smoothing with :math:`\varepsilon` = ``label_smoothing``; one-hot labels :math:`Y`
    at :math:`\varepsilon = 0`):

    .. math:: L = -\frac{1}{N}\sum_{i=1}^{N} \sum_{k=1}^{C} Q_{ik} \log P_{ik}
              = -\frac{1}{N}\sum_{i=1}^{N} \Big[(1 - \varepsilon) \log P_{i, y_i}
              + \frac{\varepsilon}{C} \sum_k \log P_{ik}\Big], \qquad
              \frac{\partial L}{\partial Z} = \frac{1}{N}(P - Q)

    At :math:`\varepsilon = 0` this is :math:`-\frac1N \sum_i \log P_{i, y_i}` with gradient
    :math:`\frac1N (P - Y)`, computed exactly as without the argument. The log-softmax is
    computed with the max-shift, so huge logits neither overflow nor give ``log(0)``.

    Parameters
    ----------
    logits : numpy.ndarray, shape (N, C)
        Unnormalised class scores, finite.
    y : numpy.ndarray of int, shape (N,)
        Labels in ``0 .. C-1``.
    label_smoothing : float
        :math:`\varepsilon \in [0, 1]`: the weight moved from the true class to the uniform
        distribution over all :math:`C` classes (the true class keeps
        :math:`1 - \varepsilon + \varepsilon / C`). Checked before any work.

    Returns
    -------
    loss : float
    dlogits : numpy.ndarray, shape (N, C), the dtype of ``logits``

    Notes
    -----
    The same :math:`Q` as ``torch.nn.functional.cross_entropy(logits, y,
    label_smoothing=eps)`` (which computes :math:`(1-\varepsilon)\,\text{NLL} +
    \varepsilon \cdot \text{mean}_k(-\log P_{ik})`) and Keras 3's
    ``keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=eps)`` on one-hot
    targets, which smooths them as ``y * (1 - eps) + eps / C`` (tested). Keras 3's
    ``SparseCategoricalCrossentropy`` (integer labels) has **no** ``label_smoothing`` argument
    (its parameters are ``from_logits, ignore_class, reduction, axis, name, dtype``): with
    Keras, smooth one-hot targets and use ``CategoricalCrossentropy``.
    """
    eps = check_float(label_smoothing, "label_smoothing", minimum=0.0, maximum=1.0)
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
    dlogits = np.exp(logp)
    if eps == 0.0:
        loss = float(-logp[rows, labels].mean())
        dlogits[rows, labels] -= 1.0
    else:
        loss = float(-((1.0 - eps) * logp[rows, labels]
                       + (eps / c) * logp.sum(axis=1)).mean())
        dlogits[rows, labels] -= 1.0 - eps
        dlogits -= eps / c
    dlogits /= n
    return loss, dlogits
