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
import os
import sys
from collections.abc import Iterator

_controller = None
_modules_seen = -1


def _blas_controller():
    """threadpoolctl's controller of the loaded libraries, found again after any import.

    Finding the libraries takes 0.5-2 ms, so the controller is kept; but a library loaded
    after it was found (SciPy's own OpenBLAS, loaded by the first lasso solve) would escape
    its limits, so it is found again whenever ``sys.modules`` has changed.
    """
    global _controller, _modules_seen
    if _controller is None or len(sys.modules) != _modules_seen:
        from threadpoolctl import ThreadpoolController
        _controller = ThreadpoolController()
        _modules_seen = len(sys.modules)
    return _controller


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit every loaded BLAS library to one thread inside the block, then restore it."""
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:           # macOS, Windows
        return os.cpu_count() or 1


def parallel_workers(tasks: int) -> int:
    """How many threads may share ``tasks`` independent NumPy computations.

    As many as BLAS may use now -- the largest thread count of the loaded BLAS libraries, which
    ``regbook.notebook.setup(threads=k)`` or a ``threadpoolctl`` block sets -- and no more than
    the usable cores or ``tasks``. At least 1. The caller runs its threads under
    :func:`one_blas_thread`, so that the workers do not also start BLAS threads.
    """
    pools = _blas_controller().select(user_api="blas").lib_controllers
    allowed = max((pool.num_threads for pool in pools), default=usable_cores())
    return max(1, min(tasks, usable_cores(), allowed))


def framework_threads(framework: str) -> None:
    """Apply the thread count of :func:`regbook.notebook.setup` to a framework just loaded.

    ``setup(threads=k)`` records ``k`` in ``REGBOOK_THREADS``; :mod:`regbook.torch` and
    :mod:`regbook.tf` call this when they load, so the order of a chapter's imports does not
    matter. Without ``REGBOOK_THREADS`` the framework keeps its default.
    """
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
