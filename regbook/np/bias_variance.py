"""The bias-variance decomposition of the expected squared test error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regbook._validate import check_array, check_float

__all__ = ["BiasVariance", "bias_variance_decomposition"]


@dataclass(frozen=True)
class BiasVariance:
    """The three terms of the decomposition, each averaged over the test inputs.

    ``total`` is ``bias2 + variance + noise``: the predicted expected test error.
    """

    bias2: float
    variance: float
    noise: float

    @property
    def total(self) -> float:
        return self.bias2 + self.variance + self.noise


def bias_variance_decomposition(
    predictions: np.ndarray, f_true: np.ndarray, noise_var: float
) -> BiasVariance:
    r"""Split the expected squared error of a learner into bias², variance and noise.

    For predictions :math:`\hat f_r(x)` of models fitted on independent training sets
    :math:`r = 1..R`, with :math:`\bar f(x) = \frac{1}{R}\sum_r \hat f_r(x)`:

    .. math::
        \mathbb{E}\big[(y - \hat f(x))^2\big]
        = \underbrace{(\bar f(x) - f(x))^2}_{\text{bias}^2}
        + \underbrace{\tfrac{1}{R}\textstyle\sum_r (\hat f_r(x) - \bar f(x))^2}_{\text{variance}}
        + \underbrace{\sigma^2}_{\text{noise}},

    each term averaged over the test inputs :math:`x`.

    Parameters
    ----------
    predictions : array_like, shape (R, m)
        Row ``r`` holds model ``r``'s predictions at the ``m`` test inputs; ``R >= 2``.
    f_true : array_like, shape (m,)
        The noiseless target :math:`f(x)` at the test inputs.
    noise_var : float
        The noise variance :math:`\sigma^2 \ge 0` of the labels.

    Returns
    -------
    BiasVariance
    """
    predictions = check_array(predictions, "predictions", ndim=2)
    f_true = check_array(f_true, "f_true", ndim=1)
    noise_var = check_float(noise_var, "noise_var", minimum=0.0)
    if predictions.shape[0] < 2:
        raise ValueError(f"predictions needs >= 2 rows (models), got {predictions.shape[0]}")
    if predictions.shape[1] != f_true.shape[0]:
        raise ValueError(
            f"predictions has {predictions.shape[1]} columns but f_true has {f_true.shape[0]} "
            "entries; they must match (one per test input)"
        )
    mean_pred = predictions.mean(axis=0)
    bias2 = float(np.mean((mean_pred - f_true) ** 2))
    variance = float(np.mean(predictions.var(axis=0)))
    return BiasVariance(bias2=bias2, variance=variance, noise=noise_var)
