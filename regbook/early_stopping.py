r"""Early stopping that behaves exactly like the installed ``keras.callbacks.EarlyStopping``.

Framework-agnostic: it sees one number per epoch (and, to restore the best weights, whatever
snapshot of the weights the training loop hands it), so the NumPy, PyTorch and Keras loops of
the book share this one implementation. Only NumPy and the standard library are imported.

Keras 3's rule, reproduced here step for step (read from ``keras/src/callbacks/early_stopping.py``
and ``monitor_callback.py`` and checked against the callback itself in
``tests/test_early_stopping_keras_parity.py``): at epoch :math:`t` with monitored value
:math:`v_t`,

1. epochs :math:`t <` ``start_from_epoch`` are ignored entirely;
2. ``wait`` is incremented;
3. :math:`v_t` is an *improvement* over a reference :math:`r` when there is no reference yet,
   or when

   .. math:: v_t + \delta < r \quad(\text{mode "min"}), \qquad
             v_t - \delta > r \quad(\text{mode "max"}),

   with :math:`\delta = |\mathtt{min\_delta}|` -- strictly, so a change of exactly
   :math:`\delta` is no improvement; on an improvement over ``best`` the value and epoch are
   recorded (and the weights, when restoring), and ``wait`` goes back to 0 only if there is no
   ``baseline`` or the value is also an improvement over the baseline;
4. otherwise training stops when ``wait >= patience`` and :math:`t > 0`.

Two details of the installed Keras (TensorFlow backend) matter for exact agreement, and are
reproduced: the comparison is made in **float32** (Keras converts the Python floats of the
epoch's logs with ``keras.ops``), and float32 subnormal numbers compare as zero (TensorFlow's
CPU kernels flush denormals).
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from typing import Any

import numpy as np

from regbook._validate import check_bool, check_float, check_int

__all__ = ["EarlyStopping"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # smallest normal float32


def _as_float32(x: float) -> np.float32:
    """``x`` as Keras's TensorFlow backend compares it: rounded to float32, subnormals -> 0."""
    with np.errstate(over="ignore"):
        y = np.float32(x)
    if 0.0 < abs(y) < _FLOAT32_TINY:
        return np.float32(0.0)
    return y


