"""Seeding every random number generator the book uses."""

from __future__ import annotations

import os
import random
import sys

import numpy as np

from regbook._validate import check_int

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> int:
    """Seed Python, NumPy and, when already imported, TensorFlow and PyTorch.

    The frameworks are seeded only if they are in ``sys.modules``: this function never imports
    them (``import regbook`` must stay light). The framework backends (:mod:`regbook.torch`,
    :mod:`regbook.tf`) call it again after importing their framework, so their training helpers
    are seeded whichever order things are imported in.

    Besides seeding, it asks for deterministic kernels where they are not the default: on a
    GPU, ``torch.use_deterministic_algorithms`` (with the cuBLAS workspace setting it requires);
    TensorFlow's ``enable_op_determinism`` always. PyTorch's CPU kernels used in this book are
    deterministic already, and ``use_deterministic_algorithms`` imports the compiler stack
    (about 1 s), so on a CPU-only machine it is skipped.

    Parameters
    ----------
    seed : int
        A non-negative integer below :math:`2^{32}`.

    Returns
    -------
    int
        The seed, for logging.
    """
    seed = check_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    os.environ["PYTHONHASHSEED"] = str(seed)  # affects child processes (e.g. kernels)
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        _seed_torch(seed)
    if "tensorflow" in sys.modules:
        _seed_tensorflow(seed)
    return seed


def _seed_torch(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    if torch.cuda.is_available():
        # cuBLAS needs a fixed workspace for reproducible results; set before CUDA starts.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)


def _seed_tensorflow(seed: int) -> None:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow
    tf.config.experimental.enable_op_determinism()
