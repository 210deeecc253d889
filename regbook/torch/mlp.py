"""A small multilayer perceptron classifier and its training loop in PyTorch."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from regbook._validate import (
    check_array,
    check_classification_data,
    check_float,
    check_int,
)
from regbook.early_stopping import EarlyStopping
from regbook.seeding import seed_everything

__all__ = ["make_mlp", "fit_classifier", "predict_logits"]


def make_mlp(
    n_inputs: int, hidden: Sequence[int] = (128,), n_classes: int = 10, *, seed: int = 0
) -> nn.Sequential:
    r"""A ReLU MLP ``Linear -> ReLU -> ... -> Linear`` returning logits.

    .. math:: h_0 = x,\quad h_\ell = \max(0, W_\ell h_{\ell-1} + b_\ell),\quad
              \text{logits} = W_L h_{L-1} + b_L

    Weights use PyTorch's default initialisation, drawn after seeding with ``seed`` so the same
    seed gives the same network. The model is float32, on the CPU.
    """
    n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    widths = [check_int(h, "hidden[i]", minimum=1) for h in hidden]
    seed_everything(seed)
    layers: list[nn.Module] = []
    fan_in = n_inputs
    for width in widths:
        layers += [nn.Linear(fan_in, width), nn.ReLU()]
        fan_in = width
    layers.append(nn.Linear(fan_in, n_classes))
    return nn.Sequential(*layers)


def predict_logits(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Logits of ``model`` in evaluation mode for a NumPy batch ``X`` ``(n, d)``."""
    X = check_array(X, "X", ndim=2, dtype=np.float32)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(X)).numpy()
    model.train(was_training)
    return out


def _loss_and_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        logits = model(X)
        loss = nn.functional.cross_entropy(logits, y).item()
        acc = (logits.argmax(dim=1) == y).float().mean().item()
    model.train()
    return loss, acc


def fit_classifier(
    model: nn.Module,
    X_train: np.ndarray,
    y_train: np.ndarray,
    *,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    epochs: int = 100,
    lr: float = 1e-3,
    batch_size: int = 32,
    weight_decay: float = 0.0,
    seed: int = 0,
    early_stopping: EarlyStopping | None = None,
    monitor: str = "val_loss",
    progress: bool = False,
) -> dict[str, list[float]]:
    r"""Train a classifier with Adam on the mean softmax cross-entropy, in mini-batches.

    .. math:: L(\theta) = -\frac{1}{n}\sum_i \log \operatorname{softmax}(f_\theta(x_i))_{y_i}

    The examples are reshuffled every epoch by a generator seeded with ``seed``, so a re-run
    gives the same numbers. ``weight_decay`` is passed to ``torch.optim.Adam`` (coupled L2,
    see the conventions).

    Parameters
    ----------
    early_stopping : regbook.EarlyStopping, optional
        Reset at the start (as Keras does in ``on_train_begin``), then after each epoch
        ``early_stopping.update(history[monitor][-1], weights=model.state_dict())``; training
        stops when it returns ``True``. At the end, if ``early_stopping.restore_best_weights``
        and it holds best weights (a deep copy of the best epoch's ``state_dict``), they are
        loaded back into ``model`` -- even without an early stop, as Keras 3 does.
    monitor : {"val_loss", "val_accuracy", "loss", "accuracy"}
        The history entry passed to ``early_stopping`` (``val_*`` needs validation data).
    progress : bool
        Show a tqdm progress bar over the epochs (off by default).

    Returns
    -------
    dict
        Per-epoch lists with Keras's key names: ``loss`` and ``accuracy`` on the training set
        (evaluated after the epoch, in evaluation mode), and ``val_loss`` and ``val_accuracy``
        when validation data are given.
    """
    X_train, y_train, validation = check_classification_data(X_train, y_train, X_val, y_val)
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_float(lr, "lr", minimum=0.0, include_min=False)
    weight_decay = check_float(weight_decay, "weight_decay", minimum=0.0)
    _check_early_stopping(early_stopping, monitor, validation is not None)
    progress = _check_bool(progress, "progress")
    X_tr, y_tr = torch.from_numpy(X_train), torch.from_numpy(y_train)
    if validation is not None:
        validation = tuple(torch.from_numpy(a) for a in validation)
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    if validation is not None:
        history.update(val_loss=[], val_accuracy=[])
    if early_stopping is not None:
        early_stopping.reset()
    model.train()
    for _ in tqdm(range(epochs), desc="epochs", disable=not progress):
        order = torch.randperm(len(X_tr), generator=gen)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(X_tr[idx]), y_tr[idx])
            loss.backward()
            optimizer.step()
        _record(history, "", _loss_and_accuracy(model, X_tr, y_tr))
        if validation is not None:
            _record(history, "val_", _loss_and_accuracy(model, *validation))
        if early_stopping is not None and early_stopping.update(
                history[monitor][-1], weights=model.state_dict()):
            break
    if (early_stopping is not None and early_stopping.restore_best_weights
            and early_stopping.best_weights is not None):
        model.load_state_dict(early_stopping.best_weights)
    return history


_MONITORS = ("loss", "accuracy", "val_loss", "val_accuracy")


def _check_early_stopping(early_stopping, monitor: str, has_validation: bool) -> None:
    if early_stopping is None:
        return
    if not isinstance(early_stopping, EarlyStopping):
        raise TypeError("early_stopping must be a regbook.EarlyStopping or None, got "
                        f"{type(early_stopping).__name__}")
    if monitor not in _MONITORS:
        raise ValueError(f"monitor must be one of {_MONITORS}, got {monitor!r}")
    if monitor.startswith("val_") and not has_validation:
        raise ValueError(f"monitor={monitor!r} needs X_val and y_val")


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def _record(history: dict[str, list[float]], prefix: str, values: tuple[float, float]) -> None:
    history[prefix + "loss"].append(values[0])
    history[prefix + "accuracy"].append(values[1])