class EarlyStopping:
    r"""Stop training when a monitored value has stopped improving (Keras 3 semantics).

    Call :meth:`update` once per epoch, in order, with the monitored value (for instance the
    validation loss); it returns ``True`` when training should stop. With
    ``restore_best_weights=True`` pass the current weights too: a deep copy of them is kept
    at every improvement, and the training loop puts :attr:`best_weights` back into the model
    at the end of training -- whether or not it stopped early, as Keras 3 does.

    A value :math:`v_t` improves on the best so far :math:`b` when

    .. math:: v_t + \delta < b \ \ (\text{mode} = \text{"min"}), \qquad
              v_t - \delta > b \ \ (\text{mode} = \text{"max"}),

    with :math:`\delta = |\mathtt{min\_delta}|`, compared in float32 as Keras does. Training
    stops at the first epoch :math:`t > 0` with ``wait >= patience``, where ``wait`` counts the
    epochs since the last improvement that also beat ``baseline`` (see the module docstring for
    the full rule).

    Parameters
    ----------
    patience : int
        Number of epochs without improvement after which training stops, >= 0.
    min_delta : float
        Smallest change that counts as an improvement. Like Keras, its absolute value is used
        (a negative ``min_delta`` means the same as its magnitude); NaN or infinity is a
        ``ValueError``.
    mode : {"min", "max"}
        Whether the monitored value should go down (a loss) or up (an accuracy). Keras's
        ``"auto"`` guesses from the metric's name, which this class never sees, so it is not
        accepted; any other string is a ``ValueError`` (Keras would warn and fall back to
        ``"auto"``).
    baseline : float, optional
        A value to beat: until a value improves on it, ``wait`` counts every monitored epoch
        and is never reset, so the first epoch without improvement stops training once
        ``wait >= patience``. (A run that keeps improving is never stopped, baseline or not:
        the stopping test runs only on epochs without improvement.) Must be finite.
    restore_best_weights : bool
        Keep a deep copy of the weights at the best epoch in :attr:`best_weights`.
    start_from_epoch : int
        Number of initial epochs (warm-up) whose values are ignored, >= 0.

    Attributes
    ----------
    best : float or None
        Best monitored value so far (``None`` before the first monitored epoch).
    best_epoch : int
        0-based epoch of ``best`` (0 before the first monitored epoch).
    stopped_epoch : int
        0-based epoch at which :meth:`update` returned ``True`` (0 if it never did; stopping at
        epoch 0 is impossible, as in Keras).
    wait : int
        Epochs counted since the last improvement that beat the baseline.
    best_weights : Any or None
        Deep copy of the weights passed at the best epoch (only with ``restore_best_weights``).
    epochs_seen : int
        Number of :meth:`update` calls since construction or :meth:`reset` (the next epoch's
        0-based index).

    Notes
    -----
    **NaN values** (a diverged loss) are handled as Keras handles them: a NaN is never an
    improvement, so it counts towards ``patience`` -- except at the first monitored epoch,
    when there is nothing to compare with: then the NaN becomes ``best`` and, since nothing
    compares better than NaN, no later value can replace it (the restored weights are those
    of that first epoch). ``inf`` and ``-inf`` compare like any other number. Finite values
    beyond float32's range (about :math:`3.4 \times 10^{38}`) are a ``ValueError``, since
    Keras's TensorFlow backend cannot convert them either. ``None`` (a missing value) is
    skipped with a ``RuntimeWarning`` while the epoch still counts, as in Keras.

    References
    ----------
    Prechelt, L. (1998). Early stopping -- but when? In *Neural Networks: Tricks of the Trade*.
    Keras 3, ``keras.callbacks.EarlyStopping``.

    Examples
    --------
    >>> stopper = EarlyStopping(patience=2)
    >>> [stopper.update(v) for v in [1.0, 0.5, 0.6, 0.7]]
    [False, False, False, True]
    >>> stopper.best, stopper.best_epoch, stopper.stopped_epoch
    (0.5, 1, 3)
    """

    def __init__(
        self,
        *,
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "min",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        self.patience = check_int(patience, "patience", minimum=0)
        min_delta = abs(check_float(min_delta, "min_delta"))
        if min_delta > _FLOAT32_MAX:
            raise ValueError(f"min_delta must be at most {_FLOAT32_MAX:g} in absolute value "
                             f"(float32 range), got {min_delta}")
        self.min_delta = min_delta
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.mode = mode
        self.baseline = None if baseline is None else check_float(baseline, "baseline")
        self.restore_best_weights = check_bool(restore_best_weights, "restore_best_weights")
        self.start_from_epoch = check_int(start_from_epoch, "start_from_epoch", minimum=0)
        self.reset()

    def reset(self) -> None:
        """Forget the run so far (Keras does this in ``on_train_begin``) to reuse the object."""
        self.best: float | None = None
        self.best_epoch = 0
        self.stopped_epoch = 0
        self.wait = 0
        self.best_weights: Any = None
        self.epochs_seen = 0

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self.mode == "min":
            return bool(_as_float32(value + self.min_delta) < _as_float32(reference))
        return bool(_as_float32(value - self.min_delta) > _as_float32(reference))

    def update(self, value: float | None, weights: Any = None) -> bool:
        r"""Record one epoch's monitored ``value``; return ``True`` when training should stop.

        Parameters
        ----------
        value : float
            The monitored quantity at the end of this epoch (a real number: NaN and
            :math:`\pm\infty` are allowed and handled as Keras does, see the class notes).
        weights : Any, optional
            The model's current weights (a list of arrays, a ``state_dict``, ...). Required when
            ``restore_best_weights=True``; deep-copied only when this epoch becomes the best.

        Returns
        -------
        bool
            Whether training should stop after this epoch.
        """
        epoch = self.epochs_seen
        if value is None:
            warnings.warn(f"EarlyStopping got no monitored value at epoch {epoch}; "
                          "the epoch is skipped", RuntimeWarning, stacklevel=2)
            self.epochs_seen += 1
            return False
        if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.ndarray))
                or np.ndim(value) != 0):
            raise TypeError(f"value must be a real number, got {type(value).__name__} {value!r}")
        value = float(value)  # as Keras's fit does with every log value
        if math.isfinite(value) and abs(value) > _FLOAT32_MAX:
            raise ValueError(f"value must be within float32 range (|value| <= "
                             f"{_FLOAT32_MAX:g}), NaN or infinite, got {value}")
        if self.restore_best_weights and weights is None and epoch >= self.start_from_epoch:
            raise ValueError("weights must be given to update() when restore_best_weights=True")
        improved = epoch >= self.start_from_epoch and self._is_improvement(value, self.best)
        snapshot = None
        if improved and self.restore_best_weights:       # copy first: a failure changes nothing
            try:
                snapshot = copy.deepcopy(weights)
            except Exception as err:
                raise TypeError(f"weights must be copyable with copy.deepcopy (a list of "
                                f"arrays, a state_dict, ...), got {type(weights).__name__}: "
                                f"{err}") from err
        self.epochs_seen += 1
        if epoch < self.start_from_epoch:
            return False
        # (Keras also snapshots the weights here when best_weights is None; that only happens
        # at the first monitored epoch, which is always an improvement, so it is redundant.)
        self.wait += 1
        if improved:
            self.best = value
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = snapshot
            if self.baseline is None or self._is_improvement(value, self.baseline):
                self.wait = 0
            return False
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            return True
        return False

    def __repr__(self) -> str:
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
                f"mode={self.mode!r}, baseline={self.baseline}, "
                f"restore_best_weights={self.restore_best_weights}, "
                f"start_from_epoch={self.start_from_epoch})")
