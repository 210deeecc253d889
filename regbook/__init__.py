"""regbook: the helper package of an executable textbook on regularization.

Layout (one guess should find anything):

- :mod:`regbook.np`    -- NumPy from scratch, hand-written gradients (imports only NumPy).
- :mod:`regbook.torch` -- the same ideas in PyTorch (imports ``torch`` when first imported).
- :mod:`regbook.tf`    -- the same ideas in TensorFlow/Keras (imports ``tensorflow`` when first
  imported).
- :mod:`regbook.data`  -- deterministic, offline data sets (synthetic and scikit-learn's bundled).
- :mod:`regbook.plot`  -- the book's one matplotlib look.
- :mod:`regbook.backends` -- the one vocabulary the three backends share (and its allow-list).
- :mod:`regbook.ablation` -- a measured ablation of regularizers, for any backend.
- :mod:`regbook.convert` -- every scale factor between the book, Keras, PyTorch, scikit-learn.
- :mod:`regbook.notebook` -- a chapter's one set-up line, :func:`regbook.notebook.setup`.
- :class:`regbook.History`, :class:`regbook.FitPath` -- what training returns, in any backend.
- :func:`regbook.seed_everything` -- seed Python, NumPy and any loaded framework (notebooks
  only: regbook's own functions take explicit seeds and never reseed global generators).
- :class:`regbook.EarlyStopping` -- Keras 3's early stopping rule, for any training loop.

``import regbook`` never imports TensorFlow or PyTorch: the backends are loaded on first
attribute access (``regbook.torch``) or an explicit ``import regbook.torch``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from regbook.early_stopping import EarlyStopping
from regbook.history import FitPath, History
from regbook.seeding import seed_everything

__version__ = "0.1.0"

_LAZY_SUBMODULES = {"np", "torch", "tf", "data", "plot", "model_selection", "convert", "stats",
                    "calibration", "ensembles", "notebook", "backends", "ablation",
                    "objectives"}

__all__ = ["EarlyStopping", "History", "FitPath", "seed_everything", "__version__",
           *sorted(_LAZY_SUBMODULES)]


def __getattr__(name: str) -> ModuleType:
    # PEP 562: load a submodule (and its framework) only when a reader first touches it.
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"regbook.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'regbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_SUBMODULES)
