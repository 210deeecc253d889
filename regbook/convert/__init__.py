"""Converters between the book's convention and each library's scaling.

Every place where Keras, PyTorch, scikit-learn or a textbook formula scales a setting
differently from the book (see the Conventions appendix) has a named converter here, with a
test that proves the two agree on real numbers. Framework-agnostic: imports no framework.
"""

__all__: list[str] = []

# Each topic adds its imports below and extends __all__, in its own block.
# --- L1 / L2 / weight decay (regbook.convert.penalties) ---
from regbook.convert.penalties import (  # noqa: E402
    PENALTY_FORMS,
    keras_l1,
    keras_l1_mse,
    keras_l2,
    keras_l2_mse,
    lam_from_keras_l1,
    lam_from_keras_l1_mse,
    lam_from_keras_l2,
    lam_from_keras_l2_mse,
    lam_from_sklearn_lasso_alpha,
    lam_from_sklearn_ridge_alpha,
    lam_from_torch_weight_decay,
    lam_from_torch_weight_decay_mse,
    lams_from_sklearn_elasticnet,
    penalty_coefficient,
    rescale_lam,
    sklearn_elasticnet_params,
    sklearn_lasso_alpha,
    sklearn_ridge_alpha,
    torch_weight_decay,
    torch_weight_decay_mse,
)

__all__ += [
    "keras_l1", "keras_l2", "lam_from_keras_l1", "lam_from_keras_l2",
    "torch_weight_decay", "lam_from_torch_weight_decay",
    "keras_l1_mse", "lam_from_keras_l1_mse", "keras_l2_mse", "lam_from_keras_l2_mse",
    "torch_weight_decay_mse", "lam_from_torch_weight_decay_mse",
    "sklearn_lasso_alpha", "lam_from_sklearn_lasso_alpha",
    "sklearn_ridge_alpha", "lam_from_sklearn_ridge_alpha",
    "sklearn_elasticnet_params", "lams_from_sklearn_elasticnet",
    "PENALTY_FORMS", "penalty_coefficient", "rescale_lam",
]
# --- batch norm (regbook.convert.batchnorm) ---
from regbook.convert.batchnorm import (  # noqa: E402
    biased_variance,
    keras_bn_kwargs_from_torch,
    keras_bn_momentum,
    torch_bn_kwargs_from_keras,
    torch_bn_momentum,
    unbiased_variance,
)

__all__ += [
    "keras_bn_momentum",
    "torch_bn_momentum",
    "unbiased_variance",
    "biased_variance",
    "keras_bn_kwargs_from_torch",
    "torch_bn_kwargs_from_keras",
]
