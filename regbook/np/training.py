r"""Mini-batch training of a NumPy model: the one step, and the classifier loop built on it.

:func:`train_step` is the step every NumPy training loop takes (:func:`fit_classifier` here,
:func:`regbook.np.fit_penalized` in :mod:`regbook.np.penalized`): forward in training mode,
the data loss's gradient, backward, the penalties' gradients added to the layers' gradients,
one optimizer step. The epoch loop, its history and early stopping are
:func:`regbook._training.run_epochs`, shared with :mod:`regbook.torch` and :mod:`regbook.tf`.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np

from regbook import _signatures
from regbook._training import check_fit_classifier_args, run_epochs
from regbook._validate import check_array, check_int, check_labels, check_Xy
from regbook.history import History
from regbook.np.layers import _leaves
from regbook.np.losses import softmax_cross_entropy
from regbook.np.optimizers import SGD, Adam, AdamW, Optimizer
from regbook.np.penalties import _l1_grad, _l2_grad, split_decay_params

__all__ = ["fit_classifier", "predict_logits", "evaluate_classifier"]

#: ``fit_classifier``'s defaults of the settings an optimizer object already carries.
_OPTIMIZER_DEFAULTS = {"lr": 1e-3, "momentum": 0.0, "weight_decay": 0.0}


# --- the step shared by every NumPy training loop --------------------------------------------

def make_optimizer(name: str, *, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                   eps: float | None = None) -> Optimizer:
    """:class:`SGD`, :class:`Adam` or :class:`AdamW` by name (Adam's eps 1e-8 unless given)."""
    if name == "sgd":
        return SGD(lr, momentum, weight_decay=weight_decay)
    adam = Adam if name == "adam" else AdamW
    return adam(lr, eps=1e-8 if eps is None else eps, weight_decay=weight_decay)


def decay_names(model, decay_scope: str) -> list[str]:
    """The parameters ``weight_decay``, ``lam1`` and ``lam2`` act on: the weights
    (:func:`regbook.np.split_decay_params`, ``"weights"``) or every parameter (``"all"``)."""
    return split_decay_params(model)[0] if decay_scope == "weights" else list(model.params)


def train_step(
    model,
    optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    data_loss: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]],
    lam1: float,
    lam2: float,
    decay: Sequence[str],
) -> None:
    r"""One step on the batch ``(X, y)`` of the penalised objective

    .. math:: J(\theta) = \ell_B(\theta) + \lambda_1 \sum_{W} \sum_j |W_j|
              + \frac{\lambda_2}{2} \sum_{W} \sum_j W_j^2 ,

    with :math:`\ell_B` = ``data_loss(outputs, y)[0]`` (it also returns the gradient with
    respect to the outputs) and :math:`W` the parameters named in ``decay``. The penalties'
    gradients :math:`\lambda_1 \operatorname{sign}(W) + \lambda_2 W` are added to the layers'
    gradients, then ``optimizer.step(model, decay=decay)`` applies the optimizer's own
    ``weight_decay`` to the same parameters (an object without ``decay`` gets ``step(model)``).
    """
    out = model.forward(X, training=True)
    _, dout = data_loss(out, y)
    model.backward(dout)
    if lam1 or lam2:
        params, grads = model.params, model.grads
        for name in decay:
            g, w = grads[name], params[name]
            if lam1:
                g += _l1_grad(w, lam1)
            if lam2:
                g += _l2_grad(w, lam2)
    if isinstance(optimizer, Optimizer):
        optimizer.step(model, decay=decay)
    else:
        optimizer.step(model)


def check_model(model) -> None:
    """Refuse an object that does not follow the layer protocol of :mod:`regbook.np`."""
    missing = [a for a in ("forward", "backward", "params", "grads") if not hasattr(model, a)]
    if missing:
        raise TypeError(f"model must follow the layer protocol of regbook.np (a Sequential, "
                        f"make_mlp, make_linear, ...); {type(model).__name__} lacks {missing}")


def n_inputs_outputs(model) -> tuple[int | None, int | None]:
    """The model's input features (its first layer's ``n_in``: a :class:`regbook.np.Linear`'s,
    or the :class:`regbook.np.AddChannel` of a CNN) and outputs (the last ``n_out``)."""
    leaves = _leaves([model])
    n_in = getattr(leaves[0], "n_in", None) if leaves else None
    n_out = next((layer.n_out for layer in reversed(leaves) if hasattr(layer, "n_out")), None)
    return n_in, n_out


def _check_features(model, X: np.ndarray, name: str) -> None:
    n_in, _ = n_inputs_outputs(model)
    if n_in is not None and X.shape[1] != n_in:
        raise ValueError(f"{name} has {X.shape[1]} features but the model's first layer "
                         f"expects n_in={n_in}")


# --- evaluation ------------------------------------------------------------------------------

