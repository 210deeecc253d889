r"""Many seeds in Keras: :func:`fit_seeds` trains the K models one after the other.

The NumPy and PyTorch backends train the K members of ``fit_seeds`` together, batched over a
leading model axis. Keras has no counterpart of ``torch.func.stack_module_state`` and
``vmap`` over a model's variables, so this backend keeps the shared signature and loops over
the seeds with :func:`regbook.tf.fit_classifier` (the issue allows it): the same numbers as K
single runs by construction, dropout included, at K times the cost of one run.
"""

from __future__ import annotations

import keras
import numpy as np

from regbook import _signatures, _stacked
from regbook._stacked import build_members, check_fit_seeds_args
from regbook._validate import check_labels
from regbook.history import History
from regbook.tf.training import _check_model, _n_outputs, fit_classifier

__all__ = ["fit_seeds"]

#: Layer settings that define an architecture (seeds, names and initializers do not).
_SETTINGS = ("units", "filters", "kernel_size", "strides", "padding", "rate", "p",
             "target_shape", "dims", "momentum", "epsilon", "eps", "num_features")


def _architecture(model: keras.Model) -> list[tuple]:
    """Layer by layer: the class, its settings, its variables' shapes and dtypes."""
    return [(type(layer).__name__,
             [(a, repr(getattr(layer, a))) for a in _SETTINGS if hasattr(layer, a)],
             [(tuple(v.shape), str(v.dtype), v.trainable) for v in layer.weights])
            for layer in model.layers]


def _state(model: keras.Model) -> list:
    return list(model.weights)


@_signatures.implements(_stacked.fit_seeds)
def fit_seeds(make_model, X_train, y_train,
              **options) -> tuple[list[keras.Model], list[History]]:
    r"""Train one Keras model per seed, one after the other; exactly K single runs.

    For each seed :math:`s_k`, in order, ``model = make_model(s_k)`` and
    :func:`regbook.tf.fit_classifier` ``(model, X_train, y_train, ..., seed=s_k)`` with the same
    other arguments -- the loop the NumPy and PyTorch backends replace by one stacked run. Every
    argument is checked, and every member built and checked to have the same architecture,
    before the first member trains. Without early stopping, as in the other backends: for
    early stopping call :func:`regbook.tf.fit_classifier` per seed, or pick the best epoch from
    the returned histories.

    Returns
    -------
    (list of keras.Model, list of regbook.History)
        ``models[k]`` is ``make_model(seeds[k])``, trained; ``histories[k]`` its
        :func:`regbook.tf.fit_classifier` history.
    """
    a = check_fit_seeds_args(make_model, X_train, y_train, **options, dtype=np.float64,
                             model_type=keras.layers.Layer)
    models = build_members(make_model, a["seeds"], check=_check_model,
                           architecture=_architecture, state=_state)
    n_classes = _n_outputs(models[0], a["X_train"], "X_train")
    check_labels(a["y_train"], "y_train", n_classes)
    if a["validation"] is not None:
        check_labels(a["validation"][1], "y_val", n_classes)
    single = {key: value for key, value in options.items() if key != "seeds"}
    histories = [fit_classifier(model, a["X_train"], a["y_train"], seed=seed, **single)
                 for model, seed in zip(models, a["seeds"])]
    return models, histories
