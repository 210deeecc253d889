"""Framework-agnostic parts of every backend's training loops (imports no framework).

``fit_classifier`` and ``fit_penalized`` exist in :mod:`regbook.np`, :mod:`regbook.torch` and
:mod:`regbook.tf` with the same parameters. Their argument validation, the mini-batch order (a
NumPy permutation drawn from ``seed``, so every backend visits the same batches) and the epoch
loop with its history and early stopping live here once; a backend supplies only the step, the
evaluation and the weight snapshots (:func:`run_epochs`).
"""

from __future__ import annotations

import numpy as np

from typing import Any, Callable

from regbook._validate import (
    check_array,
    check_bool,
    check_choice,
    check_classification_data,
    check_float,
    check_int,
    check_seed,
)
from regbook.early_stopping import EarlyStopping
from regbook.history import History

#: Optimizer names accepted by ``fit_penalized`` in both backends.
OPTIMIZERS = ("sgd", "adam", "adamw")
#: Data losses accepted by ``fit_penalized``.
LOSSES = ("squared_error", "cross_entropy")
#: Which parameters ``weight_decay``, ``lam1`` and ``lam2`` act on: the weights (kernels; no
#: biases, no normalization parameters) or every trainable parameter.
DECAY_SCOPES = ("weights", "all")
#: History entries early stopping may monitor.
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")


def check_training_args(X, y, loss, optimizer, lr, momentum, eps, weight_decay, lam1, lam2,
                        epochs, batch_size, shuffle, seed) -> dict:
    """Validate ``fit_penalized``'s arguments; return them, converted, in a dict."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    X = check_array(X, "X", ndim=2)
    y = check_array(y, "y", ndim=1, dtype=np.float64 if loss == "squared_error" else np.int64)
    if loss == "cross_entropy" and np.any(y < 0):
        raise ValueError("y must hold class labels >= 0 for loss='cross_entropy'")
    if len(X) != len(y):
        raise ValueError(f"X and y lengths differ: {len(X)} and {len(y)}")
    momentum = check_float(momentum, "momentum", minimum=0.0, maximum=1.0, include_max=False)
    if momentum and optimizer != "sgd":
        raise ValueError(f"momentum applies to optimizer='sgd' only, got optimizer={optimizer!r}")
    shuffle = check_bool(shuffle, "shuffle")
    return dict(
        X=X, y=y, loss=loss, optimizer=optimizer, momentum=momentum, shuffle=shuffle,
        lr=check_float(lr, "lr", minimum=0.0, include_min=False),
        eps=None if eps is None else check_float(eps, "eps", minimum=0.0, include_min=False),
        weight_decay=check_float(weight_decay, "weight_decay", minimum=0.0),
        lam1=check_float(lam1, "lam1", minimum=0.0),
        lam2=check_float(lam2, "lam2", minimum=0.0),
        epochs=check_int(epochs, "epochs", minimum=1),
        batch_size=len(X) if batch_size is None else check_int(batch_size, "batch_size",
                                                               minimum=1),
        seed=check_seed(seed),
    )


def batch_order(n: int, epochs: int, *, shuffle: bool, seed: int) -> list[np.ndarray]:
    """The example order of each epoch: ``arange(n)`` or a NumPy permutation from ``seed``."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) if shuffle else np.arange(n) for _ in range(epochs)]


