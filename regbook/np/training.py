r"""Mini-batch training of a NumPy classifier (the from-scratch twin of the framework loops)."""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_classification_data, check_int
from regbook.np.losses import softmax_cross_entropy

__all__ = ["fit_classifier", "predict_logits", "evaluate_classifier"]

_MONITORS = ("loss", "accuracy", "val_loss", "val_accuracy")


def predict_logits(model, X: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
    """Logits of ``model`` in evaluation mode (``training=False``) for a batch ``X`` ``(n, d)``."""
    X = check_array(X, "X", ndim=2, dtype=np.float32)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    parts = [model.forward(X[i:i + batch_size], training=False)
             for i in range(0, len(X), batch_size)]
    return np.concatenate(parts)


def evaluate_classifier(model, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    r"""Mean cross-entropy and accuracy of ``model`` in evaluation mode.

    .. math:: L = -\frac1n \sum_i \log \operatorname{softmax}(f(x_i))_{y_i}, \qquad
              \text{acc} = \frac1n \sum_i [\arg\max_k f(x_i)_k = y_i]
    """
    logits = predict_logits(model, X)
    loss, _ = softmax_cross_entropy(logits, np.asarray(y))
    return loss, float(np.mean(logits.argmax(axis=1) == y))


def fit_classifier(
    model,
    optimizer,
    X_train: np.ndarray,
    y_train: np.ndarray,
    *,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    epochs: int = 100,
    batch_size: int = 32,
    seed: int = 0,
    early_stopping=None,
    monitor: str = "val_loss",
    progress: bool = False,
) -> dict[str, list[float]]:
    r"""Train ``model`` with ``optimizer`` on the mean softmax cross-entropy, in mini-batches.

    .. math:: L(\theta) = -\frac{1}{|B|}\sum_{i \in B}
              \log \operatorname{softmax}(f_\theta(x_i))_{y_i}

    Each step: forward in training mode, :func:`regbook.np.softmax_cross_entropy`, backward,
    ``optimizer.step(model)``. The examples are reshuffled every epoch by
    ``numpy.random.default_rng(seed)``; dropout masks come from the layers' own generators.
    Features are float32 (the toolkit's default dtype).

    Parameters
    ----------
    model : regbook.np.Sequential (or any object with the layer protocol)
    optimizer : regbook.np.SGD or regbook.np.Adam
    X_train, y_train : numpy.ndarray
        Features ``(n, d)`` and integer labels ``(n,)``.
    X_val, y_val : numpy.ndarray, optional
        Validation data (both or neither).
    epochs, batch_size : int
        Number of passes over the data and examples per step. The last batch of an epoch may be
        smaller; a last batch of a single example is skipped, since training-mode batch norm
        cannot normalise one example (PyTorch's ``DataLoader(drop_last=...)`` has the same
        concern).
    seed : int
        Seed of the shuffling.
    early_stopping : regbook.EarlyStopping, optional
        Reset at the start (as Keras does in ``on_train_begin``), then after each epoch
        ``early_stopping.update(history[monitor][-1], weights=model.get_weights())``;
        training stops when it returns ``True``. At the end, if
        ``early_stopping.restore_best_weights`` and it holds best weights, they are restored
        (as Keras 3 does, even without an early stop).
    monitor : {"val_loss", "val_accuracy", "loss", "accuracy"}
        The history entry passed to ``early_stopping``.
    progress : bool
        Show a tqdm progress bar over the epochs.

    Returns
    -------
    dict
        Per-epoch lists with Keras's keys: ``loss`` and ``accuracy`` on the training set
        (measured after the epoch, in evaluation mode), and ``val_loss`` and ``val_accuracy``
        when validation data are given -- the same meaning as
        :func:`regbook.torch.fit_classifier`.
    """
    X_train, y_train, validation = check_classification_data(X_train, y_train, X_val, y_val)
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    if monitor not in _MONITORS:
        raise ValueError(f"monitor must be one of {_MONITORS}, got {monitor!r}")
    if early_stopping is not None and monitor.startswith("val_") and validation is None:
        raise ValueError(f"monitor={monitor!r} needs X_val and y_val")
    if not hasattr(optimizer, "step"):
        raise TypeError(f"optimizer must have a step(model) method, got {type(optimizer).__name__}")
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    if validation is not None:
        history.update(val_loss=[], val_accuracy=[])
    epoch_iter = range(epochs)
    if progress:
        from tqdm import tqdm  # plain tqdm: tqdm.auto needs ipywidgets in Jupyter
        epoch_iter = tqdm(epoch_iter, desc="epochs")
    if early_stopping is not None:
        early_stopping.reset()
    n = len(X_train)
    for _ in epoch_iter:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            if len(idx) == 1 and n > 1:
                continue  # see batch_size above
            logits = model.forward(X_train[idx], training=True)
            _, dlogits = softmax_cross_entropy(logits, y_train[idx])
            model.backward(dlogits)
            optimizer.step(model)
        _record(history, "", evaluate_classifier(model, X_train, y_train))
        if validation is not None:
            _record(history, "val_", evaluate_classifier(model, *validation))
        if early_stopping is not None and early_stopping.update(
                history[monitor][-1], weights=model.get_weights()):
            break
    if (early_stopping is not None and early_stopping.restore_best_weights
            and early_stopping.best_weights is not None):
        model.set_weights(early_stopping.best_weights)
    return history


def _record(history: dict[str, list[float]], prefix: str, values: tuple[float, float]) -> None:
    history[prefix + "loss"].append(values[0])
    history[prefix + "accuracy"].append(values[1])
