r"""A measured ablation of regularizers: one network, many settings, many seeds, any backend.

One :class:`Setting` switches on any combination of

- **L2** -- the book's :math:`\frac{\lambda_2}{2}\sum_W \lVert W\rVert^2` in the loss;
- **L1** -- :math:`\lambda_1\sum_W \lVert W\rVert_1` in the loss;
- **dropout** -- a dropout layer (drop probability :math:`p`) after every hidden ReLU;
- **batch norm** -- a batch-norm layer between every hidden linear layer or convolution and its
  ReLU;
- **early stopping** -- :class:`regbook.EarlyStopping` on the validation loss, restoring the
  best epoch's weights (the only setting that *uses* the validation data);

(the penalties act on the weights only, not on biases or batch-norm parameters), trains the
network -- ``model="mlp"`` (``backend.make_mlp``) or ``model="cnn"`` (``backend.make_cnn``,
MNIST-1D's convolutional network) -- with Adam on a training split and reports its final
training, validation and test accuracy, the generalisation gap, the test cross-entropy and the
test expected calibration error (:mod:`regbook.calibration`). :func:`train_setting` trains
one seed with ``backend.fit_classifier``; :func:`run_ablation` trains a grid of settings, the
seeds of a setting all at once with ``backend.fit_seeds``, and returns a tidy table (a list of
dicts, one row per run), which :func:`summarize_ablation` condenses into means and paired 95%
intervals of the differences to a baseline setting (:func:`regbook.stats.paired_interval`),
:func:`paired_effects` into :class:`regbook.stats.Interval` objects, and
:func:`ablation_table` renders.

The training is the shared vocabulary of the backends (:mod:`regbook.backends`):
``make_mlp``/``make_cnn``, ``fit_classifier``, ``fit_seeds``, ``predict_logits`` and
``evaluate_classifier`` of ``backend``, one of ``"np"``, ``"torch"``, ``"tf"``. This module
imports no framework.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from regbook import backends
from regbook._validate import (
    check_bool,
    check_choice,
    check_classification_data,
    check_float,
    check_int,
    check_seed,
)
from regbook.calibration import expected_calibration_error, softmax
from regbook.data import Split
from regbook.early_stopping import EarlyStopping
from regbook.stats import Interval, paired_interval

__all__ = ["Setting", "ablation_grid", "train_setting", "run_ablation", "summarize_ablation",
           "paired_effects", "ablation_table"]

#: The architectures a setting can be applied to.
MODELS = ("mlp", "cnn")


@dataclass(frozen=True)
class Setting:
    r"""Which regularizers one run switches on (all off by default: the plain network).

    Parameters
    ----------
    name : str
        A short label, unique within a grid (e.g. ``"L2+dropout"``).
    lam2 : float
        The book's L2 strength :math:`\lambda_2 \ge 0`: :math:`\frac{\lambda_2}{2}\sum_W
        \lVert W\rVert^2` in the loss.
    lam1 : float
        The book's L1 strength :math:`\lambda_1 \ge 0`: :math:`\lambda_1\sum_W\lVert W\rVert_1`
        in the loss.
    dropout : float
        Drop probability :math:`p \in [0, 1)` after every hidden ReLU (0: no dropout layer).
    batchnorm : bool
        Insert a batch-norm layer before every hidden ReLU.
    patience : int, optional
        Early stopping on the validation loss with this patience (>= 0); ``None``: train all
        epochs.
    """

    name: str
    lam2: float = 0.0
    lam1: float = 0.0
    dropout: float = 0.0
    batchnorm: bool = False
    patience: int | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        check_float(self.lam2, "lam2", minimum=0.0)
        check_float(self.lam1, "lam1", minimum=0.0)
        check_float(self.dropout, "dropout", minimum=0.0, maximum=1.0, include_max=False)
        check_bool(self.batchnorm, "batchnorm")
        if self.patience is not None:
            check_int(self.patience, "patience", minimum=0)


def ablation_grid(*, lam2: float = 1e-3, lam1: float | None = None, dropout: float = 0.5,
                  patience: int = 10, extended: bool = False) -> list[Setting]:
    """The chapter's grid: each regularizer alone, and the combinations people actually use.

    ``none``, ``L2``, ``dropout``, ``batch norm``, ``early stopping``, ``L2+dropout`` and
    ``dropout+ES`` (ES: early stopping), with the given strengths; with ``lam1`` also ``L1``
    (after ``L2``); with ``extended`` also ``L2+dropout+ES`` and ``BN+dropout`` (BN: batch
    norm).
    """
    lam2 = check_float(lam2, "lam2", minimum=0.0, include_min=False)
    if lam1 is not None:
        lam1 = check_float(lam1, "lam1", minimum=0.0, include_min=False)
    dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, include_min=False,
                          include_max=False)
    patience = check_int(patience, "patience", minimum=0)
    extended = check_bool(extended, "extended")
    return [
        Setting("none"),
        Setting("L2", lam2=lam2),
        *([Setting("L1", lam1=lam1)] if lam1 is not None else []),
        Setting("dropout", dropout=dropout),
        Setting("batch norm", batchnorm=True),
        Setting("early stopping", patience=patience),
        Setting("L2+dropout", lam2=lam2, dropout=dropout),
        Setting("dropout+ES", dropout=dropout, patience=patience),
        *([Setting("L2+dropout+ES", lam2=lam2, dropout=dropout, patience=patience),
           Setting("BN+dropout", batchnorm=True, dropout=dropout)] if extended else []),
    ]


def _check_options(*, seed, model, hidden, epochs, lr, batch_size, return_model,
                   dtype="float32") -> dict:
    # train_setting's options, converted; run_ablation checks them once before the first run.
    model = check_choice(model, "model", MODELS)
    if hidden is None:
        widths = (128,) if model == "mlp" else None
    elif model == "cnn":
        raise ValueError("hidden is for model='mlp'; model='cnn' is backend.make_cnn's "
                         "network with its default channels")
    elif isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of int, got {type(hidden).__name__}")
    else:
        widths = tuple(check_int(h, f"hidden[{i}]", minimum=1) for i, h in enumerate(hidden))
    dtype = check_choice(dtype, "dtype", ("float32", "float64"))
    return dict(seed=check_seed(seed), model=model, hidden=widths, dtype=dtype,
                epochs=check_int(epochs, "epochs", minimum=1),
                lr=check_float(lr, "lr", minimum=0.0, include_min=False),
                batch_size=check_int(batch_size, "batch_size", minimum=2),
                return_model=check_bool(return_model, "return_model"))


def _split_data(split: Split, name: str = "split"):
    # ((X_train, y_train), (X_val, y_val), (X_test, y_test)), validated.
    if not isinstance(split, Split):
        raise TypeError(f"{name} must be a regbook.data.Split, got {type(split).__name__}")
    X_tr, y_tr, val = check_classification_data(split.X_train, split.y_train, split.X_val,
                                                split.y_val)
    X_te, y_te, _ = check_classification_data(split.X_test, split.y_test)
    return (X_tr, y_tr), val, (X_te, y_te)


def _n_classes(parts) -> int:
    return max(int(max(y.max() for _, y in parts)) + 1, 2)


def _builder(module: ModuleType, setting: Setting, opts: dict, n_inputs: int,
             n_classes: int) -> Callable[[int], Any]:
    # seed -> the network the setting asks for, in the backend `module`
    if opts["model"] == "cnn":
        return lambda seed: module.make_cnn(n_inputs, n_classes, dropout=setting.dropout,
                                            batchnorm=setting.batchnorm, seed=seed,
                                            dtype=opts["dtype"])
    return lambda seed: module.make_mlp(n_inputs, opts["hidden"], n_classes,
                                        dropout=setting.dropout, batchnorm=setting.batchnorm,
                                        seed=seed, dtype=opts["dtype"])


def _row(module: ModuleType, setting: Setting, model, parts, seed: int, epochs: int) -> dict:
    # one tidy row: the trained network measured on the three parts, in evaluation mode
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = parts
    (train_loss, train_acc), (_, val_acc), (test_loss, test_acc) = (
        module.evaluate_classifier(model, X, y) for X, y in parts)
    logits = np.asarray(module.predict_logits(model, X_te), dtype=np.float64)
    return dict(setting=setting.name, backend=module.__name__.rsplit(".", 1)[-1], seed=seed,
                train_accuracy=train_acc, val_accuracy=val_acc, test_accuracy=test_acc,
                gap=train_acc - test_acc, train_loss=train_loss, test_loss=test_loss,
                test_ece=expected_calibration_error(logits, y_te),
                test_confidence=float(softmax(logits).max(axis=1).mean()), epochs=epochs)


def train_setting(
    setting: Setting,
    split: Split,
    *,
    backend: str | ModuleType = "torch",
    seed: int = 0,
    model: str = "mlp",
    hidden: Sequence[int] | None = None,
    epochs: int = 150,
    lr: float = 3e-3,
    batch_size: int = 50,
    dtype: str = "float32",
    return_model: bool = False,
) -> dict | tuple[dict, Any]:
    r"""Train one network under one setting and seed; return its accuracies, gap and calibration.

    Builds ``backend.make_mlp(n_inputs, hidden, n_classes, dropout=setting.dropout,
    batchnorm=setting.batchnorm, seed=seed)`` (``model="mlp"``) or ``backend.make_cnn(n_inputs,
    n_classes, dropout=..., batchnorm=..., seed=seed)`` (``model="cnn"``) and trains it with
    ``backend.fit_classifier`` (Adam, mini-batches reshuffled every epoch from ``seed``),
    minimising per batch

    .. math:: J(\theta) = -\frac{1}{|B|}\sum_{i\in B}\log\operatorname{softmax}
              (f_\theta(x_i))_{y_i} + \lambda_1 \sum_W \lVert W\rVert_1
              + \frac{\lambda_2}{2} \sum_W \lVert W\rVert^2

    over the weights :math:`W` (no biases, no batch-norm parameters). The L2 term's gradient
    :math:`\lambda_2 W` is exactly what Adam's *coupled* ``weight_decay`` :math:`= \lambda_2` on
    the weights adds (PyTorch's ``torch.optim.Adam``), so the two are the same training. With
    ``setting.patience`` set, a :class:`regbook.EarlyStopping` (``restore_best_weights=True``)
    watches the validation loss; otherwise the validation data are only measured.

    Parameters
    ----------
    setting : Setting
    split : regbook.data.Split
        Training, validation and test data (e.g. ``regbook.data.mnist1d(n_val=500,
        n_train=1000)``); the validation part must not be empty.
    backend : {"np", "torch", "tf"} or one of those modules
        The framework that trains (:func:`regbook.backends.get`).
    seed : int
        Seed of the initial weights, the batch order and the dropout masks.
    model : {"mlp", "cnn"}
        ``backend.make_mlp`` or ``backend.make_cnn`` (its default channels and kernels).
    hidden : sequence of int, optional
        Hidden widths of the MLP (default ``(128,)``); not for ``model="cnn"``.
    epochs : int
        Maximum number of epochs, >= 1.
    lr : float
        Adam's learning rate, > 0.
    batch_size : int
        Examples per step, >= 2 (training-mode batch norm needs two); a last batch of one
        example is skipped.
    dtype : {"float32", "float64"}
        Of the network's parameters (float64 to compare runs to rounding).
    return_model : bool
        Also return the trained (or restored) network.

    Returns
    -------
    dict (and, with ``return_model``, the model)
        ``setting`` (its name), ``backend`` (``"np"``, ``"torch"`` or ``"tf"``), ``seed``,
        ``train_accuracy``, ``val_accuracy``, ``test_accuracy`` (of the final -- or restored --
        network, in evaluation mode), ``gap`` :math:`=` training minus test accuracy,
        ``train_loss`` and ``test_loss`` (mean cross-entropy, without penalty), ``test_ece``
        (:func:`regbook.calibration.expected_calibration_error` of the test logits, 15 bins),
        ``test_confidence`` (mean over the test examples of the largest softmax probability)
        and ``epochs`` (epochs trained).
    """
    if not isinstance(setting, Setting):
        raise TypeError(f"setting must be a regbook.ablation.Setting, got "
                        f"{type(setting).__name__}")
    module = backends.get(backend)
    opts = _check_options(seed=seed, model=model, hidden=hidden, epochs=epochs, lr=lr,
                          batch_size=batch_size, return_model=return_model, dtype=dtype)
    parts = _split_data(split)
    (X_tr, y_tr), (X_va, y_va), _ = parts
    net = _builder(module, setting, opts, X_tr.shape[1], _n_classes(parts))(opts["seed"])
    stopper = (None if setting.patience is None
               else EarlyStopping(patience=setting.patience, restore_best_weights=True))
    history = module.fit_classifier(
        net, X_tr, y_tr, X_val=X_va, y_val=y_va, optimizer="adam", lr=opts["lr"],
        lam1=setting.lam1, lam2=setting.lam2, epochs=opts["epochs"],
        batch_size=opts["batch_size"], seed=opts["seed"], early_stopping=stopper)
    row = _row(module, setting, net, parts, opts["seed"], len(history["loss"]))
    return (row, net) if opts["return_model"] else row


def _stopping_epochs(val_loss: Sequence[float], patience: int) -> tuple[int, int]:
    # (epochs trained, best epoch) of regbook.EarlyStopping fed these validation losses
    stopper = EarlyStopping(patience=patience)
    for epoch, value in enumerate(val_loss):
        if stopper.update(float(value)):
            return epoch + 1, stopper.best_epoch
    return len(val_loss), stopper.best_epoch


def _early_stopped(module: ModuleType, setting: Setting, opts: dict, data, done: dict) -> dict:
    # {seed: (network, epochs trained)} of early stopping, from the twin's long runs `done`
    # ({seed: (network, history)}): each seed retrained up to its best epoch (the long run's
    # network when that is the last), seeds of one length together
    stops = {seed: _stopping_epochs(history["val_loss"], setting.patience)
             for seed, (_, history) in done.items()}
    by_length: dict[int, list[int]] = {}
    for seed, (_, best) in stops.items():
        by_length.setdefault(best + 1, []).append(seed)
    (X_tr, y_tr), _, _ = data
    make = _builder(module, setting, opts, X_tr.shape[1], _n_classes(data))
    out = {}
    for length, members in by_length.items():
        if length == opts["epochs"]:
            nets = [done[seed][0] for seed in members]
        else:
            nets, _ = module.fit_seeds(make, X_tr, y_tr, seeds=members, optimizer="adam",
                                       lr=opts["lr"], lam1=setting.lam1, lam2=setting.lam2,
                                       epochs=length, batch_size=opts["batch_size"])
        out.update({seed: (net, stops[seed][0]) for seed, net in zip(members, nets)})
    return out


def run_ablation(settings: Iterable[Setting], split: Split | Callable[[int], Split], *,
                 backend: str | ModuleType = "torch", seeds: Iterable[int] = range(5),
                 **kwargs) -> list[dict]:
    r"""Train every setting under every seed; one row (a dict, see :func:`train_setting`) per run.

    The seeds of a setting that share one split train together, with ``backend.fit_seeds``
    (the same numbers as one :func:`train_setting` per seed, up to float rounding: the same
    initial weights, batches, dropout masks and Adam steps; in float32 a long run may drift
    apart by rounding, in float64 it agrees to ~1e-8). ``fit_seeds`` has no early
    stopping, so a setting with a ``patience`` is run in two passes:

    1. its twin without early stopping (the setting with ``patience=None``; its run is shared
       with that setting when the grid holds it) trains all ``epochs`` while the validation
       loss is recorded; :class:`regbook.EarlyStopping` ``(patience)`` fed seed :math:`k`'s
       validation losses gives the epoch :math:`t_k` it would stop after and the best epoch
       :math:`b_k` before it;
    2. seed :math:`k` is trained again for :math:`b_k + 1` epochs (seeds with the same
       :math:`b_k` together), which gives exactly the network of epoch :math:`b_k` of the long
       run -- the same batches and steps so far -- i.e. the weights
       ``fit_classifier(..., early_stopping=EarlyStopping(patience, restore_best_weights=True))``
       restores. The row's ``epochs`` is :math:`t_k`, the epochs that run would have trained.

    Parameters
    ----------
    settings : iterable of Setting
        With unique names.
    split : regbook.data.Split or callable
        The data of every run, or a function ``seed -> Split`` (e.g.
        ``lambda s: regbook.data.digits_split(n_train=200, seed=s)``) so that the seed also
        draws the training, validation and test examples (then each seed trains alone).
        Called once per seed: every setting sees the same data and the same initial weights
        under one seed (a paired comparison). Early stopping alone uses the validation part;
        the other settings only measure it.
    backend : {"np", "torch", "tf"} or one of those modules
        The framework that trains.
    seeds : iterable of int
        Distinct seeds, >= 0.
    **kwargs
        ``model``, ``hidden``, ``epochs``, ``lr``, ``batch_size``, ``dtype`` for
        :func:`train_setting`.

    Returns
    -------
    list of dict
        Rows setting by setting, seeds in the given order. All arguments (and every split) are
        checked before the first run starts.
    """
    settings, seeds = list(settings), list(seeds)
    if not settings:
        raise ValueError("settings must hold at least one Setting")
    for s in settings:
        if not isinstance(s, Setting):
            raise TypeError(f"settings must hold regbook.ablation.Setting objects, got "
                            f"{type(s).__name__}")
    names = [s.name for s in settings]
    if len(set(names)) != len(names):
        raise ValueError(f"setting names must be unique, got {names}")
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    seeds = [check_seed(s, f"seeds[{i}]") for i, s in enumerate(seeds)]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be unique, got {seeds}")
    unknown = set(kwargs) - {"model", "hidden", "epochs", "lr", "batch_size", "dtype"}
    if unknown:
        raise TypeError(f"unexpected keyword arguments {sorted(unknown)}")
    module = backends.get(backend)
    defaults = dict(model="mlp", hidden=None, epochs=150, lr=3e-3, batch_size=50,
                    return_model=False)
    opts = _check_options(seed=seeds[0], **{**defaults, **kwargs})
    if isinstance(split, Split):
        splits = {seed: split for seed in seeds}
    elif callable(split):
        splits = {seed: split(seed) for seed in seeds}
    else:
        raise TypeError(f"split must be a regbook.data.Split or a callable, got "
                        f"{type(split).__name__}")
    parts = {seed: _split_data(value, "split" if isinstance(split, Split) else f"split({seed})")
             for seed, value in splits.items()}
    groups: dict[int, list[int]] = {}        # seeds that share one split train together
    for seed in seeds:
        groups.setdefault(id(splits[seed]), []).append(seed)
    runs: dict = {}                          # (twin, group) -> {seed: (model, history)}
    stopped = {replace(s, name="twin", patience=None) for s in settings if s.patience is not None}

    def full_run(twin: Setting, group: list[int]) -> dict:
        key = (twin, tuple(group))
        if key not in runs:
            data = parts[group[0]]
            (X_tr, y_tr), (X_va, y_va), _ = data
            make = _builder(module, twin, opts, X_tr.shape[1], _n_classes(data))
            val = dict(X_val=X_va, y_val=y_va) if twin in stopped else {}  # only ES needs it
            runs[key] = dict(zip(group, zip(*module.fit_seeds(
                make, X_tr, y_tr, seeds=group, **val, optimizer="adam",
                lr=opts["lr"], lam1=twin.lam1, lam2=twin.lam2, epochs=opts["epochs"],
                batch_size=opts["batch_size"]))))
        return runs[key]

    results: dict = {}                       # (setting name, seed) -> row
    for setting in settings:
        twin = replace(setting, name="twin", patience=None)
        for group in groups.values():
            data = parts[group[0]]
            done = full_run(twin, group)
            if setting.patience is None:
                for seed in group:
                    results[setting.name, seed] = _row(module, setting, done[seed][0], data,
                                                       seed, opts["epochs"])
                continue
            for seed, (net, epochs) in _early_stopped(module, setting, opts, data,
                                                      done).items():
                results[setting.name, seed] = _row(module, setting, net, data, seed, epochs)
    return [results[s.name, seed] for s in settings for seed in seeds]


_SUMMARY_KEYS = ("train_accuracy", "val_accuracy", "test_accuracy", "gap", "train_loss",
                 "test_loss", "test_ece", "test_confidence", "epochs")

#: summary prefix -> the row key whose paired difference to the baseline it summarises
DELTAS = {"delta_accuracy": "test_accuracy", "delta_loss": "test_loss", "delta_ece": "test_ece",
          "delta_gap": "gap"}


def _mean_std(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), std


def _check_dicts(items: list, name: str, keys: Sequence[str], hint: str) -> None:
    # Every item a dict holding `keys`; `hint` says what to pass instead.
    if not items:
        raise ValueError(f"{name} must not be empty")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise TypeError(f"{name} must hold dicts, got {type(item).__name__} at {name}[{i}]")
        missing = [k for k in keys if k not in item]
        if missing:
            raise ValueError(f"{name}[{i}] lacks the keys {missing}: {hint}")


def _grouped(rows: Sequence[dict], baseline: str | None, keys: Sequence[str]):
    # (setting names in order, {name: rows of that setting}, {seed: baseline row}), checked
    rows = list(rows)
    _check_dicts(rows, "rows", ("setting", "seed", *keys),
                 "pass the rows of run_ablation (not the output of summarize_ablation)")
    if baseline is not None and not isinstance(baseline, str):
        raise TypeError(f"baseline must be a setting name or None, got {type(baseline).__name__}")
    names = list(dict.fromkeys(r["setting"] for r in rows))
    if baseline is not None and baseline not in names:
        raise ValueError(f"baseline must be one of the settings {names}, got {baseline!r}")
    groups = {name: [r for r in rows if r["setting"] == name] for name in names}
    for name, group in groups.items():
        seeds = [r["seed"] for r in group]
        if len(set(seeds)) != len(seeds) or len({r.get("backend") for r in group}) > 1:
            raise ValueError(f"rows hold setting {name!r} more than once per seed or from "
                             "several backends; summarize one backend's run_ablation at a time")
    base = {r["seed"]: r for r in groups.get(baseline, [])}
    if baseline is not None:
        for name, group in groups.items():
            if {r["seed"] for r in group} != set(base):
                raise ValueError(f"setting {name!r} was not run under the seeds of the baseline")
    return names, groups, base


def summarize_ablation(rows: Sequence[dict], *, baseline: str | None = "none",
                       level: float = 0.95) -> list[dict]:
    r"""Means over seeds per setting, and paired intervals of the differences to a baseline.

    Each output row (settings in order of first appearance) has ``setting``, ``n_seeds`` and,
    for every ``key`` of ``train_accuracy, val_accuracy, test_accuracy, gap, train_loss,
    test_loss, test_ece, test_confidence, epochs``, ``key + "_mean"`` and ``key + "_std"``
    (the sample standard deviation over seeds, :math:`n - 1` in the denominator, 0 for one
    seed: a description of the runs, not evidence of a difference).

    With a ``baseline`` setting name, also the paired differences to it, seed by seed (same
    data and initial weights), :math:`d_s = m_s - m_s^\text{baseline}` for the test accuracy
    (``delta_accuracy``), the test loss (``delta_loss``), the test expected calibration error
    (``delta_ece``) and the gap (``delta_gap``): ``_mean`` and ``_std`` of :math:`d_s` (0 for
    the baseline itself) and, with two or more seeds, the bounds ``_low`` and ``_high`` of
    :func:`regbook.stats.paired_interval` at ``level`` (not for the baseline).

    ``rows`` are :func:`run_ablation`'s (one per setting and seed, of one backend): a setting
    run twice under one seed, or under several backends, is refused.
    """
    level = check_float(level, "level", minimum=0.0, maximum=1.0, include_min=False,
                        include_max=False)
    names, groups, base = _grouped(rows, baseline, _SUMMARY_KEYS)
    out = []
    for name in names:
        group = groups[name]
        summary: dict = dict(setting=name, n_seeds=len(group))
        for key in _SUMMARY_KEYS:
            summary[key + "_mean"], summary[key + "_std"] = _mean_std([r[key] for r in group])
        if baseline is not None:
            for prefix, field in DELTAS.items():
                ours = [r[field] for r in group]
                theirs = [base[r["seed"]][field] for r in group]
                summary[prefix + "_mean"], summary[prefix + "_std"] = _mean_std(
                    np.subtract(ours, theirs))
                if len(group) > 1 and name != baseline:
                    interval = paired_interval(ours, theirs, level=level)
                    summary[prefix + "_low"], summary[prefix + "_high"] = (interval.low,
                                                                           interval.high)
        out.append(summary)
    return out


def paired_effects(rows: Sequence[dict], key: str = "test_accuracy", *,
                   baseline: str = "none", level: float = 0.95) -> dict[str, Interval]:
    r"""Every setting's paired interval of ``key`` minus the baseline's, seed by seed.

    .. math:: d_s = m_s - m_s^\text{baseline}, \qquad
              \bar d \pm t_{(1+\text{level})/2,\,n-1}\, s_d/\sqrt n

    (:func:`regbook.stats.paired_interval`; its ``verdict`` says ``"higher"`` or ``"lower"``
    only when the interval excludes 0 over at least ten seeds).

    Parameters
    ----------
    rows : sequence of dict
        :func:`run_ablation`'s rows (one backend), every setting under the baseline's seeds.
    key : str
        A numeric row entry, e.g. ``"test_accuracy"``, ``"test_loss"``, ``"test_ece"``,
        ``"gap"``.
    baseline : str
        The setting every other is compared with.
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    dict of str to regbook.stats.Interval
        One per setting other than the baseline, in order of first appearance.
    """
    if not isinstance(key, str):
        raise TypeError(f"key must be the name of a row entry, got {type(key).__name__}")
    if not isinstance(baseline, str):
        raise TypeError(f"baseline must be a setting name, got {type(baseline).__name__}")
    names, groups, base = _grouped(rows, baseline, (key,))
    return {name: paired_interval([r[key] for r in groups[name]],
                                  [base[r["seed"]][key] for r in groups[name]], level=level)
            for name in names if name != baseline}


def ablation_table(summary: Sequence[dict]) -> str:
    """A Markdown table of :func:`summarize_ablation`'s output: means, and paired intervals.

    Columns: setting, test accuracy (%), test loss, test expected calibration error (%),
    generalisation gap (percentage points), epochs trained (means over seeds) and -- when the
    summary has them -- the paired differences to the baseline of the test accuracy (points),
    the test loss and the calibration error (points), each as its mean and 95% interval,
    e.g. ``+1.2 [+0.3, +2.1]`` (a dash for the baseline).
    """
    summary = list(summary)
    _check_dicts(summary, "summary", ["setting"] + [k + "_mean" for k in _SUMMARY_KEYS],
                 "pass summarize_ablation(rows), not the rows of run_ablation")
    paired = all("delta_accuracy_mean" in s for s in summary)

    def delta(s: dict, prefix: str, scale: float, digits: int) -> str:
        if prefix + "_low" not in s:
            return "–"
        lo, mid, hi = (scale * s[prefix + k] for k in ("_low", "_mean", "_high"))
        return f"{mid:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"

    header = ["setting", "test accuracy (%)", "test loss", "ECE (%)", "gap (points)", "epochs"]
    if paired:
        header += ["Δ accuracy (points)", "Δ test loss", "Δ ECE (points)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for s in summary:
        cells = [s["setting"], f"{100 * s['test_accuracy_mean']:.1f}",
                 f"{s['test_loss_mean']:.3f}", f"{100 * s['test_ece_mean']:.1f}",
                 f"{100 * s['gap_mean']:.1f}", f"{s['epochs_mean']:.0f}"]
        if paired:
            cells += [delta(s, "delta_accuracy", 100, 1), delta(s, "delta_loss", 1, 3),
                      delta(s, "delta_ece", 100, 1)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
