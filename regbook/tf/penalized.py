r"""Training with an L1/L2 penalty or weight decay in Keras: any model, and the linear model.

The Keras twin of :mod:`regbook.torch.penalized` (same names, same arguments). The book's
penalty

.. math:: \lambda_1 \sum_W \sum_j |W_j| + \frac{\lambda_2}{2} \sum_W \sum_j W_j^2

is attached the Keras way, as kernel regularizers built from the book's :math:`\lambda`
(:func:`regbook.tf.set_kernel_regularizers`: ``l1 = lam1``, ``l2 = lam2 / 2``), and collected
from ``model.losses``. The optimizers are Keras's own, on purpose (the L2 chapter shows what
they do): their ``weight_decay`` has **Keras's meaning**, *decoupled* in every optimizer,
``SGD`` and ``Adam`` included, kept off biases and normalization parameters
(:func:`regbook.tf.exclude_from_weight_decay`), and Adam's epsilon sits where Keras puts it.
(:func:`regbook.tf.fit_classifier` instead follows PyTorch's meaning, the book's vocabulary.)
Each step is :func:`regbook.tf.training.gradient_step`, the GradientTape step that
``model.fit`` runs, written out so that the batches are the NumPy ones PyTorch also sees.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from regbook import _signatures
from regbook._training import (LOSSES, OPTIMIZERS, batch_order, check_training_args,
                               linear_fit_path)
from regbook._validate import check_bool
from regbook.history import FitPath
from regbook.tf.models import make_linear
from regbook.tf.penalties import exclude_from_weight_decay, set_kernel_regularizers
from regbook.tf.training import data_loss, gradient_step

__all__ = ["OPTIMIZERS", "LOSSES", "fit_penalized", "fit_linear"]


def _make_optimizer(model: keras.Model, a: dict) -> keras.optimizers.Optimizer:
    wd = a["weight_decay"] or None
    eps = {} if a["eps"] is None else {"epsilon": a["eps"]}
    if a["optimizer"] == "sgd":
        opt = keras.optimizers.SGD(learning_rate=a["lr"], momentum=a["momentum"], weight_decay=wd)
    elif a["optimizer"] == "adam":
        opt = keras.optimizers.Adam(learning_rate=a["lr"], weight_decay=wd, **eps)
    else:
        opt = keras.optimizers.AdamW(learning_rate=a["lr"], weight_decay=a["weight_decay"], **eps)
    return exclude_from_weight_decay(opt, model)


def _objective(model: keras.Model, kind: str, X, y, training: bool) -> tf.Tensor:
    return data_loss(kind, model(X, training=training), y) + _regularization(model)


def _regularization(model: keras.Model) -> tf.Tensor | float:
    """The kernel regularizers' penalty, ``sum(model.losses)`` in the model's dtype."""
    dtype = model.trainable_variables[0].dtype
    return sum((tf.cast(p, dtype) for p in model.losses), 0.0)


@_signatures.implements(_signatures.fit_penalized)
def fit_penalized(model, X, y, *, loss, optimizer, lr, momentum, eps, weight_decay, lam1, lam2,
                  epochs, batch_size, shuffle, seed, record_weights) -> dict[str, list]:
    r"""Train a built Keras ``model`` in place on a data loss plus the book's L1/L2 penalty.

    .. math:: J(\theta) = \frac{1}{n}\sum_i \ell(f_\theta(x_i), y_i)
              + \lambda_1\sum_W\lVert W\rVert_1 + \frac{\lambda_2}{2}\sum_W\lVert W\rVert_2^2

    The penalty is attached as kernel regularizers (``L1L2(l1=lam1, l2=lam2/2)``, replacing
    any the model had). ``weight_decay`` has **Keras's meaning**, not PyTorch's: it goes to the
    Keras optimizer, decoupled in every one of them (:math:`W \leftarrow W - \eta\,\text{wd}\,W`
    before each update, weights only), so with plain SGD it equals PyTorch's coupled
    ``weight_decay`` (and ``lam2``), with momentum or Adam it does not -- ``"adam"`` with
    ``weight_decay`` is AdamW here. (:func:`regbook.tf.fit_classifier`'s ``weight_decay`` has
    PyTorch's meaning.) Arguments as in
    :func:`regbook.torch.fit_penalized` (``weight_decay`` defaults to 0 for ``AdamW`` too,
    where Keras's own default is 0.004); ``eps`` defaults to Keras's 1e-7 and sits outside
    Adam's bias correction (see :func:`regbook.np.keras_adam_step`). Keras keeps the learning
    rate and the regularization factors in float32, so float64 runs match PyTorch exactly only
    when those are exact in float32 (e.g. 0.25, 0.125).

    Returns
    -------
    dict
        ``"objective"`` (``epochs + 1`` values, before training and after each epoch) and, with
        ``record_weights``, ``"weights"``: NumPy copies of ``model.trainable_variables`` at the
        start and after every step (kernels are ``(in, out)``, PyTorch's transpose).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    a = check_training_args(X, y, loss, optimizer, lr, momentum, eps, weight_decay, lam1, lam2,
                            epochs, batch_size, shuffle, seed)
    record_weights = check_bool(record_weights, "record_weights")
    variables = model.trainable_variables
    if not variables:
        raise ValueError("model has no trainable variables (build it first)")
    Xt = tf.constant(a["X"], dtype=variables[0].dtype)
    yt = tf.constant(a["y"], dtype=variables[0].dtype if loss == "squared_error" else tf.int64)
    set_kernel_regularizers(model, lam1=a["lam1"], lam2=a["lam2"])
    opt = _make_optimizer(model, a)
    snapshot = lambda: [v.numpy().copy() for v in variables]  # noqa: E731
    history: dict[str, list] = {"objective": [float(_objective(model, loss, Xt, yt, False))]}
    if record_weights:
        history["weights"] = [snapshot()]
    for order in batch_order(len(a["X"]), a["epochs"], shuffle=a["shuffle"], seed=a["seed"]):
        for start in range(0, len(order), a["batch_size"]):
            idx = order[start:start + a["batch_size"]]
            gradient_step(model, variables, tf.gather(Xt, idx), tf.gather(yt, idx), loss=loss,
                          penalty=lambda: _regularization(model),
                          apply=lambda grads: opt.apply_gradients(zip(grads, variables)))
            if record_weights:
                history["weights"].append(snapshot())
        history["objective"].append(float(_objective(model, loss, Xt, yt, False)))
    return history


def fit_linear(X: np.ndarray, y: np.ndarray, *, coef_init=None, intercept_init: float = 0.0,
               **kwargs) -> tuple[keras.Sequential, FitPath]:
    r"""Fit the book's penalised linear model with a Keras optimizer, recording every step:
    :func:`regbook.np.fit_linear` (same arguments, same :class:`regbook.FitPath`) trained by
    :func:`regbook.tf.fit_penalized`, so with Keras's optimizers; the model is the float64
    ``keras.Sequential`` of :func:`regbook.tf.make_linear`.
    """
    return linear_fit_path(make_linear, fit_penalized, X, y, coef_init, intercept_init, kwargs)
