r"""Converters between the book's penalty strength :math:`\lambda` and each library's setting.

The book minimises, for a linear model,

.. math:: \frac{1}{2n}\lVert y - Xw - b\rVert^2 + \lambda_1 \lVert w\rVert_1
          + \frac{\lambda_2}{2}\lVert w\rVert_2^2 ,

and in networks adds :math:`\lambda\sum|w|` or :math:`\frac{\lambda}{2}\sum w^2` to the mean
data loss. Each function below states the library's formula and the conversion; the tests
prove each on real numbers against the installed library.

The plain converters (``keras_l1``, ``keras_l2``, ``torch_weight_decay``) assume the book's
data loss, :math:`\frac{1}{2n}\sum_i r_i^2` for squared error. Keras's ``loss="mse"`` and
``torch.nn.MSELoss`` are :math:`\frac{1}{n}\sum_i r_i^2`, twice as large, and with them the
penalty must be doubled too for the same minimiser: the ``*_mse`` converters do that.
"""

from __future__ import annotations

from regbook._validate import check_float, check_int

__all__ = [
    "keras_l1",
    "keras_l2",
    "lam_from_keras_l1",
    "lam_from_keras_l2",
    "torch_weight_decay",
    "lam_from_torch_weight_decay",
    "keras_l1_mse",
    "lam_from_keras_l1_mse",
    "keras_l2_mse",
    "lam_from_keras_l2_mse",
    "torch_weight_decay_mse",
    "lam_from_torch_weight_decay_mse",
    "sklearn_lasso_alpha",
    "lam_from_sklearn_lasso_alpha",
    "sklearn_ridge_alpha",
    "lam_from_sklearn_ridge_alpha",
    "sklearn_elasticnet_params",
    "lams_from_sklearn_elasticnet",
    "PENALTY_FORMS",
    "penalty_coefficient",
    "rescale_lam",
]


def _nonneg(value, name: str) -> float:
    return check_float(value, name, minimum=0.0)


# --- Keras -----------------------------------------------------------------------------------

def keras_l1(lam: float) -> float:
    r"""The factor ``c`` of ``keras.regularizers.l1(c)`` for the book's L1 strength.

    Keras adds :math:`c\sum_j |w_j|`; the book adds :math:`\lambda\sum_j|w_j|`, so

    .. math:: c = \lambda .
    """
    return _nonneg(lam, "lam")


def lam_from_keras_l1(c: float) -> float:
    r"""The book's :math:`\lambda` for ``keras.regularizers.l1(c)``: :math:`\lambda = c`."""
    return _nonneg(c, "c")


def keras_l2(lam: float) -> float:
    r"""The factor ``c`` of ``keras.regularizers.l2(c)`` for the book's L2 strength.

    Keras adds :math:`c\sum_j w_j^2` (no 1/2: ``l2(0.1)`` on ``[1, -2, 3]`` gives 1.4); the
    book adds :math:`\frac{\lambda}{2}\sum_j w_j^2`, so

    .. math:: c = \frac{\lambda}{2} .
    """
    return _nonneg(lam, "lam") / 2.0


def lam_from_keras_l2(c: float) -> float:
    r"""The book's :math:`\lambda` for ``keras.regularizers.l2(c)``: :math:`\lambda = 2c`."""
    return 2.0 * _nonneg(c, "c")


# --- PyTorch ---------------------------------------------------------------------------------

def torch_weight_decay(lam: float) -> float:
    r"""PyTorch's coupled ``weight_decay`` (``SGD``, ``Adam``) for the book's L2 strength.

    ``torch.optim.SGD(..., weight_decay=wd)`` adds :math:`\mathrm{wd}\cdot w` to the gradient,
    which is the gradient of :math:`\frac{\mathrm{wd}}{2}\lVert w\rVert^2`; the book's L2
    gradient is :math:`\lambda w`, so

    .. math:: \mathrm{wd} = \lambda .

    (For ``Adam`` this is still an L2 penalty, not decoupled weight decay; ``AdamW`` differs.)
    """
    return _nonneg(lam, "lam")


def lam_from_torch_weight_decay(wd: float) -> float:
    r"""The book's :math:`\lambda` for PyTorch's coupled ``weight_decay``: :math:`\lambda = \mathrm{wd}`."""
    return _nonneg(wd, "wd")


# --- with a mean-squared-error loss without the 1/2 (Keras loss="mse", torch.nn.MSELoss) ---------

