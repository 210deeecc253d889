"""regbook._threads: the solvers' one-BLAS-thread block limits BLAS and then restores it."""

import os
import subprocess
import sys

import numpy as np
import scipy.linalg  # noqa: F401  (loaded before any limit: its OpenBLAS is its own library)
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import regbook.np as rnp
from regbook import _threads


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_one_blas_thread_limits_inside_and_restores_after():
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        if not before or max(before) < 2:
            pytest.skip("BLAS runs on one thread here: nothing to limit")
        with _threads.one_blas_thread():
            assert _blas_threads() == [1] * len(before)
        assert _blas_threads() == before


def test_one_blas_thread_restores_after_an_exception():
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        with pytest.raises(RuntimeError):
            with _threads.one_blas_thread():
                raise RuntimeError("boom")
        assert _blas_threads() == before


@pytest.mark.parametrize("threads", [1, 2])
def test_lasso_path_is_the_same_whatever_the_callers_thread_count(threads):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 60)), rng.standard_normal(40)
    lams = np.geomspace(0.5, 0.01, 8)
    with threadpool_limits(threads, user_api="blas"):
        coefs, _ = rnp.lasso_path(X, y, lams)
        assert max(_blas_threads()) == threads       # the caller's setting is back
    np.testing.assert_array_equal(coefs, rnp.lasso_path(X, y, lams)[0])


def test_a_blas_library_loaded_later_is_limited_too():
    # The controller is found before SciPy (and its own OpenBLAS) is loaded; one_blas_thread
    # must still limit SciPy's library once it is.
    code = (
        "import numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "from regbook import _threads\n"
        "_threads.parallel_workers(4)\n"
        "import scipy.linalg\n"
        "with _threads.one_blas_thread():\n"
        "    print(sorted({p['num_threads'] for p in threadpool_info()"
        " if p['user_api'] == 'blas'}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "2"})
    assert out.stdout.strip() == "[1]"
