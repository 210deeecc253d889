"""Helpers for the book's notebooks: one visible set-up line, and ``glue`` for NumPy values."""

from __future__ import annotations

import logging
import os
import sys
import warnings

import numpy as np

from regbook._validate import check_int, check_seed

__all__ = ["setup", "glue"]

_blas_limits = None  # kept alive: threadpoolctl restores the old limits when it is collected


def setup(*, seed: int = 0, threads: int | None = 1) -> None:
    """Prepare a chapter: threads, quiet framework logs, the book's plot style, the seed.

    The one set-up line of every chapter, ``regbook.notebook.setup(seed=0, threads=1)``:

    - ``threads``: every library computes with this many threads. The book's networks are
      tiny, and on a small machine one thread per library is faster than several competing for
      the cores (and gives the same numbers). BLAS (NumPy, SciPy) is limited now through
      threadpoolctl; PyTorch and TensorFlow are set when :mod:`regbook.torch` /
      :mod:`regbook.tf` load (or now, if already loaded), and read ``OMP_NUM_THREADS`` and
      ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS`` themselves when imported
      directly. ``None`` leaves every library's default.
    - TensorFlow's C++ log lines and Python warnings are silenced (``TF_CPP_MIN_LOG_LEVEL=2``,
      the ``absl`` and ``tensorflow`` loggers at ERROR).
    - The book's matplotlib style (:func:`regbook.plot.use_book_style`).
    - :func:`regbook.seed_everything` ``(seed)``: Python's, NumPy's and any loaded framework's
      global generators. Only a notebook does this; ``regbook``'s own functions take explicit
      seeds and never touch global generators.

    Imports no framework. Returns nothing, so that a cell ending with it shows no output.
    """
    seed = check_seed(seed)
    if threads is not None:
        threads = check_int(threads, "threads", minimum=1)
        _set_threads(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    for name in ("absl", "tensorflow", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras.*", category=UserWarning)
    from regbook import plot
    from regbook.seeding import seed_everything

    plot.use_book_style()
    seed_everything(seed)


def _set_threads(threads: int) -> None:
    global _blas_limits
    for var in ("REGBOOK_THREADS", "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                "TF_NUM_INTEROP_THREADS"):
        os.environ[var] = str(threads)
    from threadpoolctl import threadpool_limits

    from regbook._threads import framework_threads

    _blas_limits = threadpool_limits(threads)
    if "torch" in sys.modules:
        framework_threads("torch")
    if "tensorflow" in sys.modules:
        framework_threads("tf")


def glue(name: str, value, *, display: bool = False) -> None:
    """``myst_nb.glue`` for numbers computed with NumPy.

    NumPy 2 scalars print as ``np.float64(0.5)``, which the book's ``{glue:text}`name:.2f```
    roles cannot format; this converts NumPy scalars (and 0-d arrays) to Python numbers first.
    Not displayed by default: the value appears where the prose references it.
    """
    from myst_nb import glue as _myst_glue  # the book's toolchain; imported on first use

    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    _myst_glue(name, value, display=display)