def check_fit_classifier_args(X_train, y_train, X_val, y_val, *, optimizer, lr, momentum,
                              weight_decay, lam1, lam2, decay_scope, epochs, batch_size, seed,
                              early_stopping, monitor, progress, augment=None,
                              label_smoothing=0.0, allow_optimizer_object: bool = False,
                              dtype=np.float32) -> dict:
    """Validate ``fit_classifier``'s arguments (all backends); return them converted, in a dict.

    ``allow_optimizer_object`` lets the NumPy backend accept an optimizer instance (anything
    with a ``step(model)`` method) besides the names in :data:`OPTIMIZERS`. Features are
    returned as ``dtype`` (the model's: a float64 model trains on float64 data); ``augment``
    is checked by :func:`check_augment`, ``label_smoothing`` by :func:`check_label_smoothing`.
    """
    augment = check_augment(augment)
    label_smoothing = check_label_smoothing(label_smoothing)
    X_train, y_train, validation = check_classification_data(X_train, y_train, X_val, y_val,
                                                             dtype=dtype)
    if allow_optimizer_object and not isinstance(optimizer, str):
        if not callable(getattr(optimizer, "step", None)):
            raise TypeError(f"optimizer must be one of {OPTIMIZERS} or an object with a "
                            f"step(model) method, got {type(optimizer).__name__}")
    else:
        check_choice(optimizer, "optimizer", OPTIMIZERS)
    momentum = check_float(momentum, "momentum", minimum=0.0, maximum=1.0, include_max=False)
    if momentum and optimizer != "sgd":
        raise ValueError(f"momentum applies to optimizer='sgd' only, got optimizer={optimizer!r}")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError("early_stopping must be a regbook.EarlyStopping or None, got "
                        f"{type(early_stopping).__name__}")
    check_choice(monitor, "monitor", MONITORS)
    if early_stopping is not None and monitor.startswith("val_") and validation is None:
        raise ValueError(f"monitor={monitor!r} needs X_val and y_val")
    return dict(
        X_train=X_train, y_train=y_train, validation=validation, optimizer=optimizer,
        lr=check_float(lr, "lr", minimum=0.0, include_min=False), momentum=momentum,
        weight_decay=check_float(weight_decay, "weight_decay", minimum=0.0),
        lam1=check_float(lam1, "lam1", minimum=0.0),
        lam2=check_float(lam2, "lam2", minimum=0.0),
        decay_scope=check_choice(decay_scope, "decay_scope", DECAY_SCOPES),
        epochs=check_int(epochs, "epochs", minimum=1),
        batch_size=check_int(batch_size, "batch_size", minimum=1),
        seed=check_seed(seed), early_stopping=early_stopping, monitor=monitor,
        progress=check_bool(progress, "progress"), augment=augment,
        label_smoothing=label_smoothing,
    )


def check_label_smoothing(label_smoothing) -> float:
    r"""``label_smoothing`` as a float :math:`\varepsilon \in [0, 1]` (``TypeError`` for a
    bool, a string or another non-number; ``ValueError`` for NaN or a value outside)."""
    return check_float(label_smoothing, "label_smoothing", minimum=0.0, maximum=1.0)


def check_augment(augment) -> Callable | None:
    """``augment`` as given: ``None`` or a callable ``augment(X_batch, rng) -> X_batch``."""
    if augment is not None and not callable(augment):
        raise TypeError("augment must be None or a callable augment(X_batch, rng) -> X_batch "
                        f"(NumPy arrays of one shape and dtype), got {type(augment).__name__}")
    return augment


def augment_rng(seed: int) -> np.random.Generator:
    """The augmentation generator of a run seeded ``seed``: ``default_rng([seed, 1])``.

    Independent of the batch order (``default_rng(seed)``), so augmenting leaves the batches
    as they were.
    """
    return np.random.default_rng([seed, 1])