def keras_l1_mse(lam: float) -> float:
    r"""``keras.regularizers.l1(c)`` for the book's L1 strength, with Keras's ``loss="mse"``.

    ``loss="mse"`` is :math:`\frac1n\sum_i r_i^2`, twice the book's :math:`\frac{1}{2n}\sum_i
    r_i^2`. The Keras objective :math:`\frac1n\sum_i r_i^2 + c\sum_j|w_j|` is twice the book's
    :math:`\frac{1}{2n}\sum_i r_i^2 + \lambda\sum_j|w_j|`, with the same minimiser, when

    .. math:: c = 2\lambda .
    """
    return 2.0 * _nonneg(lam, "lam")


def lam_from_keras_l1_mse(c: float) -> float:
    r"""The book's :math:`\lambda` for ``l1(c)`` next to ``loss="mse"``: :math:`\lambda = c / 2`."""
    return _nonneg(c, "c") / 2.0


def keras_l2_mse(lam: float) -> float:
    r"""``keras.regularizers.l2(c)`` for the book's L2 strength, with Keras's ``loss="mse"``.

    The Keras objective :math:`\frac1n\sum_i r_i^2 + c\sum_j w_j^2` is twice the book's
    :math:`\frac{1}{2n}\sum_i r_i^2 + \frac{\lambda}{2}\sum_j w_j^2` when

    .. math:: c = \lambda

    (the two factors of 2, of the loss and of ``l2``'s missing :math:`\frac12`, cancel).
    """
    return _nonneg(lam, "lam")


def lam_from_keras_l2_mse(c: float) -> float:
    r"""The book's :math:`\lambda` for ``l2(c)`` next to ``loss="mse"``: :math:`\lambda = c`."""
    return _nonneg(c, "c")


def torch_weight_decay_mse(lam: float) -> float:
    r"""PyTorch's coupled ``weight_decay`` for the book's L2 strength, with ``torch.nn.MSELoss``.

    ``MSELoss`` is :math:`\frac1n\sum_i r_i^2` (gradient twice the book's), and
    ``weight_decay=wd`` adds :math:`\mathrm{wd}\cdot w`; the sum is twice the gradient of the
    book's :math:`\frac{1}{2n}\sum_i r_i^2 + \frac{\lambda}{2}\lVert w\rVert^2`, so the
    optimizers stop at the book's minimiser (with twice the book's step) when

    .. math:: \mathrm{wd} = 2\lambda .
    """
    return 2.0 * _nonneg(lam, "lam")


def lam_from_torch_weight_decay_mse(wd: float) -> float:
    r"""The book's :math:`\lambda` for ``weight_decay=wd`` with ``MSELoss``: :math:`\lambda = \mathrm{wd}/2`."""
    return _nonneg(wd, "wd") / 2.0


# --- scikit-learn ----------------------------------------------------------------------------

def sklearn_lasso_alpha(lam: float) -> float:
    r"""``sklearn.linear_model.Lasso(alpha)`` for the book's L1 strength.

    scikit-learn minimises :math:`\frac{1}{2n}\lVert y - Xw - b\rVert^2 + \alpha\lVert w\rVert_1`,
    the book's objective with

    .. math:: \alpha = \lambda .
    """
    return _nonneg(lam, "lam")


def lam_from_sklearn_lasso_alpha(alpha: float) -> float:
    r"""The book's :math:`\lambda` for ``Lasso(alpha)``: :math:`\lambda = \alpha`."""
    return _nonneg(alpha, "alpha")


def sklearn_ridge_alpha(lam: float, n_samples: int) -> float:
    r"""``sklearn.linear_model.Ridge(alpha)`` for the book's L2 strength.

    scikit-learn minimises sums, :math:`\lVert y - Xw - b\rVert^2 + \alpha\lVert w\rVert^2`;
    multiplying the book's objective by :math:`2n` gives the same minimiser with

    .. math:: \alpha = n\lambda .
    """
    lam = _nonneg(lam, "lam")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    return n_samples * lam


def lam_from_sklearn_ridge_alpha(alpha: float, n_samples: int) -> float:
    r"""The book's :math:`\lambda` for ``Ridge(alpha)`` on ``n_samples`` rows: :math:`\lambda = \alpha / n`."""
    alpha = _nonneg(alpha, "alpha")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    return alpha / n_samples


