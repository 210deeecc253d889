"""One BLAS thread for solvers that make many small BLAS calls.

The lasso's working-set loop alternates small matrix-vector products and Cholesky solves with
Python code. A multi-threaded OpenBLAS keeps its worker threads spinning between calls, and on
a machine with few cores they compete with the Python thread instead of helping: on the
project's 2-core machines a lasso path ran 2.2 times slower with 2 BLAS threads than with one
(``benchmarks/README.md``). scikit-learn's coordinate descent has the same profile and uses
single-threaded BLAS level-1 calls; the solvers here run under :func:`one_blas_thread`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_controller = None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit every loaded BLAS library to one thread inside the block, then restore it."""
    global _controller
    if _controller is None:          # finding the loaded libraries is slow: do it once
        from threadpoolctl import ThreadpoolController
        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield


def framework_threads(framework: str) -> None:
    """Apply the thread count of :func:`regbook.notebook.setup` to a framework just loaded.

    ``setup(threads=k)`` records ``k`` in ``REGBOOK_THREADS``; :mod:`regbook.torch` and
    :mod:`regbook.tf` call this when they load, so the order of a chapter's imports does not
    matter. Without ``REGBOOK_THREADS`` the framework keeps its default.
    """
    import os

    value = os.environ.get("REGBOOK_THREADS")
    if not value:
        return
    threads = int(value)
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
    elif framework == "tf":
        import tensorflow as tf

        try:  # only possible before TensorFlow's runtime has started
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass
