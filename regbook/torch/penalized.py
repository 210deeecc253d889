r"""Training with an L1/L2 penalty or weight decay in PyTorch: any model, and the linear model.

The objective is the book's (see the Conventions appendix): a mean data loss plus

.. math:: \lambda_1 \sum_W \sum_j |W_j| + \frac{\lambda_2}{2} \sum_W \sum_j W_j^2

over the weights (biases and normalization parameters excluded, :func:`split_decay_params`).
The optimizer's own ``weight_decay`` is a separate knob with PyTorch's meaning: coupled for
``SGD`` and ``Adam`` (an L2 gradient), decoupled for ``AdamW``. Mini-batches follow a NumPy
permutation drawn from ``seed`` (or the data order with ``shuffle=False``), the same in
:mod:`regbook.tf`, so the backends see the same batches. The optimizer and the penalised
objective are built by the same private helpers as :func:`regbook.torch.fit_classifier`'s.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from regbook import _signatures
from regbook._training import (LOSSES, OPTIMIZERS, batch_order, check_training_args,
                               linear_fit_path)
from regbook._validate import check_bool
from regbook.history import FitPath
from regbook.torch.models import make_linear
from regbook.torch.penalties import l1_penalty, l2_penalty, split_decay_params

__all__ = ["OPTIMIZERS", "LOSSES", "fit_penalized", "fit_linear"]


# --- the step code shared with regbook.torch.training.fit_classifier -------------------------

def _decay_params(model: nn.Module, decay_scope: str) -> tuple[list, list]:
    """(the parameters ``weight_decay``, ``lam1`` and ``lam2`` act on, the other trainable ones).

    ``"weights"``: :func:`split_decay_params` (no biases, no normalization parameters);
    ``"all"``: every trainable parameter.
    """
    if decay_scope == "weights":
        return split_decay_params(model)
    return [p for p in model.parameters() if p.requires_grad], []


def _make_optimizer(decay: list, no_decay: list, *, optimizer: str, lr: float,
                    momentum: float = 0.0, weight_decay: float = 0.0,
                    eps: float | None = None) -> torch.optim.Optimizer:
    """``torch.optim.SGD``/``Adam``/``AdamW`` with ``weight_decay`` on ``decay`` only.

    Two parameter groups (an empty one is dropped), PyTorch's meaning of ``weight_decay``
    (coupled for SGD and Adam, decoupled for AdamW); Adam's betas (0.9, 0.999), eps 1e-8 unless
    given.
    """
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError("model has no parameters to train")
    if optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    adam = torch.optim.Adam if optimizer == "adam" else torch.optim.AdamW
    return adam(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8 if eps is None else eps)


def _penalized_loss(data_loss: torch.Tensor, weights: list, lam1: float,
                    lam2: float) -> torch.Tensor:
    r"""The penalised objective: ``data_loss`` plus the book's penalties over ``weights``.

    .. math:: J = \text{data\_loss} + \lambda_1\sum_W\lVert W\rVert_1
              + \frac{\lambda_2}{2}\sum_W\lVert W\rVert_2^2
    """
    total = data_loss
    if lam1 and weights:
        total = total + l1_penalty(weights, lam1)
    if lam2 and weights:
        total = total + l2_penalty(weights, lam2)
    return total


def _step(optimizer: torch.optim.Optimizer, objective) -> None:
    """One optimizer step on the scalar ``objective()``."""
    optimizer.zero_grad()
    objective().backward()
    optimizer.step()


def _data_loss(kind: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if kind == "squared_error":
        return 0.5 * (out.reshape(y.shape) - y).pow(2).mean()
    return nn.functional.cross_entropy(out, y)


@_signatures.implements(_signatures.fit_penalized)
def fit_penalized(model, X, y, *, loss, optimizer, lr, momentum, eps, weight_decay, lam1, lam2,
                  epochs, batch_size, shuffle, seed, record_weights) -> dict[str, list]:
    r"""Train ``model`` in place on a data loss plus the book's L1/L2 penalty over its weights.

    The objective :math:`J(\theta)` of :func:`regbook.np.fit_penalized`, minimised with a
    ``torch.optim`` optimizer. ``weight_decay`` is passed to the
    optimizer for the weights only (the groups of :func:`regbook.torch.param_groups`): ``SGD``
    and ``Adam`` add ``weight_decay * W`` to the gradient, ``AdamW`` shrinks ``W`` by
    ``1 - lr * weight_decay``.

    The model trains in training mode; :math:`J` on the whole training set is measured in
    evaluation mode (no dropout, batch norm's running statistics left alone), as the NumPy and
    Keras versions measure it. The model is left in the mode it was in before the call.

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
    record_weights = check_bool(record_weights, "record_weights")
    if not list(model.parameters()):
        raise ValueError("model has no parameters to train")
    dtype = next(model.parameters()).dtype
    Xt = torch.from_numpy(a["X"]).to(dtype)
    yt = torch.from_numpy(a["y"])
    yt = yt.to(dtype) if loss == "squared_error" else yt
    decay, no_decay = _decay_params(model, "weights")
    opt = _make_optimizer(decay, no_decay, optimizer=a["optimizer"], lr=a["lr"],
                          momentum=a["momentum"], weight_decay=a["weight_decay"], eps=a["eps"])

    def objective(Xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return _penalized_loss(_data_loss(loss, model(Xb), yb), decay, a["lam1"], a["lam2"])

    was_training = model.training
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(a["seed"])
            return _penalized_epochs(model, opt, objective, Xt, yt, a, record_weights)
    finally:
        model.train(was_training)


def _penalized_epochs(model, opt, objective, Xt, yt, a: dict, record_weights: bool) -> dict:
    # fit_penalized's loop: every batch of batch_order (none skipped), J after each epoch.
    snapshot = lambda: [p.detach().numpy().copy() for p in model.parameters()]  # noqa: E731
    history: dict[str, list] = {"objective": []}
    if record_weights:
        history["weights"] = [snapshot()]

    def measure() -> float:
        model.eval()
        with torch.no_grad():
            value = objective(Xt, yt).item()
        model.train()
        return value

    history["objective"].append(measure())
    model.train()
    for order in batch_order(len(Xt), a["epochs"], shuffle=a["shuffle"], seed=a["seed"]):
        for start in range(0, len(order), a["batch_size"]):
            idx = torch.from_numpy(order[start:start + a["batch_size"]])
            _step(opt, lambda: objective(Xt[idx], yt[idx]))
            if record_weights:
                history["weights"].append(snapshot())
        history["objective"].append(measure())
    return history


def fit_linear(X: np.ndarray, y: np.ndarray, *, coef_init=None, intercept_init: float = 0.0,
               **kwargs) -> tuple[nn.Linear, FitPath]:
    r"""Fit the book's penalised linear model with a PyTorch optimizer, recording every step.

    The same function, arguments and record as :func:`regbook.np.fit_linear`: the objective
    :math:`\frac{1}{2n}\lVert y - Xw - b\rVert^2 + \lambda_1\lVert w\rVert_1
    + \frac{\lambda_2}{2}\lVert w\rVert^2` minimised in float64 by this backend's
    :func:`fit_penalized` (its ``kwargs``); returns ``(torch.nn.Linear, regbook.FitPath)``.
    """
    return linear_fit_path(make_linear, fit_penalized, X, y, coef_init, intercept_init, kwargs)
