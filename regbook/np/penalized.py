r"""Training with an L1/L2 penalty or weight decay in NumPy: any model, and the linear model.

The NumPy twin of :mod:`regbook.torch.penalized` and :mod:`regbook.tf`'s ``fit_penalized``:
the same arguments, the same batches (:func:`regbook._training.batch_order`), the same
objective -- a mean data loss plus

.. math:: \lambda_1 \sum_W \sum_j |W_j| + \frac{\lambda_2}{2} \sum_W \sum_j W_j^2

over the weights (biases and normalization parameters excluded,
:func:`regbook.np.split_decay_params`) -- and the optimizer's own ``weight_decay`` with
PyTorch's meaning (coupled for ``SGD`` and ``Adam``, decoupled for ``AdamW``). The steps are
:func:`regbook.np.training.train_step` with the optimizers of :mod:`regbook.np.optimizers`, so
in float64 the three backends' trajectories agree to rounding.
"""

from __future__ import annotations

import numpy as np

from regbook import _signatures
from regbook._training import (LOSSES, OPTIMIZERS, batch_order, check_training_args,
                               linear_fit_path)
from regbook._architecture import check_linear_args
from regbook._validate import check_bool, check_labels
from regbook.history import FitPath
from regbook.np.layers import Linear
from regbook.np.losses import softmax_cross_entropy
from regbook.np.penalties import l1_penalty, l2_penalty
from regbook.np.training import (
    check_model,
    decay_names,
    make_optimizer,
    n_inputs_outputs,
    train_step,
)

__all__ = ["OPTIMIZERS", "LOSSES", "make_linear", "fit_penalized", "fit_linear"]


@_signatures.implements(_signatures.make_linear)
def make_linear(n_features, *, coef, intercept) -> Linear:
    r"""A float64 linear model :math:`f(x) = x^\top w + b` with given starting weights.

    Returns
    -------
    regbook.np.Linear
        ``Linear(d, 1)`` in float64; its ``params["W"]`` is :math:`w` as a column ``(d, 1)``
        (:func:`regbook.torch.make_linear`'s ``weight`` is the row :math:`w^\top`).
    """
    n_features, coef, intercept = check_linear_args(n_features, coef, intercept)
    model = Linear(n_features, 1, rng=np.random.default_rng(0), dtype=np.float64)
    model.params["W"][:, 0] = coef                   # the default draw is overwritten at once
    model.params["b"][0] = intercept
    return model