def predict_logits(model, X: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
    """Logits of ``model`` in evaluation mode (``training=False``) for a batch ``X`` ``(n, d)``.

    ``X`` is converted to float32 (the toolkit's default dtype) and run ``batch_size`` rows at
    a time; the result has the model's output dtype, shape ``(n, n_outputs)``.
    """
    check_model(model)
    X = check_array(X, "X", ndim=2, dtype=np.float32)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    _check_features(model, X, "X")
    return _logits(model, X, batch_size)


def _logits(model, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    return np.concatenate([model.forward(X[i:i + batch_size], training=False)
                           for i in range(0, len(X), batch_size)])


def _loss_accuracy(model, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    logits = _logits(model, X)
    loss, _ = softmax_cross_entropy(logits, y)
    return float(loss), float(np.mean(logits.argmax(axis=1) == y))


def evaluate_classifier(model, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    r"""Mean cross-entropy and accuracy of ``model`` in evaluation mode, as Python floats.

    .. math:: L = -\frac1n \sum_i \log \operatorname{softmax}(f(x_i))_{y_i}, \qquad
              \text{acc} = \frac1n \sum_i [\arg\max_k f(x_i)_k = y_i]
    """
    check_model(model)
    X, y = check_Xy(X, y, y_dtype=np.int64)
    X = X.astype(np.float32)
    _check_features(model, X, "X")
    _, n_out = n_inputs_outputs(model)
    if n_out is not None:
        check_labels(y, "y", n_out)
    return _loss_accuracy(model, X, y)


# --- the classifier loop ---------------------------------------------------------------------

@_signatures.implements(_signatures.fit_classifier)
def fit_classifier(model, X_train, y_train, **options) -> History:
    r"""Train a NumPy classifier in place on the penalised mean softmax cross-entropy.

    Each mini-batch :math:`B` takes one optimizer step on

    .. math:: J(\theta) = -\frac{1}{|B|}\sum_{i \in B} \sum_c q_{ic}
              \log \operatorname{softmax}(f_\theta(x_i))_c
              + \lambda_1 \sum_W \sum_j |W_j| + \frac{\lambda_2}{2} \sum_W \sum_j W_j^2

    (:func:`train_step`), the penalties over the parameters chosen by ``decay_scope``, with
    the targets :math:`q_i = (1 - \varepsilon)\,\text{onehot}(y_i) + \varepsilon / C`
    (``label_smoothing`` :math:`= \varepsilon`; one-hot at the default 0). The
    examples are visited in a fresh permutation each epoch drawn from
    ``numpy.random.default_rng(seed)`` (the same batches as :func:`regbook.torch.fit_classifier`
    and :func:`regbook.tf.fit_classifier`); a last batch of a single example is skipped
    (:func:`regbook._training.minibatches`). Dropout masks come from the layers' own
    generators; no global generator is used. Features are float32 (``augment`` receives and
    returns float32 batches).

    ``optimizer`` may also be a :class:`regbook.np.SGD`, :class:`~regbook.np.Adam` or
    :class:`~regbook.np.AdamW` object, which carries its own settings (``lr``, ``momentum``
    and ``weight_decay`` must then be left at their defaults) and its state across calls. The
    model is any object with the toolkit's layer protocol (usually :func:`regbook.np.make_mlp`
    or :func:`regbook.np.make_cnn`); ``decay_scope="weights"`` means its Linear ``W`` and
    Conv1d ``w`` kernels (:func:`regbook.np.split_decay_params`).

    Returns
    -------
    regbook.History
        ``loss`` and ``accuracy`` on the training set after each epoch (evaluation mode, data
        loss only: the plain cross-entropy, unsmoothed whatever ``label_smoothing``),
        ``val_loss`` and ``val_accuracy`` with validation data; ``stopped_epoch``,
        ``best_epoch``, ``restored``.
    """
    check_model(model)
    if not isinstance(options["optimizer"], str):
        _check_left_at_defaults(options["optimizer"], lr=options["lr"],
                                momentum=options["momentum"], weight_decay=options["weight_decay"])
    a = check_fit_classifier_args(X_train, y_train, **options, allow_optimizer_object=True)
    opt = a["optimizer"] if not isinstance(a["optimizer"], str) else make_optimizer(
        a["optimizer"], lr=a["lr"], momentum=a["momentum"], weight_decay=a["weight_decay"])
    train, validation = (a["X_train"], a["y_train"]), a["validation"]
    _, n_out = n_inputs_outputs(model)
    checks = [("train", train)] + ([("val", validation)] if validation is not None else [])
    for part, (X, y) in checks:                   # before any step changes the model
        _check_features(model, X, f"X_{part}")
        if n_out is not None:
            check_labels(y, f"y_{part}", n_out)
    decay = decay_names(model, a["decay_scope"])
    data_loss = softmax_cross_entropy if not a["label_smoothing"] else functools.partial(
        softmax_cross_entropy, label_smoothing=a["label_smoothing"])

    def step(idx: np.ndarray, X_batch: np.ndarray | None = None) -> None:
        X_batch = train[0][idx] if X_batch is None else X_batch     # augmented, when given
        train_step(model, opt, X_batch, train[1][idx], data_loss=data_loss,
                   lam1=a["lam1"], lam2=a["lam2"], decay=decay)

    return run_epochs(
        n=len(train[0]), epochs=a["epochs"], batch_size=a["batch_size"], seed=a["seed"],
        step=step, evaluate=lambda X, y: _loss_accuracy(model, X, y), train=train,
        validation=validation, early_stopping=a["early_stopping"], monitor=a["monitor"],
        progress=a["progress"], get_weights=lambda: model.get_weights(),
        set_weights=lambda weights: model.set_weights(weights), augment=a["augment"],
        features=train[0])


def _check_left_at_defaults(optimizer, **settings) -> None:
    """An optimizer object carries its own settings: refuse them given twice."""
    changed = [name for name, value in settings.items() if value != _OPTIMIZER_DEFAULTS[name]]
    if changed:
        raise ValueError(f"{', '.join(changed)} must be left at their defaults when optimizer "
                         f"is an object ({type(optimizer).__name__}): set them on it")
