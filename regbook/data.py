"""Deterministic, offline data sets for the book.

Nothing here downloads anything: the synthetic generators are seeded NumPy code, the real
data sets are the ones scikit-learn ships inside its wheel (``load_digits``, ``load_diabetes``),
and MNIST-1D is generated locally from its ten templates by the ``mnist1d`` package.
The same arguments always give the same arrays.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.datasets import load_diabetes, load_digits
from sklearn.model_selection import train_test_split

from regbook._validate import check_bool, check_float, check_int

__all__ = [
    "Split",
    "true_curve",
    "make_polynomial_regression",
    "make_sparse_regression",
    "digits_split",
    "diabetes_split",
    "mnist1d",
    "mnist1d_templates",
    "noisy_labels",
]


@dataclass(frozen=True)
class Split:
    """Fixed train / validation / test arrays of one data set.

    Attributes
    ----------
    X_train, y_train, X_val, y_val, X_test, y_test : numpy.ndarray
        Features ``(n, d)`` and targets ``(n,)`` of each part.
    name : str
        The data set it came from.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str = ""

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Number of examples in (train, validation, test)."""
        return len(self.y_train), len(self.y_val), len(self.y_test)


def true_curve(x: np.ndarray) -> np.ndarray:
    r"""The smooth function behind :func:`make_polynomial_regression`: :math:`f(x) = \sin(2\pi x)`."""
    return np.sin(2.0 * np.pi * np.asarray(x, dtype=float))


def make_polynomial_regression(
    n_samples: int,
    *,
    noise: float = 0.3,
    seed: int = 0,
    func: Callable[[np.ndarray], np.ndarray] = true_curve,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Noisy samples of a smooth curve, the classic polynomial-regression problem.

    .. math:: x_i \sim \mathcal{U}(0, 1), \qquad y_i = f(x_i) + \varepsilon_i,
              \qquad \varepsilon_i \sim \mathcal{N}(0, \sigma^2)

    with :math:`f` = ``func`` (default :func:`true_curve`) and :math:`\sigma` = ``noise``.

    Parameters
    ----------
    n_samples : int
        Number of points, >= 1.
    noise : float
        Standard deviation :math:`\sigma \ge 0` of the Gaussian noise.
    seed : int
        Seed of the generator; the same seed gives the same data.
    func : callable
        The noiseless curve, mapping an array of inputs to outputs.

    Returns
    -------
    x : numpy.ndarray, shape (n_samples,)
    y : numpy.ndarray, shape (n_samples,)
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    noise = check_float(noise, "noise", minimum=0.0)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=n_samples)
    y = func(x) + noise * rng.standard_normal(n_samples)
    return x, y


def make_sparse_regression(
    n_samples: int,
    n_features: int,
    n_informative: int,
    *,
    noise: float = 0.1,
    correlation: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""A linear problem whose true coefficients are sparse with a known support.

    .. math:: y = X w^\star + \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, \sigma^2 I)

    The rows of :math:`X` are Gaussian with unit variances and an equicorrelated covariance
    (every pair of features has correlation ``correlation``). The first ``n_informative``
    entries of :math:`w^\star` are non-zero (magnitudes in [1, 3], random signs); the rest are 0.

    Parameters
    ----------
    n_samples, n_features : int
        Shape of :math:`X`; ``n_samples < n_features`` is allowed.
    n_informative : int
        Size of the support, ``0 <= n_informative <= n_features``.
    noise : float
        Noise standard deviation :math:`\sigma \ge 0`.
    correlation : float
        Pairwise feature correlation in [0, 1).
    seed : int
        Seed of the generator.

    Returns
    -------
    X : numpy.ndarray, shape (n_samples, n_features)
    y : numpy.ndarray, shape (n_samples,)
    coef : numpy.ndarray, shape (n_features,)
        The true :math:`w^\star`; ``np.flatnonzero(coef)`` is the support.
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_features = check_int(n_features, "n_features", minimum=1)
    n_informative = check_int(n_informative, "n_informative", minimum=0, maximum=n_features)
    noise = check_float(noise, "noise", minimum=0.0)
    correlation = check_float(correlation, "correlation", minimum=0.0, maximum=1.0,
                              include_max=False)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    # Equicorrelated Gaussian features: a shared factor plus independent parts.
    shared = rng.standard_normal((n_samples, 1))
    own = rng.standard_normal((n_samples, n_features))
    X = np.sqrt(correlation) * shared + np.sqrt(1.0 - correlation) * own
    coef = np.zeros(n_features)
    magnitudes = rng.uniform(1.0, 3.0, size=n_informative)
    signs = rng.choice([-1.0, 1.0], size=n_informative)
    coef[:n_informative] = magnitudes * signs
    y = X @ coef + noise * rng.standard_normal(n_samples)
    return X, y, coef


def _three_way_split(X, y, *, val_fraction, test_fraction, seed, stratify, name) -> Split:
    val_fraction = check_float(val_fraction, "val_fraction", minimum=0.0, maximum=1.0,
                               include_min=False, include_max=False)
    test_fraction = check_float(test_fraction, "test_fraction", minimum=0.0, maximum=1.0,
                                include_min=False, include_max=False)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1, got {val_fraction + test_fraction}"
        )
    seed = check_int(seed, "seed", minimum=0)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_fraction, random_state=seed, stratify=y if stratify else None
    )
    val_of_rest = val_fraction / (1.0 - test_fraction)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_of_rest, random_state=seed + 1,
        stratify=y_rest if stratify else None,
    )
    return Split(X_train, y_train, X_val, y_val, X_test, y_test, name=name)


def digits_split(
    n_train: int | None = None,
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Split:
    """scikit-learn's bundled 8x8 digits, split into fixed stratified train/validation/test parts.

    Pixels are scaled from [0, 16] to [0, 1] (``float32``) and labels are ``int64`` in 0..9.
    With the defaults the 1797 images split 1077 / 360 / 360. ``n_train`` keeps only the first
    ``n_train`` training examples of a stratified shuffle (for "small data" experiments); the
    validation and test parts do not change with it.

    Parameters
    ----------
    n_train : int, optional
        Size of the training part to keep, 10 <= n_train <= full training size.
    val_fraction, test_fraction : float
        Fractions of all examples for validation and test, each in (0, 1), summing below 1.
    seed : int
        Seed of the split.

    Returns
    -------
    Split
    """
    from regbook._validate import check_seed

    seed = check_seed(seed)
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    split = _three_way_split(X, y, val_fraction=val_fraction, test_fraction=test_fraction,
                             seed=seed, stratify=True, name="digits")
    if n_train is None:
        return split
    n_full = len(split.y_train)
    n_train = check_int(n_train, "n_train", minimum=10, maximum=n_full)
    if n_train < n_full:
        X_small, _, y_small, _ = train_test_split(
            split.X_train, split.y_train, train_size=n_train, random_state=(seed + 2) % 2**32,
            stratify=split.y_train,
        )
    else:
        X_small, y_small = split.X_train, split.y_train
    return Split(X_small, y_small, split.X_val, split.y_val, split.X_test, split.y_test,
                 name="digits")


def diabetes_split(
    *, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> Split:
    """scikit-learn's bundled diabetes regression data, split into fixed train/val/test parts.

    The ten features are scikit-learn's scaled version (each column centred with unit
    Euclidean norm over the 442 patients); the target is disease progression after one year
    (``float64``). With the defaults the split is 264 / 89 / 89.

    Parameters
    ----------
    val_fraction, test_fraction : float
        Fractions for validation and test, each in (0, 1), summing below 1.
    seed : int
        Seed of the split.

    Returns
    -------
    Split
    """
    diabetes = load_diabetes()
    X = diabetes.data.astype(np.float64)
    y = diabetes.target.astype(np.float64)
    return _three_way_split(X, y, val_fraction=val_fraction, test_fraction=test_fraction,
                            seed=seed, stratify=False, name="diabetes")


@functools.lru_cache(maxsize=1)
def _mnist1d_build() -> dict:
    """The package's default MNIST-1D data set, built once per process (read-only arrays).

    ``make_dataset`` reseeds NumPy's and Python's global generators (``set_seed(42)``); their
    states are saved and restored, so the caller's random streams are untouched. The package's
    ``shuffle_seq`` option draws its column permutation from the global generator right after
    the batch shuffle, the last draw of ``make_dataset``: drawing ``permutation(40)`` at that
    point gives the very same permutation without building the data set twice.
    """
    from mnist1d.data import get_dataset_args, make_dataset   # imports SciPy: only when used

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        args = get_dataset_args()
        raw = make_dataset(args)
        permutation = np.random.permutation(args.final_seq_length)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    arrays = {
        "x": raw["x"], "y": raw["y"], "x_test": raw["x_test"], "y_test": raw["y_test"],
        "permutation": permutation, "templates": raw["templates"]["x"],
        "template_labels": raw["templates"]["y"],
    }
    for value in arrays.values():
        value.setflags(write=False)
    return arrays


def mnist1d(*, shuffle: bool = False, n_val: int = 0, n_train: int | None = None) -> Split:
    """MNIST-1D (Greydanus & Steinbach, ICML 2024): 4000 + 1000 signals of 40 values, 10 classes.

    Built locally by the ``mnist1d`` package, ``make_dataset(get_dataset_args())``, from ten
    hand-made templates of the digits 0-9, each padded, scaled, translated, sheared and
    subsampled to 40 positions with correlated and i.i.d. noise (never downloaded; about a
    second, once per process, then cached). ``X_train (4000, 40)``, ``y_train``,
    ``X_test (1000, 40)`` and ``y_test`` are exactly the package's ``x``, ``y``, ``x_test``,
    ``y_test`` (float64 / int64); every call returns fresh copies. NumPy's and Python's
    global generators, which the package reseeds, are restored afterwards.

    Parameters
    ----------
    shuffle : bool
        The paper's "shuffle" variant (its ``shuffle_seq=True``): the 40 positions are permuted
        by one fixed permutation, the same for every example of every part, so each example
        keeps its values but loses its spatial order. The permutation is the package's own
        (drawn after seeding with 42), so the arrays equal ``make_dataset`` with
        ``shuffle_seq=True``.
    n_val : int
        Hold out the *last* ``n_val`` of the 4000 training examples (the package has already
        shuffled their order) as the validation part, ``0 <= n_val < 4000``. With the default
        0 the training part is the package's whole ``x`` (as in the paper) and the validation
        part is empty, shape ``(0, 40)``.
    n_train : int or None
        Keep only the *first* ``n_train`` training examples, ``1 <= n_train <= 4000 - n_val``
        (a smaller training set, on which networks overfit sooner and train faster; the
        validation and test parts are unchanged). ``None`` keeps all ``4000 - n_val``.

    Returns
    -------
    Split
        Named ``"mnist1d"`` or ``"mnist1d-shuffle"``.
    """
    shuffle = check_bool(shuffle, "shuffle")
    raw = _mnist1d_build()
    n_val = check_int(n_val, "n_val", minimum=0, maximum=len(raw["y"]) - 1)
    n_rest = len(raw["y"]) - n_val
    n_keep = n_rest if n_train is None else check_int(n_train, "n_train", minimum=1,
                                                       maximum=n_rest)
    columns = raw["permutation"] if shuffle else slice(None)
    X, X_test = raw["x"][:, columns].copy(), raw["x_test"][:, columns].copy()
    y, y_test = raw["y"].copy(), raw["y_test"].copy()
    return Split(X[:n_keep], y[:n_keep], X[n_rest:], y[n_rest:], X_test, y_test,
                 name="mnist1d-shuffle" if shuffle else "mnist1d")


def mnist1d_templates() -> tuple[np.ndarray, np.ndarray]:
    """The ten templates MNIST-1D is generated from, one hand-made 1-D "digit" per class.

    Each template is 12 values, centred and scaled by the package, starting and ending at 0.
    The package draws one as a curve with the value on the horizontal axis and the position
    running downwards, which traces the outline of its digit.

    Returns
    -------
    templates : numpy.ndarray, shape (10, 12)
    labels : numpy.ndarray of int64, shape (10,)
        The digit of each row, 0..9.
    """
    raw = _mnist1d_build()
    return raw["templates"].copy(), raw["template_labels"].copy()


def noisy_labels(y, fraction: float, *, n_classes: int = 10, seed: int = 0) -> np.ndarray:
    r"""A copy of ``y`` in which a given fraction of the labels is replaced by a wrong class.

    Exactly ``round(fraction * n)`` positions, drawn without replacement from
    ``numpy.random.default_rng(seed)``, get a label drawn uniformly from the
    ``n_classes - 1`` classes other than their own, so every changed label is wrong
    (symmetric label noise). The same arguments give the same labels.

    Parameters
    ----------
    y : array_like of int, shape (n,)
        Labels in ``0 .. n_classes - 1``.
    fraction : float
        Fraction of the labels to corrupt, ``0 <= fraction <= 1``.
    n_classes : int
        Number of classes, at least 2.
    seed : int
        Seed of the generator that picks the positions and the wrong labels.

    Returns
    -------
    numpy.ndarray of int64, shape (n,)
    """
    from regbook._validate import check_array, check_labels, check_seed

    n_classes = check_int(n_classes, "n_classes", minimum=2)
    y = check_array(y, "y", ndim=1, dtype=None)
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    y = check_labels(y, "y", n_classes)
    fraction = check_float(fraction, "fraction", minimum=0.0, maximum=1.0)
    rng = np.random.default_rng(check_seed(seed))
    out = np.array(y, dtype=np.int64, copy=True)
    flip = rng.choice(len(out), size=int(round(fraction * len(out))), replace=False)
    offset = rng.integers(1, n_classes, size=len(flip))      # 1 .. n_classes - 1
    out[flip] = (out[flip] + offset) % n_classes
    return out
