"""The bias-variance decomposition of the expected squared test error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regbook._validate import check_array, check_float

__all__ = ["BiasVariance", "bias_variance_decomposition"]


@dataclass(frozen=True)
class BiasVariance:
    """The three terms of the decomposition, each averaged over the test inputs.

    ``total`` is ``bias2 + variance + noise``: the predicted expected test error of a model
    trained on a fresh training set. ``bias2`` is an unbiased estimate and can be slightly
    negative when the true bias² is below its sampling noise (see
    :func:`bias_variance_decomposition`).
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
    r"""Estimate bias², variance and noise of a learner's expected squared error, unbiasedly.

    A model :math:`\hat f` fitted on a random training set has, at a test input :math:`x`
    with label :math:`y = f(x) + \varepsilon`,

    .. math::
        \mathbb{E}\big[(y - \hat f(x))^2\big]
        = \underbrace{\big(\mathbb{E}\hat f(x) - f(x)\big)^2}_{\text{bias}^2}
        + \underbrace{\operatorname{Var}\hat f(x)}_{\text{variance}}
        + \underbrace{\sigma^2}_{\text{noise}} .

    From predictions :math:`\hat f_r(x)` of models fitted on :math:`R` independent training
    sets, with :math:`\bar f(x) = \frac{1}{R}\sum_r \hat f_r(x)`, the estimates are

    .. math::
        \widehat{\text{variance}}(x) = \frac{1}{R-1}\sum_{r=1}^{R}
            \big(\hat f_r(x) - \bar f(x)\big)^2,
        \qquad
        \widehat{\text{bias}^2}(x) = \big(\bar f(x) - f(x)\big)^2
            - \frac{\widehat{\text{variance}}(x)}{R},

    each averaged over the test inputs. Both are unbiased: :math:`\bar f` scatters around
    :math:`\mathbb{E}\hat f` with variance :math:`\operatorname{Var}\hat f / R`, so the plug-in
    :math:`(\bar f - f)^2` overstates bias² by that much, and the :math:`1/R` sample variance
    understates the variance by the factor :math:`(R-1)/R`. The correction moves
    :math:`\widehat{\text{variance}}/R` from bias² to variance and leaves the sum unchanged:
    ``bias2 + variance`` is exactly the mean of :math:`(\hat f_r(x) - f(x))^2` over the models
    and the test inputs. Because a noisy term is subtracted, ``bias2`` can come out slightly
    negative when the true bias² is smaller than its sampling error.

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
    n_models = predictions.shape[0]
    if n_models < 2:
        raise ValueError(f"predictions needs >= 2 rows (models), got {n_models}")
    if predictions.shape[1] != f_true.shape[0]:
        raise ValueError(
            f"predictions has {predictions.shape[1]} columns but f_true has {f_true.shape[0]} "
            "entries; they must match (one per test input)"
        )
    variance_x = predictions.var(axis=0, ddof=1)
    bias2_x = (predictions.mean(axis=0) - f_true) ** 2 - variance_x / n_models
    return BiasVariance(bias2=float(np.mean(bias2_x)), variance=float(np.mean(variance_x)),
                        noise=noise_var)
