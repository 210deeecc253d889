"""PyTorch backend: the book's methods with ``torch`` (imported when this module is).

Mirrors :mod:`regbook.np` and :mod:`regbook.tf`: the same names for the same ideas.
``import regbook`` does not load this module; ``import regbook.torch`` (or touching
``regbook.torch``) does, and that is when PyTorch is imported.
"""

from regbook.torch.mlp import fit_classifier, make_mlp, predict_logits

__all__ = ["make_mlp", "fit_classifier", "predict_logits"]

# Each topic adds its names below, in its own block (keep blocks separate to avoid conflicts).
# --- L1 / L2 (penalties, weight decay, optimizers) ---
# --- dropout / batch norm ---
# --- early stopping / training loops ---
