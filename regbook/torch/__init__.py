"""PyTorch backend: the book's methods with ``torch`` (imported when this module is).

Mirrors :mod:`regbook.np` and :mod:`regbook.tf`: the same names for the same ideas.
``import regbook`` does not load this module; ``import regbook.torch`` (or touching
``regbook.torch``) does, and that is when PyTorch is imported.
"""

from regbook.torch.models import make_cnn, make_linear, make_mlp
from regbook.torch.training import evaluate_classifier, fit_classifier, predict_logits

__all__ = ["make_mlp", "make_cnn", "make_linear", "fit_classifier", "predict_logits",
           "evaluate_classifier"]

# Each topic adds its names below, in its own block (keep blocks separate to avoid conflicts).
# --- L1 / L2 (penalties, weight decay, optimizers) ---
from regbook.torch.penalized import fit_linear, fit_penalized  # noqa: E402
from regbook.torch.penalties import (  # noqa: E402
    l1_penalty,
    l2_penalty,
    param_groups,
    split_decay_params,
)

__all__ += ["l1_penalty", "l2_penalty", "split_decay_params", "param_groups",
            "fit_penalized", "fit_linear"]
# --- dropout / batch norm ---
from regbook.torch.dropout import Dropout, mask_from_ones  # noqa: E402

__all__ += ["Dropout", "mask_from_ones"]

from regbook.torch.batchnorm import BatchNorm  # noqa: E402

__all__ += ["BatchNorm"]

from regbook.torch.layernorm import LayerNorm  # noqa: E402

__all__ += ["LayerNorm"]

# --- many seeds at once (torch.func + vmap) ---
from regbook.torch.stacked import fit_seeds  # noqa: E402

__all__ += ["fit_seeds"]

# --- threads chosen by regbook.notebook.setup (REGBOOK_THREADS), whatever the import order ---
from regbook._threads import framework_threads as _framework_threads  # noqa: E402

_framework_threads("torch")