def sklearn_elasticnet_params(lam1: float, lam2: float) -> tuple[float, float]:
    r"""``ElasticNet(alpha, l1_ratio)`` for the book's :math:`(\lambda_1, \lambda_2)`.

    scikit-learn minimises
    :math:`\frac{1}{2n}\lVert y - Xw - b\rVert^2 + \alpha r\lVert w\rVert_1
    + \frac{\alpha(1-r)}{2}\lVert w\rVert^2`, so :math:`\lambda_1 = \alpha r`,
    :math:`\lambda_2 = \alpha(1 - r)`, i.e.

    .. math:: \alpha = \lambda_1 + \lambda_2, \qquad r = \frac{\lambda_1}{\lambda_1 + \lambda_2}.

    When both are 0 (no penalty) ``(0.0, 1.0)`` is returned.
    """
    lam1 = _nonneg(lam1, "lam1")
    lam2 = _nonneg(lam2, "lam2")
    alpha = lam1 + lam2
    if alpha == 0.0:
        return 0.0, 1.0
    return alpha, lam1 / alpha


def lams_from_sklearn_elasticnet(alpha: float, l1_ratio: float) -> tuple[float, float]:
    r"""The book's :math:`(\lambda_1, \lambda_2) = (\alpha r, \alpha(1-r))` for ``ElasticNet(alpha, l1_ratio=r)``."""
    alpha = _nonneg(alpha, "alpha")
    l1_ratio = check_float(l1_ratio, "l1_ratio", minimum=0.0, maximum=1.0)
    return alpha * l1_ratio, alpha * (1.0 - l1_ratio)


# --- textbook forms --------------------------------------------------------------------------

#: The ways books and blog posts write the factor in front of a penalty sum :math:`S(w)`.
PENALTY_FORMS = ("lam", "lam/2", "lam/m", "lam/(2m)")


def penalty_coefficient(lam: float, form: str, *, n_samples: int | None = None,
                        _names: tuple[str, str] = ("lam", "form")) -> float:
    r"""The number that multiplies the penalty sum :math:`S(w)` when it is written as ``form``.

    .. math::

        \text{"lam"}: \lambda, \quad \text{"lam/2"}: \frac{\lambda}{2}, \quad
        \text{"lam/m"}: \frac{\lambda}{m}, \quad \text{"lam/(2m)"}: \frac{\lambda}{2m},

    where :math:`m` = ``n_samples`` (needed only by the last two forms) and :math:`S(w)` is
    :math:`\sum_j|w_j|` or :math:`\sum_j w_j^2`. The book writes L1 as "lam" and L2 as "lam/2".
    """
    lam = _nonneg(lam, _names[0])
    if not isinstance(form, str) or form not in PENALTY_FORMS:
        raise ValueError(f"{_names[1]} must be one of {PENALTY_FORMS}, got {form!r}")
    if form in ("lam", "lam/2"):
        return lam if form == "lam" else lam / 2.0
    if n_samples is None:
        raise ValueError(f"n_samples is required for the form {form!r}")
    m = check_int(n_samples, "n_samples", minimum=1)
    return lam / m if form == "lam/m" else lam / (2.0 * m)


def rescale_lam(lam: float, *, from_form: str, to_form: str, n_samples: int | None = None) -> float:
    r"""Translate a strength written in one textbook form into another, same penalty.

    The forms differ only by a constant factor :math:`k` in front of :math:`S(w)`
    (see :func:`penalty_coefficient`), so with the same data loss the strength
    :math:`\lambda'` in ``to_form`` that adds the same penalty is

    .. math:: \lambda' = \lambda \, \frac{k_\text{from}}{k_\text{to}} .

    Example: Andrew Ng's course writes :math:`\frac{\lambda}{2m}\sum w^2` next to a mean data
    loss; the book writes :math:`\frac{\lambda}{2}\sum w^2`, so
    ``rescale_lam(lam, from_form="lam/(2m)", to_form="lam/2", n_samples=m) == lam / m``.

    Parameters
    ----------
    lam : float
        Strength :math:`\lambda \ge 0` in ``from_form``.
    from_form, to_form : str
        One of ``PENALTY_FORMS``: "lam", "lam/2", "lam/m", "lam/(2m)".
    n_samples : int, optional
        :math:`m`, required when either form mentions it.

    Returns
    -------
    float
    """
    coefficient = penalty_coefficient(lam, from_form, n_samples=n_samples,
                                      _names=("lam", "from_form"))
    unit = penalty_coefficient(1.0, to_form, n_samples=n_samples, _names=("lam", "to_form"))
    return coefficient / unit