def augmented_batch(augment: Callable, X_batch: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """``augment(X_batch, rng)``, refused unless a NumPy array of ``X_batch``'s shape and dtype.

    Called before the step, so a bad batch is refused before the model changes.
    """
    out = augment(X_batch, rng)
    if not isinstance(out, np.ndarray):
        raise ValueError(f"augment must return a NumPy array of shape {X_batch.shape} and dtype "
                         f"{X_batch.dtype}, got {type(out).__name__}")
    if out.shape != X_batch.shape or out.dtype != X_batch.dtype:
        raise ValueError(f"augment must return a batch of the shape and dtype it was given, "
                         f"{X_batch.shape} {X_batch.dtype}; got {out.shape} {out.dtype}")
    return out


def minibatches(order: np.ndarray, batch_size: int):
    """Consecutive slices of ``order`` of ``batch_size`` indices (the last may be shorter).

    A last batch of a single example is skipped when ``batch_size > 1``: training-mode batch
    norm cannot normalise one example (PyTorch refuses it), and PyTorch's
    ``DataLoader(drop_last=...)`` answers the same concern. With ``batch_size=1`` every batch
    is one example, as asked.
    """
    n = len(order)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        if len(idx) == 1 and batch_size > 1:
            continue
        yield idx


def run_epochs(
    *,
    n: int,
    epochs: int,
    batch_size: int,
    seed: int,
    step: Callable[[np.ndarray], Any],
    evaluate: Callable[[np.ndarray, np.ndarray], tuple[float, float]],
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray] | None,
    early_stopping: EarlyStopping | None,
    monitor: str,
    progress: bool,
    get_weights: Callable[[], Any],
    set_weights: Callable[[Any], None],
    on_epoch_end: Callable[[int, History], bool] | None = None,
    augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    features: np.ndarray | None = None,
) -> History:
    """The epoch loop every backend's ``fit_classifier`` runs.

    Each epoch visits the examples in a fresh permutation drawn from
    ``numpy.random.default_rng(seed)`` (:func:`minibatches`), calling ``step(indices)`` per
    batch; then records ``evaluate(*train)`` (and ``evaluate(*validation)``) in the
    :class:`~regbook.History`. ``early_stopping`` is reset first (as Keras does in
    ``on_train_begin``), fed ``history[monitor][-1]`` after each epoch (with ``get_weights()``
    when it restores), and its best weights are handed to ``set_weights`` at the end if it
    holds any -- even without an early stop, as Keras 3 does. ``on_epoch_end(epoch, history)``,
    when given, is called after each epoch's record (and early stopping's update); training
    stops when it returns True (the Keras backend drives Keras callbacks with it).

    With ``augment``, every batch's features are augmented afresh before its step:
    ``step(indices, augment(features[indices], rng))`` (checked by :func:`augmented_batch`),
    ``rng`` = :func:`augment_rng` ``(seed)``, one generator for the whole run, independent of
    the batch order. ``features`` are the training features as a NumPy array of the model's
    dtype. Evaluation data are never augmented.
    """
    history = History(validation is not None)
    rng = np.random.default_rng(seed)
    aug_rng = augment_rng(seed) if augment is not None else None
    epoch_iter = range(epochs)
    if progress:
        from tqdm import tqdm  # plain tqdm: tqdm.auto needs ipywidgets in Jupyter

        epoch_iter = tqdm(epoch_iter, desc="epochs")
    if early_stopping is not None:
        early_stopping.reset()
    for epoch in epoch_iter:
        for idx in minibatches(rng.permutation(n), batch_size):
            if augment is None:
                step(idx)
            else:
                step(idx, augmented_batch(augment, features[idx], aug_rng))
        history.record("", *evaluate(*train))
        if validation is not None:
            history.record("val_", *evaluate(*validation))
        stop = False
        if early_stopping is not None:
            weights = get_weights() if early_stopping.restore_best_weights else None
            stop = early_stopping.update(history[monitor][-1], weights=weights)
        if on_epoch_end is not None:
            stop = bool(on_epoch_end(epoch, history)) or stop
        if stop:
            history.stopped_epoch = epoch
            break
    if early_stopping is not None:
        history.best_epoch = early_stopping.best_epoch
        if early_stopping.restore_best_weights and early_stopping.best_weights is not None:
            set_weights(early_stopping.best_weights)
            history.restored = True
    return history


def linear_fit_path(make_linear: Callable, fit_penalized: Callable, X, y, coef_init,
                    intercept_init, kwargs: dict):
    """Every backend's ``fit_linear``: a linear model trained by its ``fit_penalized``.

    Builds ``make_linear(d, coef=coef_init, intercept=intercept_init)``, trains it on the
    squared error with every step's weights recorded, and returns ``(model, FitPath)`` with
    the book's objective (:func:`regbook.objectives.lasso_objective`) at every iterate. The
    linear model's weights list ``[w (as a row or a column), b]`` in every backend.
    """
    from regbook.history import FitPath
    from regbook.objectives import _lasso_objective

    X = check_array(X, "X", ndim=2)
    if "loss" in kwargs or "record_weights" in kwargs:
        raise TypeError("fit_linear sets loss and record_weights itself")
    model = make_linear(X.shape[1], coef=coef_init, intercept=intercept_init)
    history = fit_penalized(model, X, y, loss="squared_error", record_weights=True, **kwargs)
    coef = np.stack([w[0].reshape(-1) for w in history["weights"]])
    intercept = np.array([float(w[1].reshape(-1)[0]) for w in history["weights"]])
    y = np.asarray(y, dtype=np.float64)
    lam1, lam2 = kwargs.get("lam1", 0.0), kwargs.get("lam2", 0.0)
    losses = np.array([_lasso_objective(X, y, c, b, lam1, lam2)
                       for c, b in zip(coef, intercept)])
    return model, FitPath(coefs=coef, intercepts=intercept, losses=losses,
                          lr=kwargs.get("lr", 0.1))
