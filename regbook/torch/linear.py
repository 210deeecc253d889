r"""Training with an L1/L2 penalty or weight decay in PyTorch: any model, and the linear model.

The objective is the book's (see the Conventions appendix): a mean data loss plus

.. math:: \lambda_1 \sum_W \sum_j |W_j| + \frac{\lambda_2}{2} \sum_W \sum_j W_j^2

over the weights (biases and normalization parameters excluded, :func:`split_decay_params`).
The optimizer's own ``weight_decay`` is a separate knob with PyTorch's meaning: coupled for
``SGD`` and ``Adam`` (an L2 gradient), decoupled for ``AdamW``. Mini-batches follow a NumPy
permutation drawn from ``seed`` (or the data order with ``shuffle=False``), the same in
:mod:`regbook.tf.linear`, so the two backends see the same batches.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from regbook._penalized_training import LOSSES, OPTIMIZERS, batch_order, check_training_args
from regbook._validate import check_array, check_float, check_int
from regbook.np.fitters import FitPath
from regbook.np.linear import lasso_objective
from regbook.seeding import seed_everything
from regbook.torch.penalties import l1_penalty, l2_penalty, param_groups

__all__ = ["OPTIMIZERS", "LOSSES", "make_linear", "fit_penalized", "fit_linear"]


def make_linear(n_features: int, *, coef=None, intercept: float = 0.0) -> nn.Linear:
    r"""A float64 linear model :math:`f(x) = x^\top w + b` with given starting weights.

    Parameters
    ----------
    n_features : int
        :math:`d \ge 1`.
    coef : array_like, shape (d,), optional
        Starting :math:`w` (zeros by default).
    intercept : float
        Starting :math:`b`.

    Returns
    -------
    torch.nn.Linear
        ``Linear(d, 1)`` in float64; its ``weight`` is :math:`w^\top` ``(1, d)``.
    """
    n_features = check_int(n_features, "n_features", minimum=1)
    coef = _check_coef(coef, n_features)
    intercept = check_float(intercept, "intercept")
    model = nn.Linear(n_features, 1, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(coef[None, :]))
        model.bias.fill_(intercept)
    return model


def _check_coef(coef, n_features: int) -> np.ndarray:
    if coef is None:
        return np.zeros(n_features)
    coef = check_array(coef, "coef", ndim=1)
    if coef.shape != (n_features,):
        raise ValueError(f"coef must have shape ({n_features},), got {coef.shape}")
    return coef


def _make_optimizer(model: nn.Module, a: dict) -> torch.optim.Optimizer:
    groups = param_groups(model, a["weight_decay"])
    eps = {} if a["eps"] is None else {"eps": a["eps"]}
    if a["optimizer"] == "sgd":
        return torch.optim.SGD(groups, lr=a["lr"], momentum=a["momentum"])
    if a["optimizer"] == "adam":
        return torch.optim.Adam(groups, lr=a["lr"], **eps)
    return torch.optim.AdamW(groups, lr=a["lr"], **eps)


def _data_loss(kind: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if kind == "squared_error":
        return 0.5 * (out.reshape(y.shape) - y).pow(2).mean()
    return nn.functional.cross_entropy(out, y)


def _objective(model, kind, X, y, lam1, lam2) -> torch.Tensor:
    total = _data_loss(kind, model(X), y)
    if lam1:
        total = total + l1_penalty(model, lam1)
    if lam2:
        total = total + l2_penalty(model, lam2)
    return total


def fit_penalized(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    loss: str = "squared_error",
    optimizer: str = "sgd",
    lr: float = 0.1,
    momentum: float = 0.0,
    eps: float | None = None,
    weight_decay: float = 0.0,
    lam1: float = 0.0,
    lam2: float = 0.0,
    epochs: int = 100,
    batch_size: int | None = None,
    shuffle: bool = False,
    seed: int = 0,
    record_weights: bool = False,
) -> dict[str, list]:
    r"""Train ``model`` in place on a data loss plus the book's L1/L2 penalty over its weights.

    .. math:: J(\theta) = \frac{1}{n}\sum_i \ell(f_\theta(x_i), y_i)
              + \lambda_1\sum_W\lVert W\rVert_1 + \frac{\lambda_2}{2}\sum_W\lVert W\rVert_2^2

    with :math:`\ell(p, y) = \frac12 (p - y)^2` (``loss="squared_error"``) or the softmax
    cross-entropy (``"cross_entropy"``, integer labels). ``weight_decay`` is passed to the
    optimizer for the weights only (:func:`regbook.torch.param_groups`): ``SGD`` and ``Adam`` add
    ``weight_decay * W`` to the gradient, ``AdamW`` shrinks ``W`` by ``1 - lr * weight_decay``.

    Parameters
    ----------
    model : torch.nn.Module
    X : array_like, shape (n, d)
        Inputs (converted to the model's dtype).
    y : array_like, shape (n,)
        Targets (float) or class labels (int).
    loss : {"squared_error", "cross_entropy"}
    optimizer : {"sgd", "adam", "adamw"}
    lr : float
        Learning rate, > 0.
    momentum : float
        SGD momentum in [0, 1) (``optimizer="sgd"`` only).
    eps : float, optional
        Adam's epsilon; PyTorch's default 1e-8 when ``None``.
    weight_decay : float
        The optimizer's ``weight_decay`` (PyTorch's meaning), >= 0. The default 0 holds for
        ``AdamW`` too (PyTorch's own default there is 1e-2).
    lam1, lam2 : float
        The book's L1 and L2 strengths, >= 0.
    epochs : int
        Passes over the data, >= 1.
    batch_size : int, optional
        Examples per step; all of them (full-batch gradient descent) when ``None``.
    shuffle : bool
        Reshuffle every epoch with a NumPy generator seeded by ``seed`` (else data order).
    seed : int
        Seeds the shuffling and the frameworks.
    record_weights : bool
        Also record every parameter after every step.

    Returns
    -------
    dict
        ``"objective"``: :math:`J` on the whole training set before training and after each
        epoch (``epochs + 1`` values); with ``record_weights``, ``"weights"``: for the start and
        after every step, a list of NumPy copies of ``model.parameters()``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    a = check_training_args(X, y, loss, optimizer, lr, momentum, eps, weight_decay, lam1, lam2,
                             epochs, batch_size, shuffle, seed)
    if not isinstance(record_weights, bool):
        raise TypeError(f"record_weights must be a bool, got {type(record_weights).__name__}")
    if not list(model.parameters()):
        raise ValueError("model has no parameters to train")
    dtype = next(model.parameters()).dtype
    Xt = torch.from_numpy(a["X"]).to(dtype)
    yt = torch.from_numpy(a["y"]).to(dtype) if loss == "squared_error" else torch.from_numpy(a["y"])
    seed_everything(a["seed"])
    opt = _make_optimizer(model, a)
    snapshot = lambda: [p.detach().numpy().copy() for p in model.parameters()]  # noqa: E731
    history: dict[str, list] = {"objective": []}
    if record_weights:
        history["weights"] = [snapshot()]
    evaluate = lambda: _objective(model, loss, Xt, yt, a["lam1"], a["lam2"]).item()  # noqa: E731
    with torch.no_grad():
        history["objective"].append(evaluate())
    model.train()
    for order in batch_order(len(Xt), a["epochs"], shuffle=a["shuffle"], seed=a["seed"]):
        for start in range(0, len(order), a["batch_size"]):
            idx = torch.from_numpy(order[start:start + a["batch_size"]])
            opt.zero_grad()
            _objective(model, loss, Xt[idx], yt[idx], a["lam1"], a["lam2"]).backward()
            opt.step()
            if record_weights:
                history["weights"].append(snapshot())
        with torch.no_grad():
            history["objective"].append(evaluate())
    return history


def fit_linear(
    X: np.ndarray,
    y: np.ndarray,
    *,
    coef_init=None,
    intercept_init: float = 0.0,
    **kwargs,
) -> tuple[nn.Linear, FitPath]:
    r"""Fit the book's penalised linear model with a PyTorch optimizer, recording every step.

    Minimises :math:`\frac{1}{2n}\lVert y - Xw - b\rVert^2 + \lambda_1\lVert w\rVert_1
    + \frac{\lambda_2}{2}\lVert w\rVert^2` (intercept not penalised) in float64 with
    :func:`fit_penalized` (``loss="squared_error"``); ``kwargs`` are its keyword arguments
    (``optimizer``, ``lr``, ``lam1``, ``lam2``, ``weight_decay``, ``epochs``, ...).

    Returns
    -------
    model : torch.nn.Linear
    path : regbook.np.FitPath
        ``coefs`` ``(T + 1, d)`` and ``intercepts`` ``(T + 1,)`` at the start and after each
        of the :math:`T` steps, and ``losses`` ``(T + 1,)``, the objective above at each of
        them (the decoupled weight decay of ``AdamW`` is not part of it) -- the same record as
        :func:`regbook.np.gradient_descent`.
    """
    X = check_array(X, "X", ndim=2)
    if "loss" in kwargs or "record_weights" in kwargs:
        raise TypeError("fit_linear sets loss and record_weights itself")
    model = make_linear(X.shape[1], coef=coef_init, intercept=intercept_init)
    history = fit_penalized(model, X, y, loss="squared_error", record_weights=True, **kwargs)
    coef = np.stack([w[0].reshape(-1) for w in history["weights"]])
    intercept = np.array([float(w[1][0]) for w in history["weights"]])
    lam1, lam2 = kwargs.get("lam1", 0.0), kwargs.get("lam2", 0.0)
    losses = np.array([lasso_objective(X, y, c, b, lam1, lam2) for c, b in zip(coef, intercept)])
    return model, FitPath(coefs=coef, intercepts=intercept, losses=losses, lr=kwargs.get("lr", 0.1))
