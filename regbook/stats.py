r"""The book's evidence rule: a paired 95% interval over seeds, and what it lets the prose say.

An effect ("helps", "hurts") is claimed only from the mean of paired differences
:math:`d_s = a_s - b_s` over :math:`n \ge 10` seeds (the same seed: the same data, initial
weights and batches for both settings) and its Student-t interval

.. math:: \bar d \pm t_{0.975,\,n-1}\, \frac{s_d}{\sqrt n},

asserted by its bound. When the interval contains 0, no effect was shown. SciPy is imported on
first use (``import regbook`` stays light).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


import numpy as np

from regbook._validate import check_array, check_choice, check_float, check_int, check_seed

__all__ = ["Interval", "paired_interval", "MIN_SEEDS"]

#: Seeds the book needs before it calls a difference an effect.
MIN_SEEDS = 10


@dataclass(frozen=True)
class Interval:
    """A mean paired difference and its confidence interval.

    Attributes
    ----------
    mean, low, high : float
        :math:`\\bar d` and the interval's bounds.
    n : int
        Number of pairs (seeds).
    level : float
        Confidence level, e.g. 0.95.
    """

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    @property
    def verdict(self) -> str:
        """``"higher"``, ``"lower"`` or ``"no effect shown"`` -- the first two only when the
        interval excludes 0 and there are at least :data:`MIN_SEEDS` pairs."""
        if self.n >= MIN_SEEDS and self.low > 0:
            return "higher"
        if self.n >= MIN_SEEDS and self.high < 0:
            return "lower"
        return "no effect shown"

    def __iter__(self):
        """``mean, low, high = paired_interval(a, b)``."""
        return iter((self.mean, self.low, self.high))

    def __str__(self) -> str:
        pct = f"{100 * self.level:g}%"
        return f"{self.mean:+.4g} ({pct} interval [{self.low:+.4g}, {self.high:+.4g}], n={self.n})"


def paired_interval(a, b, *, level: float = 0.95, method: str = "t",
                    n_resamples: int = 9999, seed: int = 0) -> Interval:
    r"""Mean of the paired differences ``a - b`` and its confidence interval.

    .. math:: \bar d \pm t_{(1+\text{level})/2,\,n-1}\, s_d / \sqrt n, \qquad
              d_s = a_s - b_s,\ s_d^2 = \tfrac{1}{n-1}\sum_s (d_s - \bar d)^2

    (``method="t"``, the interval of ``scipy.stats.ttest_rel(a, b)``), or the bias-corrected
    and accelerated bootstrap interval of :math:`\bar d` (``method="bootstrap"``:
    ``scipy.stats.bootstrap`` with ``method="BCa"``, resampling seeds, so each resample keeps
    the pairs together), which does not assume the differences are normal.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        One number per seed for each setting, in the same seed order (n >= 2).
    level : float
        Confidence level in (0, 1).
    method : {"t", "bootstrap"}
        Student-t interval, or BCa bootstrap.
    n_resamples : int
        Bootstrap resamples (``method="bootstrap"`` only), at least 100.
    seed : int
        Seed of the bootstrap's generator (``method="bootstrap"`` only).

    Returns
    -------
    Interval
    """
    a = check_array(a, "a", ndim=1)
    b = check_array(b, "b", ndim=1)
    if a.shape != b.shape:
        raise ValueError(f"a and b must pair up one value per seed, got lengths {len(a)} and "
                         f"{len(b)}")
    if len(a) < 2:
        raise ValueError(f"a and b need at least 2 seeds for an interval, got {len(a)}")
    level = check_float(level, "level", minimum=0.0, maximum=1.0, include_min=False,
                        include_max=False)
    method = check_choice(method, "method", ("t", "bootstrap"))
    n_resamples = check_int(n_resamples, "n_resamples", minimum=100)
    seed = check_seed(seed)
    from scipy import stats

    d = a - b
    mean = float(d.mean())
    if method == "bootstrap":
        if np.all(d == d[0]):                       # no spread: the interval is the point
            return Interval(mean, mean, mean, len(d), level)
        ci = stats.bootstrap((d,), np.mean, confidence_level=level, method="BCa",
                             n_resamples=n_resamples, rng=np.random.default_rng(seed)
                             ).confidence_interval
        return Interval(mean, float(ci.low), float(ci.high), len(d), level)
    half = float(stats.t.ppf((1 + level) / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return Interval(mean, mean - half, mean + half, len(d), level)
