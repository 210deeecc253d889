"""regbook: the helper package of an executable textbook on regularization.

Layout (one guess should find anything):

- :mod:`regbook.np`    -- NumPy from scratch, hand-written gradients (imports only NumPy).
- :mod:`regbook.torch` -- the same ideas in PyTorch (imports ``torch`` when first imported).
- :mod:`regbook.tf`    -- the same ideas in TensorFlow/Keras (imports ``tensorflow`` when first
  imported).
- :mod:`regbook.data`  -- deterministic, offline data sets (synthetic and scikit-learn's bundled).
- :mod:`regbook.plot`  -- the book's one matplotlib look.
- :func:`regbook.seed_everything` -- seed Python, NumPy and any loaded framework.
- :class:`regbook.EarlyStopping` -- Keras 3's early stopping rule, for any training loop.

``import regbook`` never imports TensorFlow or PyTorch: the backends are loaded on first
attribute access (``regbook.torch``) or an explicit ``import regbook.torch``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from regbook.early_stopping import EarlyStopping
from regbook.seeding import seed_everything

__version__ = "0.1.0"

__all__ = ["EarlyStopping", "seed_everything", "__version__", "np", "torch", "tf", "data", "plot",
           "model_selection"]

_LAZY_SUBMODULES = {"np", "torch", "tf", "data", "plot", "model_selection"}


def __getattr__(name: str) -> ModuleType:
    # PEP 562: load a submodule (and its framework) only when a reader first touches it.
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"regbook.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'regbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_SUBMODULES)
