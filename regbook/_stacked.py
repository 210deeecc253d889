r"""Framework-agnostic parts of ``fit_seeds``: training K seeds of one model together.

``fit_seeds(make_model, X_train, y_train, *, seeds, ...)`` exists in :mod:`regbook.np`,
:mod:`regbook.torch` and :mod:`regbook.tf` with the same parameters. For every seed
:math:`s_k` it must give what

.. code-block:: python

    model = make_model(s_k)
    history = fit_classifier(model, X_train, y_train, ..., seed=s_k)

gives: the same initial weights, the same batches (a NumPy permutation per epoch drawn from
``numpy.random.default_rng(s_k)``, :func:`regbook._training.minibatches`), the same updates.
The argument checks, the construction of the K members (with the check that they share one
architecture) and the epoch loop over K batch orders at once live here; a backend supplies the
stacked step and the stacked evaluation (:func:`run_stacked_epochs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from regbook._training import augment_rng, augmented_batch, check_fit_classifier_args, minibatches
from regbook._validate import check_seed
from regbook.history import History

__all__ = ["fit_seeds", "check_seeds", "check_fit_seeds_args", "build_members",
           "run_stacked_epochs"]


# The specification of every backend's ``fit_seeds`` (never called): its signature and its
# docstring, the shared *Parameters* section, are given to the backends' functions by
# regbook._signatures.implements (as the specifications in regbook/_signatures.py are).
def fit_seeds(make_model, X_train, y_train, *, seeds, X_val=None, y_val=None,
              optimizer: str = "adam", lr: float = 1e-3, momentum: float = 0.0,
              weight_decay: float = 0.0, lam1: float = 0.0, lam2: float = 0.0,
              decay_scope: str = "weights", epochs: int = 100, batch_size: int = 32,
              augment=None, label_smoothing: float = 0.0, progress: bool = False):
    """
    Parameters
    ----------
    make_model : callable
        ``make_model(seed)`` builds one model of this backend, e.g.
        ``lambda s: backend.make_cnn(seed=s)``. Every seed must give a new model of the same
        architecture (layers, settings, parameter shapes and dtypes), checked before any
        training.
    X_train, y_train : array_like, shapes (n, d) and (n,)
        As in ``fit_classifier``: every member trains on the same data, each in its own order.
    seeds : sequence of int
        Distinct seeds in ``[0, 2**32 - 1]``, at least one: seed ``s`` builds ``make_model(s)``
        and orders its batches (a NumPy permutation per epoch from
        ``numpy.random.default_rng(s)``), as ``fit_classifier(..., seed=s)`` does.
    X_val, y_val : array_like, optional
        Validation data (both or neither), measured for every member after every epoch.
    optimizer, lr, momentum, weight_decay, lam1, lam2, decay_scope, epochs, batch_size
        As in ``fit_classifier`` (``optimizer`` by name: each member has its own state).
    augment : callable, optional
        As in ``fit_classifier``: ``augment(X_batch, rng)`` on every training batch of every
        member, member k with its own generator ``numpy.random.default_rng([seeds[k], 1])``,
        so that member k sees the augmented batches of ``fit_classifier(..., seed=seeds[k])``.
    label_smoothing : float
        As in ``fit_classifier``: every member trains on the smoothed cross-entropy; the
        histories report the plain one.
    progress : bool
        Show a progress bar over the epochs.
    """


def check_seeds(seeds) -> list[int]:
    """``seeds`` as a non-empty list of distinct ints in ``[0, 2**32 - 1]``."""
    if (isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray))
            or (isinstance(seeds, np.ndarray) and seeds.ndim != 1)):
        raise TypeError(f"seeds must be a sequence of ints such as range(10) or [0, 1, 2], got "
                        f"{type(seeds).__name__} {seeds!r}")
    checked = [check_seed(s, f"seeds[{i}]") for i, s in enumerate(seeds)]
    if not checked:
        raise ValueError("seeds must name at least one seed, got an empty sequence")
    seen: dict[int, int] = {}
    for i, s in enumerate(checked):
        if s in seen:
            raise ValueError(f"seeds must be distinct: seeds[{seen[s]}] and seeds[{i}] are both "
                             f"{s} (the two models would be the same run)")
        seen[s] = i
    return checked


def check_fit_seeds_args(make_model, X_train, y_train, *, seeds, X_val, y_val, optimizer, lr,
                         momentum, weight_decay, lam1, lam2, decay_scope, epochs, batch_size,
                         progress, augment=None, label_smoothing=0.0, dtype=np.float32,
                         model_type: type | tuple = ()) -> dict:
    """Validate ``fit_seeds``'s arguments (all backends); return them converted, in a dict.

    ``fit_classifier``'s own checks (:func:`regbook._training.check_fit_classifier_args`,
    features as ``dtype``) plus ``make_model`` (callable, and not itself a model: a
    ``model_type``, which frameworks make callable) and ``seeds`` (:func:`check_seeds`),
    under ``"seeds"`` in the result.
    """
    if not callable(make_model) or isinstance(make_model, model_type):
        raise TypeError("make_model must be callable, make_model(seed) -> a new model (e.g. "
                        f"lambda s: backend.make_cnn(seed=s)), got {type(make_model).__name__}")
    seeds = check_seeds(seeds)
    a = check_fit_classifier_args(
        X_train, y_train, X_val, y_val, optimizer=optimizer, lr=lr, momentum=momentum,
        weight_decay=weight_decay, lam1=lam1, lam2=lam2, decay_scope=decay_scope, epochs=epochs,
        batch_size=batch_size, seed=seeds[0], early_stopping=None, monitor="val_loss",
        progress=progress, augment=augment, label_smoothing=label_smoothing, dtype=dtype)
    a["seeds"] = seeds
    return a


def build_members(make_model: Callable[[int], Any], seeds: list[int], *,
                  check: Callable[[Any], Any], architecture: Callable[[Any], Any],
                  state: Callable[[Any], list]) -> list:
    """``[make_model(s) for s in seeds]``, each checked, all of one architecture, none shared.

    ``check(model)`` refuses an object that is not a model of the backend (and returns it);
    ``architecture(model)`` is a comparable description (layer types, settings, parameter
    shapes and dtypes) that must be the same for every member; ``state(model)`` lists the
    objects a member must not share with another (its arrays or tensors, its generators).
    """
    models = []
    for s in seeds:
        model = make_model(s)
        try:
            models.append(check(model))
        except TypeError as err:
            raise TypeError(f"make_model({s}) did not return a model of this backend: "
                            f"{err}") from err
    first = architecture(models[0])
    for s, model in zip(seeds[1:], models[1:]):
        if architecture(model) != first:
            raise ValueError(f"make_model({s}) built a model whose architecture (layers, "
                             f"settings, parameter shapes or dtypes) differs from "
                             f"make_model({seeds[0]})'s: every seed must build the same network")
    owner: dict[int, int] = {}
    for s, model in zip(seeds, models):
        for obj in state(model):
            if owner.setdefault(id(obj), s) != s:
                raise ValueError(f"make_model({owner[id(obj)]}) and make_model({s}) returned "
                                 "models that share parameters or generators: make_model must "
                                 "build a new model at every call")
    return models


def run_stacked_epochs(
    *,
    n: int,
    epochs: int,
    batch_size: int,
    seeds: list[int],
    step: Callable[[np.ndarray], Any],
    evaluate: Callable[[np.ndarray, np.ndarray], list[tuple[float, float]]],
    train: tuple,
    validation: tuple | None,
    progress: bool,
    augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    features: np.ndarray | None = None,
) -> list[History]:
    """The epoch loop of ``fit_seeds``: :func:`regbook._training.run_epochs` for K seeds at once.

    Every epoch, member :math:`k` visits the examples in a fresh permutation drawn from its own
    ``numpy.random.default_rng(seeds[k])``, cut into the batches of
    :func:`regbook._training.minibatches` -- exactly the batches a single run with
    ``seed=seeds[k]`` sees. As every member has the same ``n`` and ``batch_size``, the members'
    j-th batches have one size ``B``, and ``step(indices)`` gets them as one ``(K, B)`` array
    (row k: member k's example indices). After each epoch ``evaluate(*train)`` (and
    ``evaluate(*validation)``) returns one ``(loss, accuracy)`` per member, recorded in that
    member's :class:`~regbook.History`. No early stopping.

    With ``augment``, member k's batch features are ``augment(features[row k], rng_k)`` with
    its own ``rng_k`` = :func:`regbook._training.augment_rng` ``(seeds[k])`` (each checked by
    :func:`regbook._training.augmented_batch`), fresh at every step, and the step is
    ``step(indices, X_batch)`` with ``X_batch`` of shape ``(K, B, d)``: what K single runs see.
    """
    histories = [History(validation is not None) for _ in seeds]
    rngs = [np.random.default_rng(s) for s in seeds]
    aug_rngs = [augment_rng(s) for s in seeds] if augment is not None else None
    epoch_iter = range(epochs)
    if progress:
        from tqdm import tqdm  # plain tqdm, as in run_epochs

        epoch_iter = tqdm(epoch_iter, desc="epochs")
    for _ in epoch_iter:
        orders = [minibatches(rng.permutation(n), batch_size) for rng in rngs]
        for batch in zip(*orders):
            if augment is None:
                step(np.stack(batch))
            else:
                step(np.stack(batch), np.stack([augmented_batch(augment, features[idx], r)
                                                for idx, r in zip(batch, aug_rngs)]))
        for prefix, data in (("", train), ("val_", validation)):
            if data is None:
                continue
            for history, (loss, accuracy) in zip(histories, evaluate(*data), strict=True):
                history.record(prefix, loss, accuracy)
    return histories
