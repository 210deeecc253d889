r"""Ensembles from scratch: bootstrap resamples, averaged probabilities, Monte Carlo dropout.

An ensemble of :math:`K` classifiers predicts the average of its members' probabilities,

.. math:: \bar p(x) = \frac1K \sum_{k=1}^{K} \operatorname{softmax}(z_k(x)),

where :math:`z_k(x)` are member :math:`k`'s logits. *Bagging* (Breiman, 1996) trains member
:math:`k` on a bootstrap resample of the training set (:func:`bootstrap_indices`); a *deep
ensemble* (Lakshminarayanan et al., 2017) trains every member on all of it from its own random
initialisation; *Monte Carlo dropout* (Gal & Ghahramani, 2016) averages :math:`T` training-mode
passes of one dropout network (:func:`mc_dropout_logits`). Every function takes NumPy logits
stacked on a leading member axis, ``(K, n, C)`` (``predict_logits`` of any backend, one row
block per member); :func:`ensemble_logits` turns them into ``(n, C)`` logits whose softmax is
:math:`\bar p`, so :mod:`regbook.calibration` scores an ensemble as it scores one network.
NumPy only: no framework is imported, no global generator is used.
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_int, check_labels, check_seed
from regbook.np.losses import log_softmax

__all__ = ["bootstrap_indices", "average_probabilities", "ensemble_logits", "brier_score",
           "member_spread", "mc_dropout_logits"]


def bootstrap_indices(n: int, n_members: int, *, seed: int = 0) -> np.ndarray:
    r"""Bootstrap resamples of ``n`` examples, one row per member.

    Row :math:`k` holds ``n`` indices drawn uniformly *with replacement* from
    :math:`\{0, \dots, n-1\}` by ``numpy.random.default_rng(seed)`` (row after row), so
    ``X[idx[k]], y[idx[k]]`` is member :math:`k`'s training set. A resample leaves out each
    example with probability :math:`(1 - 1/n)^n \to e^{-1} \approx 0.368`: it holds about 63.2 %
    of the distinct examples, some of them several times.

    Parameters
    ----------
    n : int
        Number of training examples (>= 1).
    n_members : int
        Number of resamples (>= 1).
    seed : int
        Seed of the generator.

    Returns
    -------
    numpy.ndarray of int64, shape (n_members, n)
    """
    n = check_int(n, "n", minimum=1)
    n_members = check_int(n_members, "n_members", minimum=1)
    rng = np.random.default_rng(check_seed(seed))
    return rng.integers(0, n, size=(n_members, n), dtype=np.int64)


def _check_stacked(logits, name: str = "logits") -> np.ndarray:
    return check_array(logits, name, ndim=3)


def _member_probabilities(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(logits.reshape(-1, logits.shape[-1]))).reshape(logits.shape)


def average_probabilities(logits) -> np.ndarray:
    r"""The ensemble's prediction: the mean of the members' softmax probabilities.

    .. math:: \bar p_{ic} = \frac1K \sum_{k=1}^K \operatorname{softmax}(z_{ki})_c

    Parameters
    ----------
    logits : array_like, shape (K, n, C)
        Member :math:`k`'s logits for example :math:`i` in ``logits[k, i]``.

    Returns
    -------
    numpy.ndarray, shape (n, C), float64; every row sums to 1.
    """
    return _member_probabilities(_check_stacked(logits)).mean(axis=0)


def ensemble_logits(logits) -> np.ndarray:
    r"""Logits of the averaged ensemble: :math:`\log \bar p`, computed stably.

    .. math:: \log \bar p_{ic} = \log \sum_{k=1}^K \exp\big(\log\operatorname{softmax}
              (z_{ki})_c\big) - \log K

    (a log-sum-exp over the members). Since :math:`\sum_c \bar p_{ic} = 1`,
    :math:`\operatorname{softmax}(\log \bar p_i) = \bar p_i`: the result can be passed to
    :func:`regbook.calibration.negative_log_likelihood`,
    :func:`~regbook.calibration.expected_calibration_error` or an accuracy, which then score
    the ensemble. With ``K = 1`` it is the member's log-softmax.

    Parameters
    ----------
    logits : array_like, shape (K, n, C)

    Returns
    -------
    numpy.ndarray, shape (n, C), float64
    """
    z = _check_stacked(logits)
    logp = log_softmax(z.reshape(-1, z.shape[-1])).reshape(z.shape)
    top = logp.max(axis=0)
    return top + np.log(np.exp(logp - top).sum(axis=0)) - np.log(len(z))


def _check_y(y, logits: np.ndarray) -> np.ndarray:
    y = check_array(y, "y", ndim=1, dtype=None)
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if len(y) != logits.shape[-2]:
        raise ValueError(f"y must have one label per example, got {len(y)} labels for "
                         f"logits of shape {logits.shape}")
    return check_labels(y, "y", logits.shape[-1])


def brier_score(logits, y) -> float:
    r"""Mean squared distance between the predicted probabilities and the one-hot labels.

    .. math:: \mathrm{BS} = \frac1n \sum_{i=1}^n \sum_{c=1}^C
              \big(\operatorname{softmax}(z_i)_c - [y_i = c]\big)^2

    Parameters
    ----------
    logits : array_like, shape (n, C)
        One network's logits, or :func:`ensemble_logits` of an ensemble.
    y : array_like of int, shape (n,)

    Returns
    -------
    float
    """
    z = check_array(logits, "logits", ndim=2)
    y = _check_y(y, z)
    p = np.exp(log_softmax(z))
    p[np.arange(len(y)), y] -= 1.0
    return float(np.mean(np.sum(p ** 2, axis=1)))


def member_spread(logits) -> float:
    r"""How far the members' probabilities scatter around their average (the *ambiguity*).

    .. math:: A = \frac1n \sum_{i=1}^n \frac1K \sum_{k=1}^K \lVert p_{ki} - \bar p_i \rVert^2,
              \qquad p_{ki} = \operatorname{softmax}(z_{ki}),

    the members' variance, summed over the classes and averaged over the examples. It is
    exactly what averaging removes from the Brier score (Krogh & Vedelsby's decomposition):

    .. math:: \mathrm{BS}(\bar p) = \frac1K \sum_{k=1}^K \mathrm{BS}(p_k) - A .

    Parameters
    ----------
    logits : array_like, shape (K, n, C)

    Returns
    -------
    float, >= 0 (0 when all members agree)
    """
    p = _member_probabilities(_check_stacked(logits))
    return float(np.mean(np.sum((p - p.mean(axis=0)) ** 2, axis=2)))


def mc_dropout_logits(model, X, *, passes: int) -> np.ndarray:
    r"""Monte Carlo dropout: ``passes`` training-mode forward passes of one NumPy network.

    Pass :math:`t` runs ``model.forward(X, training=True)``: every dropout layer draws a fresh
    mask from its own generator (which advances; the weights do not change), so pass
    :math:`t` is one random sub-network. Averaging them with :func:`ensemble_logits` gives the
    Monte Carlo estimate of the dropout ensemble's prediction (Gal & Ghahramani, 2016),

    .. math:: \bar p(x) = \frac1T \sum_{t=1}^T \operatorname{softmax}\big(f(x; m_t)\big),
              \qquad m_t \text{ a random dropout mask.}

    Parameters
    ----------
    model : regbook.np.Sequential
        A network with at least one ``Dropout`` layer of ``p > 0`` and no ``BatchNorm`` (in
        training mode a batch-norm layer would normalise with the test batch's statistics and
        update its running estimates).
    X : array_like, shape (n, d)
        Features, converted to float32 as :func:`regbook.np.predict_logits` does.
    passes : int
        Number of passes :math:`T` (>= 1).

    Returns
    -------
    numpy.ndarray, shape (passes, n, n_outputs)
    """
    from regbook.np.layers import BatchNorm, Dropout, Sequential, _leaves

    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a regbook.np.Sequential, got {type(model).__name__}")
    passes = check_int(passes, "passes", minimum=1)
    X = check_array(X, "X", ndim=2, dtype=np.float32)
    leaves = _leaves([model])
    if any(isinstance(layer, BatchNorm) for layer in leaves):
        raise ValueError("model has a BatchNorm layer: training-mode passes would use the "
                         "batch's statistics and change its running estimates")
    if not any(isinstance(layer, Dropout) and layer.p > 0 for layer in leaves):
        raise ValueError("model has no Dropout layer with p > 0: every pass would be the same")
    return np.stack([model.forward(X, training=True) for _ in range(passes)])
