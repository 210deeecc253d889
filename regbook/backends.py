r"""The one vocabulary of :mod:`regbook.np`, :mod:`regbook.torch` and :mod:`regbook.tf`.

A reader switches frameworks by switching one import::

    import regbook.np as backend      # or regbook.torch, or regbook.tf
    model = backend.make_mlp(40, (100,), 10, dropout=0.2, seed=0)
    history = backend.fit_classifier(model, X_train, y_train, X_val=X_val, y_val=y_val,
                                     lam2=1e-3, epochs=30, seed=0)

:data:`SHARED` lists the names every backend defines with the same parameter names
(``tests/test_vocabulary.py`` compares their signatures); :data:`EXTRAS` is the allow-list of
parameters one backend has beyond the shared ones; :data:`ONLY` lists the names that exist in
one backend on purpose. Imports nothing heavy: :func:`get` loads a backend on request.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["BACKENDS", "SHARED", "EXTRAS", "ONLY", "get"]

#: The backends, by the name of their module under ``regbook``.
BACKENDS = ("np", "torch", "tf")

#: idea -> the name it has in every backend.
SHARED = {
    "multilayer perceptron": "make_mlp",
    "linear model": "make_linear",
    "train a classifier": "fit_classifier",
    "train one model per seed, all seeds at once": "fit_seeds",
    "logits in evaluation mode": "predict_logits",
    "loss and accuracy in evaluation mode": "evaluate_classifier",
    "train on a loss plus L1/L2": "fit_penalized",
    "penalised linear regression, every step": "fit_linear",
    "dropout layer": "Dropout",
    "batch-norm layer (PyTorch's convention)": "BatchNorm",
    "layer-norm layer (over the last axis)": "LayerNorm",
    "1-D convolutional network (MNIST-1D's)": "make_cnn",
    "L1 penalty": "l1_penalty",
    "L2 penalty": "l2_penalty",
    "weights vs. biases and norm parameters": "split_decay_params",
}

#: (name, backend) -> parameters that backend has beyond the shared signature, and why.
EXTRAS = {
    ("fit_classifier", "tf"): {
        "callbacks": "Keras callbacks (e.g. keras.callbacks.EarlyStopping)"},
    ("Dropout", "np"): {"rng": "a numpy Generator instead of a seed",
                        "scaling": "the original paper's scaling, shown in the dropout chapter"},
    ("Dropout", "tf"): {"kwargs": "keras.layers.Layer's name, dtype, ..."},
    ("BatchNorm", "tf"): {"kwargs": "keras.layers.Layer's name, dtype, ..."},
    ("LayerNorm", "tf"): {"kwargs": "keras.layers.Layer's name, dtype, ..."},
}

#: backend -> names that exist only there, on purpose (framework-specific ideas).
ONLY = {
    "torch": {"param_groups": "torch.optim parameter groups",
              "mask_from_ones": "read a framework layer's dropout mask"},
    "tf": {"KerasBatchNorm": "Keras's own batch-norm convention, shown on purpose",
           "l1_regularizer": "Keras regularizer objects", "l2_regularizer": "",
           "l1_l2_regularizer": "", "set_kernel_regularizers": "",
           "exclude_from_weight_decay": "Keras optimizers' decay scope",
           "make_augmenter": "Keras preprocessing layers", "apply_augmenter": "",
           "mask_from_ones": "read a framework layer's dropout mask"},
}


def get(backend: str | ModuleType) -> ModuleType:
    """The backend module for ``"np"``, ``"torch"`` or ``"tf"`` (a module is returned as is)."""
    if isinstance(backend, ModuleType):
        if backend.__name__ not in {f"regbook.{b}" for b in BACKENDS}:
            raise ValueError(f"backend must be one of regbook.np, regbook.torch, regbook.tf, "
                             f"got module {backend.__name__}")
        return backend
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or one of their modules, got "
                         f"{backend!r}")
    return importlib.import_module(f"regbook.{backend}")
