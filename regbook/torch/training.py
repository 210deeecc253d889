r"""Training and evaluating a PyTorch classifier: the book's one training loop.

:func:`fit_classifier` has the same arguments in :mod:`regbook.np`, :mod:`regbook.torch` and
:mod:`regbook.tf`; its validation, mini-batch order and epoch loop (history, early stopping) are
the framework-agnostic :mod:`regbook._training`, so this module supplies only the step, the
evaluation and the weight snapshots. The step's optimizer and penalised objective are the same
private helpers :func:`regbook.torch.fit_penalized` uses.
"""

from __future__ import annotations

import contextlib
import copy
import functools

import numpy as np
import torch
from torch import nn

from regbook import _signatures
from regbook._training import check_fit_classifier_args, run_epochs
from regbook._validate import check_array, check_classification_data, check_int, check_labels
from regbook.history import History
from regbook.torch.penalized import _decay_params, _make_optimizer, _penalized_loss, _step

__all__ = ["fit_classifier", "predict_logits", "evaluate_classifier"]


def _check_model(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        kind = f"{type(model).__module__}.{type(model).__qualname__}"
        raise TypeError(f"model must be a torch.nn.Module (e.g. from regbook.torch.make_mlp), "
                        f"got {kind}")
    if not any(True for _ in model.parameters()):
        raise ValueError("model has no parameters")
    return model


def _param(model: nn.Module) -> torch.Tensor:
    return next(model.parameters())


def _numpy_dtype(model: nn.Module) -> np.dtype:
    """The NumPy dtype of the model's parameters (float64 data for a float64 model)."""
    return np.dtype(str(_param(model).dtype).removeprefix("torch."))


def _to_tensor(model: nn.Module, X: np.ndarray) -> torch.Tensor:
    """``X`` as a tensor of the model's parameter dtype, on its device."""
    p = _param(model)
    return torch.as_tensor(X).to(dtype=p.dtype, device=p.device)


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """Evaluation mode and ``no_grad`` for the block; the model's mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _expected_features(model: nn.Module) -> tuple[int, str] | None:
    """The feature count a Sequential's first layer fixes, and that layer in words (or None).

    A first ``Linear`` fixes its ``in_features``; a first ``Unflatten(1, shape)`` (the channel
    axis :func:`regbook.torch.make_cnn` adds) fixes the product of ``shape``.
    """
    first = next(iter(model.children()), None) if isinstance(model, nn.Sequential) else None
    if isinstance(first, nn.Linear):
        return first.in_features, "its first Linear's in_features"
    if isinstance(first, nn.Unflatten) and first.dim == 1:
        shape = tuple(first.unflattened_size)
        if all(isinstance(s, int) and s > 0 for s in shape):
            return int(np.prod(shape)), f"its first layer reshapes rows to {shape}"
    return None


def _n_outputs(model: nn.Module, X: torch.Tensor, X_name: str) -> int:
    """The model's number of outputs, from a forward pass on one row of ``X`` (evaluation mode).

    A feature count the model cannot take is a ``ValueError`` naming ``X_name``, before any
    training step (not PyTorch's "mat1 and mat2 shapes cannot be multiplied").
    """
    expected = _expected_features(model)
    if expected is not None and X.shape[1] != expected[0]:
        raise ValueError(f"{X_name} has {X.shape[1]} features but the model expects "
                         f"{expected[0]} ({expected[1]})")
    try:
        with _eval_mode(model):
            out = model(X[:1])
    except RuntimeError as err:
        raise ValueError(f"{X_name} has {X.shape[1]} features, which the model cannot take: "
                         f"{err}") from err
    if out.ndim != 2:
        raise ValueError(f"model must output logits of shape (n, n_classes), got shape "
                         f"{tuple(out.shape)} for one example")
    return out.shape[1]


def _logits(model: nn.Module, X: torch.Tensor, batch_size: int) -> torch.Tensor:
    with _eval_mode(model):
        return torch.cat([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


def _loss_and_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                       batch_size: int = 4096) -> tuple[float, float]:
    logits = _logits(model, X, batch_size)
    loss = nn.functional.cross_entropy(logits, y).item()
    return loss, (logits.argmax(dim=1) == y).double().mean().item()


def predict_logits(model: nn.Module, X: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
    r"""The logits :math:`f_\theta(x)` of ``model`` for a NumPy batch ``X``, in evaluation mode.

    Parameters
    ----------
    model : torch.nn.Module
    X : array_like, shape (n, d)
        Converted to the model's parameter dtype.
    batch_size : int
        Rows per forward pass (>= 1), to bound the memory.

    Returns
    -------
    numpy.ndarray, shape (n, n_classes)
        Of the model's dtype. The model's training/evaluation mode is restored afterwards.
    """
    model = _check_model(model)
    X = _to_tensor(model, check_array(X, "X", ndim=2))
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    _n_outputs(model, X, "X")
    return _logits(model, X, batch_size).cpu().numpy()


def evaluate_classifier(model: nn.Module, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    r"""Mean softmax cross-entropy and accuracy of ``model`` on ``(X, y)``, in evaluation mode.

    .. math:: L = -\frac{1}{n}\sum_i \log\operatorname{softmax}(f_\theta(x_i))_{y_i},\qquad
              \text{acc} = \frac{1}{n}\sum_i [\arg\max_k f_\theta(x_i)_k = y_i]

    Returns
    -------
    (float, float)
        The data loss (no penalty) and the accuracy, as Python floats; the model's mode is
        restored afterwards.
    """
    model = _check_model(model)
    X, y, _ = check_classification_data(X, y)
    Xt = _to_tensor(model, X)
    check_labels(y, "y", _n_outputs(model, Xt, "X"))
    return _loss_and_accuracy(model, Xt, torch.from_numpy(y).to(_param(model).device))


@_signatures.implements(_signatures.fit_classifier)
def fit_classifier(model, X_train, y_train, **options) -> History:
    r"""Train a PyTorch classifier in mini-batches on the cross-entropy plus the book's penalties.

    Each step minimises, on its batch :math:`B`,

    .. math:: J(\theta) = -\frac{1}{|B|}\sum_{i\in B}\sum_c q_{ic}\log\operatorname{softmax}
              (f_\theta(x_i))_c + \lambda_1\sum_W\lVert W\rVert_1
              + \frac{\lambda_2}{2}\sum_W\lVert W\rVert_2^2

    (:math:`q_i = (1 - \varepsilon)\,\text{onehot}(y_i) + \varepsilon / C`: PyTorch's
    ``F.cross_entropy(..., label_smoothing=eps)``, the plain one at ``label_smoothing=0``)
    over the parameters :math:`W` chosen by ``decay_scope``, with ``torch.optim.SGD``, ``Adam``
    or ``AdamW`` (betas (0.9, 0.999), eps 1e-8). The batches follow a NumPy permutation per
    epoch drawn from ``numpy.random.default_rng(seed)`` (a last batch of one is skipped), the
    same in every backend; dropout masks come from PyTorch's generator seeded with ``seed``
    inside ``torch.random.fork_rng``, so a re-run gives the same numbers and the caller's
    global generator is left as it was.

    The model is trained in training mode and left in the mode it was in before the call;
    early stopping is fed a deep copy of ``model.state_dict()``, loaded back when it restores.

    Returns
    -------
    regbook.History
        ``loss``, ``accuracy`` (training set, evaluation mode, after each epoch; data loss
        only, unsmoothed) and ``val_loss``, ``val_accuracy`` with validation data;
        ``stopped_epoch``, ``best_epoch``, ``restored``.
    """
    model = _check_model(model)
    a = check_fit_classifier_args(X_train, y_train, **options, dtype=_numpy_dtype(model))
    device = _param(model).device
    train = (_to_tensor(model, a["X_train"]), torch.from_numpy(a["y_train"]).to(device))
    n_classes = _n_outputs(model, train[0], "X_train")
    check_labels(a["y_train"], "y_train", n_classes)
    validation = None
    if a["validation"] is not None:
        X_v, y_v = a["validation"]
        check_labels(y_v, "y_val", n_classes)
        validation = (_to_tensor(model, X_v), torch.from_numpy(y_v).to(device))
    decay, no_decay = _decay_params(model, a["decay_scope"])
    opt = _make_optimizer(decay, no_decay, optimizer=a["optimizer"], lr=a["lr"],
                          momentum=a["momentum"], weight_decay=a["weight_decay"])
    was_training = model.training
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(a["seed"])
            return _train(model, opt, train, validation, decay, a)
    finally:
        model.train(was_training)


def _training_loss(label_smoothing: float):
    """The training data loss: ``F.cross_entropy``, with ``label_smoothing`` when it is > 0."""
    if not label_smoothing:
        return nn.functional.cross_entropy
    return functools.partial(nn.functional.cross_entropy, label_smoothing=label_smoothing)


def _train(model: nn.Module, opt: torch.optim.Optimizer, train, validation, decay: list,
           a: dict) -> History:
    # fit_classifier's step, evaluation and snapshots, handed to regbook._training.run_epochs.
    X, y = train
    loss = _training_loss(a["label_smoothing"])

    def step(idx: np.ndarray, X_batch: np.ndarray | None = None) -> None:
        idx = torch.from_numpy(idx).to(X.device)
        # the augmented NumPy batch, when given, as a tensor of the model's dtype
        X_b = X[idx] if X_batch is None else torch.from_numpy(X_batch).to(X.device, X.dtype)
        model.train()
        _step(opt, lambda: _penalized_loss(loss(model(X_b), y[idx]), decay, a["lam1"],
                                           a["lam2"]))

    return run_epochs(
        n=len(X), epochs=a["epochs"], batch_size=a["batch_size"], seed=a["seed"], step=step,
        evaluate=lambda X_, y_: _loss_and_accuracy(model, X_, y_), train=train,
        validation=validation, early_stopping=a["early_stopping"], monitor=a["monitor"],
        progress=a["progress"], get_weights=lambda: copy.deepcopy(model.state_dict()),
        set_weights=model.load_state_dict, augment=a["augment"], features=a["X_train"])
