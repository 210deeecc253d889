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
from regbook.np.penalties import l1_grad, l1_penalty, l2_grad, l2_penalty, soft_threshold

__all__ += ["l1_penalty", "l1_grad", "l2_penalty", "l2_grad", "soft_threshold"]
# --- dropout / batch norm / network toolkit ---

