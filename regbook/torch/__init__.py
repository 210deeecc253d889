"""PyTorch backend: the book's methods with ``torch`` (imported when this module is).

Mirrors :mod:`regbook.np` and :mod:`regbook.tf`: the same names for the same ideas.
``import regbook`` does not load this module; ``import regbook.torch`` (or touching
``regbook.torch``) does, and that is when PyTorch is imported.
"""

from regbook.torch.mlp import fit_classifier, make_mlp, predict_logits

__all__ = ["make_mlp", "fit_classifier", "predict_logits"]

# Each topic adds its names below, in its own block (keep blocks separate to avoid conflicts).
# --- L1 / L2 (penalties, weight decay, optimizers) ---
from regbook.torch.linear import fit_linear, fit_penalized, make_linear  # noqa: E402
from regbook.torch.penalties import (  # noqa: E402
    l1_penalty,
    l2_penalty,
    param_groups,
    split_decay_params,
)

__all__ += ["l1_penalty", "l2_penalty", "split_decay_params", "param_groups",
            "make_linear", "fit_penalized", "fit_linear"]
# --- dropout / batch norm ---
from regbook.torch.dropout import Dropout, make_dropout_mlp, mask_from_ones  # noqa: E402

__all__ += ["Dropout", "mask_from_ones", "make_dropout_mlp"]

from regbook.torch.batchnorm import BatchNorm  # noqa: E402

__all__ += ["BatchNorm"]
# --- early stopping / training loops ---
from regbook.torch.ablation import (  # noqa: E402  (a measured ablation of regularizers)
    Setting,
    ablation_grid,
    ablation_table,
    build_setting,
    make_regularized_mlp,
    run_ablation,
    summarize_ablation,
    train_setting,
)

__all__ += ["Setting", "ablation_grid", "make_regularized_mlp", "build_setting", "train_setting",
            "run_ablation", "summarize_ablation", "ablation_table"]
