"""Converters between the book's convention and each library's scaling.

Every place where Keras, PyTorch, scikit-learn or a textbook formula scales a setting
differently from the book (see the Conventions appendix) has a named converter here, with a
test that proves the two agree on real numbers. Framework-agnostic: imports no framework.
"""

__all__: list[str] = []

# Each topic adds its imports below and extends __all__, in its own block.
# --- L1 / L2 / weight decay (regbook.convert.penalties) ---
# --- batch norm (regbook.convert.batchnorm) ---
