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
