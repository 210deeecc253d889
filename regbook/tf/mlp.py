"""A small multilayer perceptron classifier and its training loop in Keras."""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

from regbook._validate import (
    check_array,
    check_classification_data,
    check_float,
    check_int,
)
from regbook.seeding import seed_everything

__all__ = ["make_mlp", "fit_classifier", "predict_logits"]


def make_mlp(
    n_inputs: int, hidden: Sequence[int] = (128,), n_classes: int = 10, *, seed: int = 0
) -> keras.Sequential:
    r"""A ReLU MLP ``Dense(relu) -> ... -> Dense`` returning logits.

    .. math:: h_0 = x,\quad h_\ell = \max(0, h_{\ell-1} W_\ell + b_\ell),\quad
              \text{logits} = h_{L-1} W_L + b_L

    (Keras kernels are ``(in, out)``, hence :math:`hW` rather than PyTorch's :math:`Wh`.)
    Weights use Keras's default initialisation (Glorot uniform, zero biases), drawn after
    seeding with ``seed``. The model is float32.
    """
    n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    widths = [check_int(h, "hidden[i]", minimum=1) for h in hidden]
    seed_everything(seed)
    layers: list[keras.layers.Layer] = [keras.Input(shape=(n_inputs,))]
    layers += [keras.layers.Dense(width, activation="relu") for width in widths]
    layers.append(keras.layers.Dense(n_classes))
    return keras.Sequential(layers)


def predict_logits(model: keras.Model, X: np.ndarray) -> np.ndarray:
    """Logits of ``model`` in inference mode (``training=False``) for a NumPy batch ``X``."""
    X = check_array(X, "X", ndim=2, dtype=np.float32)
    return keras.ops.convert_to_numpy(model(X, training=False))


def _loss_and_accuracy(model: keras.Model, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    logits = predict_logits(model, X)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(len(y)), y].mean())
    return loss, float(np.mean(logits.argmax(axis=1) == y))


class _EpochRecorder(keras.callbacks.Callback):
    """Evaluate train (and validation) loss and accuracy in inference mode after each epoch.

    Keras's own ``history`` reports the running mean over the epoch's batches in training mode;
    measuring after the epoch matches what :func:`regbook.torch.fit_classifier` records.
    """

    def __init__(self, train: tuple, validation: tuple | None):
        super().__init__()
        self.train, self.validation = train, validation
        self.history: dict[str, list[float]] = {"loss": [], "accuracy": []}
        if validation is not None:
            self.history.update(val_loss=[], val_accuracy=[])

    def on_epoch_end(self, epoch, logs=None):
        for prefix, data in (("", self.train), ("val_", self.validation)):
            if data is not None:
                loss, acc = _loss_and_accuracy(self.model, *data)
                self.history[prefix + "loss"].append(loss)
                self.history[prefix + "accuracy"].append(acc)
                if logs is not None:
                    # Later callbacks (keras.callbacks.EarlyStopping, ...) receive this same
                    # dict, so they monitor exactly the numbers of the returned history.
                    logs[prefix + "loss"], logs[prefix + "accuracy"] = loss, acc


def fit_classifier(
    model: keras.Model,
    X_train: np.ndarray,
    y_train: np.ndarray,
    *,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    epochs: int = 100,
    lr: float = 1e-3,
    batch_size: int = 32,
    seed: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] | None = None,
    progress: bool = False,
) -> dict[str, list[float]]:
    r"""Train a classifier with Adam on the mean softmax cross-entropy using ``model.fit``.

    .. math:: L(\theta) = -\frac{1}{n}\sum_i \log \operatorname{softmax}(f_\theta(x_i))_{y_i}

    Keras shuffles the examples every epoch from its global seed, set here from ``seed``.

    Parameters
    ----------
    callbacks : list of keras.callbacks.Callback, optional
        Passed to ``model.fit`` after the callback that measures the history; that one writes
        its measurements into each epoch's ``logs`` under the history's keys, so Keras's own
        ``keras.callbacks.EarlyStopping(monitor="val_loss", restore_best_weights=True)`` stops
        on, and restores according to, exactly the values returned here (Keras's own
        ``loss`` log would otherwise be the running mean over the epoch's batches in training
        mode).
    progress : bool
        Show Keras's progress bar (``verbose=1``); off by default (``verbose=0``).

    Returns
    -------
    dict
        Per-epoch lists ``loss``, ``accuracy`` (training set, measured after each epoch in
        inference mode) and ``val_loss``, ``val_accuracy`` when validation data are given --
        the same keys and meaning as :func:`regbook.torch.fit_classifier`.
    """
    X_train, y_train, validation = check_classification_data(X_train, y_train, X_val, y_val)
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_float(lr, "lr", minimum=0.0, include_min=False)
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, keras.callbacks.Callback):
            raise TypeError(f"callbacks must hold keras.callbacks.Callback objects, got "
                            f"{type(cb).__name__}")
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__} {progress!r}")
    seed_everything(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    recorder = _EpochRecorder((X_train, y_train), validation)
    model.fit(X_train, y_train, epochs=epochs, batch_size=batch_size, shuffle=True,
              verbose=1 if progress else 0, callbacks=[recorder, *callbacks])
    return recorder.history
