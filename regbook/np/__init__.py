"""NumPy backend: every method from scratch, with hand-written gradients.

Imports only NumPy (and SciPy where a solver needs it) -- never TensorFlow or PyTorch. Each
topic lives in a module named after it (``regbook.np.polynomial``, ``regbook.np.metrics``,
...); the public names are re-exported here, so ``from regbook import np as rnp`` then
``rnp.fit_polynomial(...)`` works.
"""

from regbook.np.bias_variance import BiasVariance, bias_variance_decomposition
from regbook.np.gradcheck import numerical_gradient, rel_error
from regbook.np.metrics import accuracy, mse
from regbook.np.polynomial import fit_polynomial, polynomial_features, predict_polynomial

__all__ = [
    "BiasVariance",
    "bias_variance_decomposition",
    "accuracy",
    "mse",
    "fit_polynomial",
    "polynomial_features",
    "predict_polynomial",
    "numerical_gradient",
    "rel_error",
]

# Each topic adds its names below, in its own block (keep blocks separate to avoid conflicts).
# --- L1 / L2 (penalties, linear solvers, fitters) ---
from regbook.np.optimizers import (  # noqa: E402  (update rules, functional and as objects)
    SGD,
    Adam,
    AdamState,
    AdamW,
    adam_init,
    adam_step,
    keras_adam_step,
    keras_sgd_step,
    optimizer_trajectory,
    sgd_momentum_step,
    sgd_step,
)

__all__ += ["SGD", "Adam", "AdamW", "AdamState", "adam_init", "sgd_step", "sgd_momentum_step",
            "adam_step", "keras_sgd_step", "keras_adam_step", "optimizer_trajectory"]
from regbook.np.penalties import (  # noqa: E402
    l1_grad,
    l1_penalty,
    l2_grad,
    l2_penalty,
    soft_threshold,
    split_decay_params,
)

__all__ += ["l1_penalty", "l1_grad", "l2_penalty", "l2_grad", "soft_threshold",
            "split_decay_params"]
from regbook.np.linear import (  # noqa: E402
    duality_gap,
    elastic_net,
    lasso,
    lasso_path,
    ridge,
)
from regbook.objectives import lasso_objective  # noqa: E402  (framework-agnostic)

__all__ += ["ridge", "lasso", "elastic_net", "lasso_path", "lasso_objective", "duality_gap"]
from regbook.history import FitPath  # noqa: E402  (framework-agnostic, re-exported here)
from regbook.np.gradient_methods import (  # noqa: E402
    fista,
    gradient_descent,
    ista,
    lipschitz_constant,
    subgradient_descent,
)

__all__ += ["FitPath", "gradient_descent", "subgradient_descent", "ista", "fista",
            "lipschitz_constant"]
# --- dropout / batch norm / network toolkit ---
from regbook.np.dropout import dropout_backward, dropout_forward, dropout_mask  # noqa: E402
from regbook.np.layers import Dropout, Layer, Linear, ReLU, Sequential, make_mlp  # noqa: E402
from regbook.np.losses import log_softmax, softmax, softmax_cross_entropy  # noqa: E402
from regbook.np.training import evaluate_classifier, fit_classifier, predict_logits  # noqa: E402
from regbook.np.penalized import fit_linear, fit_penalized, make_linear  # noqa: E402

__all__ += ["dropout_forward", "dropout_backward", "dropout_mask", "Layer", "Linear", "ReLU",
            "Dropout", "Sequential", "make_mlp", "log_softmax", "softmax",
            "softmax_cross_entropy", "fit_classifier", "predict_logits", "evaluate_classifier",
            "make_linear", "fit_penalized", "fit_linear"]

from regbook.np.batchnorm import BatchNorm, batchnorm_backward, batchnorm_forward  # noqa: E402

__all__ += ["batchnorm_forward", "batchnorm_backward", "BatchNorm"]

# --- augmentation ---
from regbook.np.augment import (  # noqa: E402
    SignalAugment, add_gaussian_noise, augment_batch, augment_dataset, random_scale_signals,
    random_shift, random_translate_signals, scale_signals, shift_images, translate_signals,
)

__all__ += ["shift_images", "random_shift", "add_gaussian_noise", "augment_batch",
            "augment_dataset", "translate_signals", "random_translate_signals",
            "scale_signals", "random_scale_signals", "SignalAugment"]

# --- convolutions, pooling and layer norm (forward/backward pairs) ---
from regbook.np.conv import (  # noqa: E402
    conv1d_backward,
    conv1d_forward,
    flatten_backward,
    flatten_forward,
    global_avg_pool1d_backward,
    global_avg_pool1d_forward,
    maxpool1d_backward,
    maxpool1d_forward,
)
from regbook.np.layernorm import layernorm_backward, layernorm_forward  # noqa: E402

__all__ += ["conv1d_forward", "conv1d_backward", "maxpool1d_forward", "maxpool1d_backward",
            "global_avg_pool1d_forward", "global_avg_pool1d_backward", "flatten_forward",
            "flatten_backward", "layernorm_forward", "layernorm_backward"]

# --- the CNN: convolutional layers, layer norm, make_cnn ---
from regbook.np.layers import (  # noqa: E402
    AddChannel,
    ChannelsLast,
    Conv1d,
    Flatten,
    GlobalAvgPool1d,
    LayerNorm,
    MaxPool1d,
)
from regbook.np.models import make_cnn  # noqa: E402

__all__ += ["make_cnn", "Conv1d", "MaxPool1d", "GlobalAvgPool1d", "Flatten", "AddChannel",
            "LayerNorm", "ChannelsLast"]

# --- many seeds at once (a leading model axis) ---
from regbook.np.stacked import fit_seeds  # noqa: E402

__all__ += ["fit_seeds"]

# --- the Bayesian view: evidence maximisation, posterior ---
from regbook.np.bayesian import BayesianFit, bayesian_ridge, log_evidence, posterior  # noqa: E402

__all__ += ["bayesian_ridge", "BayesianFit", "posterior", "log_evidence"]

# --- random features: minimum-norm least squares and double descent ---
from regbook.np.random_features import min_norm_least_squares, random_relu_features  # noqa: E402

__all__ += ["random_relu_features", "min_norm_least_squares"]

# --- norm constraints and gradient clipping ---
from regbook.np.constraints import (  # noqa: E402
    Constrained, clip_by_global_norm, clip_by_norm, clip_by_value, max_norm,
)

__all__ += ["max_norm", "clip_by_value", "clip_by_norm", "clip_by_global_norm", "Constrained"]
