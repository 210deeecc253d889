r"""Records of training, the same type whichever backend trained: `History`, `FitPath`.

Framework-agnostic (imports only NumPy): :func:`regbook.np.fit_classifier`,
:func:`regbook.torch.fit_classifier` and :func:`regbook.tf.fit_classifier` all return a
:class:`History`; the gradient methods of :mod:`regbook.np` and ``fit_linear`` in every backend
return a :class:`FitPath`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["History", "FitPath"]

#: The per-epoch entries a :class:`History` may hold (Keras's key names).
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


class History(dict):
    """Per-epoch measurements of a classifier's training, keyed like Keras's ``history.history``.

    A ``dict`` of lists (``history["val_loss"]``), whose entries are also attributes
    (``history.val_loss``):

    - ``loss``, ``accuracy``: mean cross-entropy (data loss only, no penalty) and accuracy on
      the training set, measured after each epoch in evaluation mode;
    - ``val_loss``, ``val_accuracy``: the same on the validation set, when one was given.

    Attributes
    ----------
    stopped_epoch : int or None
        The (0-based) epoch after which early stopping ended training; ``None`` if every epoch
        ran.
    best_epoch : int or None
        The epoch whose weights early stopping kept as best (``None`` without early stopping).
    restored : bool
        Whether the best weights were loaded back into the model at the end.
    """

    def __init__(self, validation: bool = False):
        super().__init__(loss=[], accuracy=[])
        if validation:
            self.update(val_loss=[], val_accuracy=[])
        self.stopped_epoch: int | None = None
        self.best_epoch: int | None = None
        self.restored = False

    def __getattr__(self, name: str):
        if name in HISTORY_KEYS:
            try:
                return self[name]
            except KeyError:
                raise AttributeError(f"this History has no {name!r} (no validation data "
                                     "were given)") from None
        raise AttributeError(f"'History' object has no attribute {name!r}")

    @property
    def epochs(self) -> int:
        """Number of epochs trained."""
        return len(self["loss"])

    def record(self, prefix: str, loss: float, accuracy: float) -> None:
        """Append one epoch's ``loss`` and ``accuracy`` under ``prefix`` (``""`` or ``"val_"``)."""
        self[prefix + "loss"].append(float(loss))
        self[prefix + "accuracy"].append(float(accuracy))

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.items() if v)
        return f"History(epochs={self.epochs}, {last})"


@dataclass(frozen=True)
class FitPath:
    """The iterates of a fitter (a gradient method, or ``fit_linear`` in any backend).

    Attributes
    ----------
    coefs : numpy.ndarray, shape (n_steps + 1, p)
        :math:`w` at the start (row 0) and after every step.
    intercepts : numpy.ndarray, shape (n_steps + 1,)
        :math:`b` at the start and after every step.
    losses : numpy.ndarray, shape (n_steps + 1,)
        The objective :math:`F(w, b)` (data loss plus penalties) at each iterate.
    lr : float
        The step size used.
    """

    coefs: np.ndarray
    intercepts: np.ndarray
    losses: np.ndarray
    lr: float

    @property
    def coef(self) -> np.ndarray:
        """The final weights :math:`w`."""
        return self.coefs[-1]

    @property
    def intercept(self) -> float:
        """The final intercept :math:`b`."""
        return float(self.intercepts[-1])

    @property
    def n_steps(self) -> int:
        """Number of steps taken."""
        return len(self.losses) - 1
