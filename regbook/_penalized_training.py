"""Framework-agnostic parts of ``fit_penalized`` in :mod:`regbook.torch` and :mod:`regbook.tf`.

Argument validation and the mini-batch order live here once, so both backends accept the same
arguments and visit the examples in the same order (a NumPy permutation drawn from ``seed``).
Imports no framework.
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_array, check_float, check_int

#: Optimizer names accepted by ``fit_penalized`` in both backends.
OPTIMIZERS = ("sgd", "adam", "adamw")
#: Data losses accepted by ``fit_penalized``.
LOSSES = ("squared_error", "cross_entropy")


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
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be a bool, got {type(shuffle).__name__}")
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
        seed=check_int(seed, "seed", minimum=0),
    )


def batch_order(n: int, epochs: int, *, shuffle: bool, seed: int) -> list[np.ndarray]:
    """The example order of each epoch: ``arange(n)`` or a NumPy permutation from ``seed``."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) if shuffle else np.arange(n) for _ in range(epochs)]
