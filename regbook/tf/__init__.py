"""TensorFlow/Keras backend: the book's methods with Keras 3 on TensorFlow.

Mirrors :mod:`regbook.np` and :mod:`regbook.torch`: the same names for the same ideas.
``import regbook`` does not load this module; ``import regbook.tf`` (or touching
``regbook.tf``) does, and that is when TensorFlow is imported.
"""

import os

# Set before TensorFlow is imported: quiet C++ logging, and Keras on the TensorFlow backend.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from regbook.tf.mlp import fit_classifier, make_mlp, predict_logits  # noqa: E402

__all__ = ["make_mlp", "fit_classifier", "predict_logits"]

# Each topic adds its names below, in its own block (keep blocks separate to avoid conflicts).
# --- L1 / L2 (penalties, weight decay, optimizers) ---
# --- dropout / batch norm ---
# --- early stopping / training loops ---
