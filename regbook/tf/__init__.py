"""TensorFlow/Keras backend: the book's methods with Keras 3 on TensorFlow.

Mirrors :mod:`regbook.np` and :mod:`regbook.torch`: the same names for the same ideas.
``import regbook`` does not load this module; ``import regbook.tf`` (or touching
``regbook.tf``) does, and that is when TensorFlow is imported.
"""

import os

# Set before TensorFlow is imported: quiet C++ logging, and Keras on the TensorFlow backend.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from regbook.tf.models import make_cnn, make_linear, make_mlp  # noqa: E402
from regbook.tf.training import evaluate_classifier, fit_classifier, predict_logits  # noqa: E402

__all__ = ["make_mlp", "make_cnn", "make_linear", "fit_classifier", "predict_logits",
           "evaluate_classifier"]

# Each topic adds its names below, in its own block (keep blocks separate to avoid conflicts).
# --- L1 / L2 (penalties, weight decay, optimizers) ---
from regbook.tf.penalized import fit_linear, fit_penalized  # noqa: E402
from regbook.tf.penalties import (  # noqa: E402
    exclude_from_weight_decay,
    l1_l2_regularizer,
    l1_penalty,
    l1_regularizer,
    l2_penalty,
    l2_regularizer,
    set_kernel_regularizers,
    split_decay_params,
)

__all__ += ["l1_penalty", "l2_penalty", "split_decay_params", "exclude_from_weight_decay",
            "l1_regularizer", "l2_regularizer", "l1_l2_regularizer", "set_kernel_regularizers",
            "fit_penalized", "fit_linear"]
# --- dropout / batch norm ---
from regbook.tf.dropout import Dropout, mask_from_ones  # noqa: E402

__all__ += ["Dropout", "mask_from_ones"]

from regbook.tf.batchnorm import BatchNorm, KerasBatchNorm  # noqa: E402

__all__ += ["BatchNorm", "KerasBatchNorm"]

from regbook.tf.layernorm import LayerNorm  # noqa: E402

__all__ += ["LayerNorm"]
# --- early stopping / training loops ---
# --- augmentation ---
from regbook.tf.augment import apply_augmenter, make_augmenter  # noqa: E402

__all__ += ["make_augmenter", "apply_augmenter"]

# --- many seeds (one after the other) ---
from regbook.tf.stacked import fit_seeds  # noqa: E402

__all__ += ["fit_seeds"]

# --- threads chosen by regbook.notebook.setup (REGBOOK_THREADS), whatever the import order ---
from regbook._threads import framework_threads as _framework_threads  # noqa: E402

_framework_threads("tf")