def squared_error(out: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    r"""The book's :math:`\frac{1}{2n}\sum_i (f_i - y_i)^2` and its gradient
    :math:`(f - y)/n` with respect to the outputs ``out`` (``(n,)`` or ``(n, 1)``)."""
    r = out.reshape(y.shape) - y
    return 0.5 * float(np.mean(r * r)), (r / len(y)).reshape(out.shape)


@_signatures.implements(_signatures.fit_penalized)
def fit_penalized(model, X, y, *, loss, optimizer, lr, momentum, eps, weight_decay, lam1, lam2,
                  epochs, batch_size, shuffle, seed, record_weights) -> dict[str, list]:
    r"""Train ``model`` in place on a data loss plus the book's L1/L2 penalty over its weights.

    .. math:: J(\theta) = \frac{1}{n}\sum_i \ell(f_\theta(x_i), y_i)
              + \lambda_1\sum_W\lVert W\rVert_1 + \frac{\lambda_2}{2}\sum_W\lVert W\rVert_2^2

    with :math:`\ell(p, y) = \frac12 (p - y)^2` (``loss="squared_error"``) or the softmax
    cross-entropy (``"cross_entropy"``, integer labels). Each batch takes one step of
    :class:`regbook.np.SGD`, :class:`~regbook.np.Adam` or :class:`~regbook.np.AdamW`, whose
    ``weight_decay`` acts on the weights only: ``SGD`` and ``Adam`` add ``weight_decay * W`` to
    the gradient, ``AdamW`` shrinks ``W`` by ``1 - lr * weight_decay``.

    Training steps run in training mode; :math:`J` is measured in evaluation mode
    (deterministic, running statistics untouched).

    Returns
    -------
    dict
        ``"objective"``: :math:`J` on the whole training set before training and after each
        epoch (``epochs + 1`` values); with ``record_weights``, ``"weights"``: for the start and
        after every step, a list of copies of ``model.params`` (in its order).
    """
    check_model(model)
    a = check_training_args(X, y, loss, optimizer, lr, momentum, eps, weight_decay, lam1, lam2,
                            epochs, batch_size, shuffle, seed)
    record_weights = check_bool(record_weights, "record_weights")
    if not model.params:
        raise ValueError("model has no parameters to train")
    dtype = next(iter(model.params.values())).dtype
    X = a["X"].astype(dtype, copy=False)
    y = a["y"].astype(dtype, copy=False) if loss == "squared_error" else a["y"]
    data_loss = _check_outputs(model, X, y, loss)
    opt = make_optimizer(a["optimizer"], lr=a["lr"], momentum=a["momentum"],
                         weight_decay=a["weight_decay"], eps=a["eps"])
    decay = decay_names(model, "weights")

    def objective() -> float:
        out = model.forward(X, training=False)
        return (data_loss(out, y)[0] + l1_penalty(model, a["lam1"])
                + l2_penalty(model, a["lam2"]))

    snapshot = lambda: [p.copy() for p in model.params.values()]  # noqa: E731
    history: dict[str, list] = {"objective": [objective()]}
    if record_weights:
        history["weights"] = [snapshot()]
    for order in batch_order(len(X), a["epochs"], shuffle=a["shuffle"], seed=a["seed"]):
        for start in range(0, len(order), a["batch_size"]):
            idx = order[start:start + a["batch_size"]]
            train_step(model, opt, X[idx], y[idx], data_loss=data_loss, lam1=a["lam1"],
                       lam2=a["lam2"], decay=decay)
            if record_weights:
                history["weights"].append(snapshot())
        history["objective"].append(objective())
    return history


def _check_outputs(model, X: np.ndarray, y: np.ndarray, loss: str):
    """The data loss for ``loss``, after checking the model's inputs and outputs fit it."""
    n_in, n_out = n_inputs_outputs(model)
    if n_in is not None and X.shape[1] != n_in:
        raise ValueError(f"X has {X.shape[1]} features but the model's first layer expects "
                         f"n_in={n_in}")
    if loss == "squared_error":
        if n_out not in (None, 1):
            raise ValueError(f"loss='squared_error' needs a model with one output, this one has "
                             f"{n_out}")
        return squared_error
    if n_out is not None:
        check_labels(y, "y", n_out)
    return softmax_cross_entropy


def fit_linear(X: np.ndarray, y: np.ndarray, *, coef_init=None, intercept_init: float = 0.0,
               **kwargs) -> tuple[Linear, FitPath]:
    r"""Fit the book's penalised linear model with a NumPy optimizer, recording every step.

    Minimises :math:`\frac{1}{2n}\lVert y - Xw - b\rVert^2 + \lambda_1\lVert w\rVert_1
    + \frac{\lambda_2}{2}\lVert w\rVert^2` (intercept not penalised) in float64 with
    :func:`fit_penalized` (``loss="squared_error"``); ``kwargs`` are its keyword arguments
    (``optimizer``, ``lr``, ``lam1``, ``lam2``, ``weight_decay``, ``epochs``, ...).

    Returns
    -------
    model : regbook.np.Linear
    path : regbook.FitPath
        ``coefs`` ``(T + 1, d)`` and ``intercepts`` ``(T + 1,)`` at the start and after each
        of the :math:`T` steps, and ``losses`` ``(T + 1,)``, the objective above at each of
        them (the decoupled weight decay of ``AdamW`` is not part of it) -- the same record as
        :func:`regbook.np.gradient_descent` and :func:`regbook.torch.fit_linear`.
    """
    return linear_fit_path(make_linear, fit_penalized, X, y, coef_init, intercept_init, kwargs)
