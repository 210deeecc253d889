r"""Many seeds at once: train K independently initialised NumPy networks as one.

An effect in the book is a paired difference over at least ten seeds, so the ten runs must cost
far less than ten times one run. :func:`fit_seeds` builds one model per seed, stacks the K
members' parameters on a leading model axis (:mod:`regbook.np._stacked_layers`: every layer
batched with ``np.matmul``, the members' batches side by side), takes every optimizer step
for all K at once with the toolkit's own optimizers (their rules are elementwise, so they apply
to the stacked arrays unchanged), and copies the trained parameters back into the K models.
The numbers are those of K single :func:`regbook.np.fit_classifier` runs.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from regbook import _signatures, _stacked
from regbook._stacked import build_members, check_fit_seeds_args, run_stacked_epochs
from regbook._threads import one_blas_thread, parallel_workers
from regbook._validate import check_labels
from regbook.history import History
from regbook.np._stacked_layers import (
    StackedSequential,
    default_eval_chunk,
    stacked_cross_entropy,
    stacked_loss_accuracy,
)
from regbook.np.layers import Sequential, _leaves
from regbook.np.training import (
    _check_features,
    check_model,
    decay_names,
    make_optimizer,
    n_inputs_outputs,
    train_step,
)

__all__ = ["fit_seeds"]


def _check_member(model) -> Sequential:
    check_model(model)
    if not isinstance(model, Sequential):
        raise TypeError(f"fit_seeds trains regbook.np.Sequential models (make_mlp, make_cnn, "
                        f"...), got {type(model).__name__}")
    return model


def _describe(arrays: dict) -> list[tuple]:
    return [(k, v.shape, v.dtype.str) for k, v in arrays.items()]


def _architecture(model: Sequential) -> list[tuple]:
    """Layer by layer: type, settings (the repr), parameter and buffer shapes and dtypes."""
    return [(type(layer).__name__, repr(layer), getattr(layer, "scaling", None),
             getattr(layer, "n_in", None), _describe(layer.params), _describe(layer.buffers))
            for layer in _leaves([model])]


def _state(model: Sequential) -> list:
    """What one member must not share with another: its arrays and dropout generators."""
    leaves = _leaves([model])
    return (list(model.params.values()) + list(model.buffers.values())
            + [layer.rng for layer in leaves if isinstance(getattr(layer, "rng", None),
                                                           np.random.Generator)])


@_signatures.implements(_stacked.fit_seeds)
def fit_seeds(make_model, X_train, y_train,
              **options) -> tuple[list[Sequential], list[History]]:
    r"""Train one model per seed, all K together; the same numbers as K single runs.

    For each seed :math:`s_k` the result is what

    .. code-block:: python

        model = make_model(s_k)
        history = fit_classifier(model, X_train, y_train, ..., seed=s_k)

    gives (with the same other arguments): the same initial weights, the same batches (member
    k's permutation per epoch from ``numpy.random.default_rng(s_k)``), the same dropout masks
    (from member k's own layer generators, in the same order) and the same steps on

    .. math:: J_k(\theta_k) = -\frac{1}{|B_k|}\sum_{i \in B_k} \sum_c q_{ic}
              \log \operatorname{softmax}(f_{\theta_k}(x_i))_c
              + \lambda_1 \sum_W \lVert W_k\rVert_1 + \frac{\lambda_2}{2} \sum_W
              \lVert W_k\rVert_2^2 ,

    (:math:`q_i = (1 - \varepsilon)\,\text{onehot}(y_i) + \varepsilon / C`, ``label_smoothing``
    :math:`= \varepsilon`; the histories report the plain cross-entropy),
    equal to a single run's up to rounding (tested in float64 to 1e-8). The K members' arrays
    are stacked on a leading model axis -- a Linear's ``W`` ``(K, n_in, n_out)``, a Conv1d's
    ``w`` ``(K, C_out, C_in, k)`` -- and every layer runs once for all K with batched
    ``np.matmul`` and hand-written backward passes (batch-norm statistics and running
    estimates per member); one optimizer (:mod:`regbook.np.optimizers`, elementwise rules)
    updates the stacked arrays, keeping one state per stacked array. At the end the trained
    parameters and buffers are copied into the K models; if training fails, the models keep
    their initial weights.

    **Threads.** The members are split into as many groups as BLAS may use threads now (at
    most the usable cores and K; :func:`regbook._threads.parallel_workers`), and each group
    trains, stacked, in a thread of its own: NumPy releases the GIL in its loops and products,
    so on two cores ten seeds train in 0.6-0.75 of the time of one group. Under
    ``regbook.notebook.setup(threads=1)`` (the chapters) or
    ``threadpoolctl.threadpool_limits(1)`` there is one group. BLAS always runs on one thread
    inside (the products are small, and a multi-threaded product can round differently), and
    every member's arithmetic is its own, so the numbers depend neither on the grouping nor on
    the caller's thread settings (tested). With ``augment`` there is one group: a user's
    function is only ever called from one thread.

    The layers it stacks are those :func:`regbook.np.make_mlp` and :func:`regbook.np.make_cnn`
    build (Linear, Conv1d, BatchNorm, LayerNorm, ChannelsLast(LayerNorm), ReLU, Dropout,
    AddChannel, Flatten) and MaxPool1d, GlobalAvgPool1d; another layer is a ``TypeError``.
    There is no early stopping (nor ``seed``, ``early_stopping``, ``monitor``): for early
    stopping train the seeds one at a time with :func:`regbook.np.fit_classifier`, or pick the
    best epoch from the returned histories.

    Returns
    -------
    (list of regbook.np.Sequential, list of regbook.History)
        ``models[k]`` is ``make_model(seeds[k])`` with its trained weights (an ordinary model:
        :func:`regbook.np.predict_logits`, :func:`regbook.np.evaluate_classifier`, ...);
        ``histories[k]`` its per-epoch record, as :func:`regbook.np.fit_classifier` returns.
    """
    a = check_fit_seeds_args(make_model, X_train, y_train, **options)
    models = build_members(make_model, a["seeds"], check=_check_member,
                           architecture=_architecture, state=_state)
    train, validation = (a["X_train"], a["y_train"]), a["validation"]
    _, n_out = n_inputs_outputs(models[0])
    checks = [("train", train)] + ([("val", validation)] if validation is not None else [])
    for part, (X, y) in checks:                   # before any step
        _check_features(models[0], X, f"X_{part}")
        if n_out is not None:
            check_labels(y, f"y_{part}", n_out)
    # A user's augment function may keep state of its own: it is only ever called from one
    # thread. Otherwise the members are split into one group per usable BLAS thread.
    workers = 1 if a["augment"] is not None else parallel_workers(len(models))
    groups = [range(len(models))[g::workers] for g in range(workers)]
    chunk = default_eval_chunk(len(models))     # one for all groups: the same numbers
    if workers == 1:
        with one_blas_thread():
            stacked, histories = _train_group(models, a["seeds"], a, progress=a["progress"],
                                              chunk=chunk)
        stacked.write_back()
        return models, histories
    with one_blas_thread(), ThreadPoolExecutor(workers) as pool:
        jobs = [pool.submit(_train_group, [models[k] for k in g], [a["seeds"][k] for k in g],
                            a, progress=a["progress"] and i == 0, chunk=chunk)
                for i, g in enumerate(groups)]
        done = [job.result() for job in jobs]     # the first error, after all have ended
    histories = [None] * len(models)
    for g, (stacked, group_histories) in zip(groups, done):
        stacked.write_back()
        for k, history in zip(g, group_histories):
            histories[k] = history
    return models, histories


def _train_group(models: list[Sequential], seeds: list[int], a: dict, *,
                 progress: bool, chunk: int) -> tuple[StackedSequential, list[History]]:
    """Train ``models`` (one per seed of ``seeds``) stacked, as ``fit_seeds`` describes.

    ``chunk``: rows per member of an evaluation pass. Returns the stacked model, not yet
    written back into ``models``, and the histories.
    """
    stacked = StackedSequential(models)
    decay = decay_names(models[0], a["decay_scope"])
    opt = make_optimizer(a["optimizer"], lr=a["lr"], momentum=a["momentum"],
                         weight_decay=a["weight_decay"])
    (X, y), validation = (a["X_train"], a["y_train"]), a["validation"]
    data_loss = stacked_cross_entropy if not a["label_smoothing"] else functools.partial(
        stacked_cross_entropy, label_smoothing=a["label_smoothing"])

    def step(idx: np.ndarray, X_batch: np.ndarray | None = None) -> None:
        # idx (K, B): member k's batch in row k; X_batch (K, B, d) its augmented features
        train_step(stacked, opt, X[idx] if X_batch is None else X_batch, y[idx],
                   data_loss=data_loss, lam1=a["lam1"], lam2=a["lam2"], decay=decay)

    histories = run_stacked_epochs(
        n=len(X), epochs=a["epochs"], batch_size=a["batch_size"], seeds=seeds, step=step,
        evaluate=lambda X_, y_: stacked_loss_accuracy(stacked, X_, y_, chunk=chunk),
        train=(X, y), validation=validation, progress=progress, augment=a["augment"], features=X)
    return stacked, histories
