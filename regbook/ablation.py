r"""A measured ablation of regularizers: one MLP, many settings, several seeds, any backend.

One :class:`Setting` switches on any combination of

- **L2** -- the book's :math:`\frac{\lambda_2}{2}\sum_W \lVert W\rVert^2` in the loss;
- **L1** -- :math:`\lambda_1\sum_W \lVert W\rVert_1` in the loss;
- **dropout** -- a dropout layer (drop probability :math:`p`) after every hidden ReLU;
- **batch norm** -- a batch-norm layer between every hidden linear layer and its ReLU;
- **early stopping** -- :class:`regbook.EarlyStopping` on the validation loss, restoring the
  best epoch's weights;

(the penalties act on the weights only, not on biases or batch-norm parameters), trains the
network with Adam on a (small) training split and reports its final training, validation and
test accuracy and the generalisation gap. :func:`run_ablation` repeats that for a grid of
settings and seeds and returns a tidy table (a list of dicts, one row per run), which
:func:`summarize_ablation` and :func:`ablation_table` condense into means and standard deviations.

The training is the shared vocabulary of the backends (:mod:`regbook.backends`):
``backend.make_mlp``, ``backend.fit_classifier`` and ``backend.evaluate_classifier`` with
``backend`` one of ``"np"``, ``"torch"``, ``"tf"``. This module imports no framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from regbook import backends
from regbook._validate import (
    check_bool,
    check_classification_data,
    check_float,
    check_int,
    check_seed,
)
from regbook.data import Split
from regbook.early_stopping import EarlyStopping
from regbook.stats import paired_interval

__all__ = ["Setting", "ablation_grid", "train_setting", "run_ablation", "summarize_ablation",
           "ablation_table"]


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
        Drop probability :math:`p \in [0, 1)` after every hidden layer (0: no dropout layer).
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


def ablation_grid(*, lam2: float = 1e-3, lam1: float = 1e-4, dropout: float = 0.5,
                  patience: int = 10) -> list[Setting]:
    """The chapter's grid: each regularizer alone, and the combinations people actually use.

    ``none``, ``L2``, ``L1``, ``dropout``, ``batch norm``, ``early stopping``, ``L2+dropout``,
    ``dropout+ES``, ``L2+dropout+ES``, ``BN+dropout`` (ES: early stopping, BN: batch norm),
    with the given strengths.
    """
    lam2 = check_float(lam2, "lam2", minimum=0.0, include_min=False)
    lam1 = check_float(lam1, "lam1", minimum=0.0, include_min=False)
    dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, include_min=False,
                          include_max=False)
    patience = check_int(patience, "patience", minimum=0)
    return [
        Setting("none"),
        Setting("L2", lam2=lam2),
        Setting("L1", lam1=lam1),
        Setting("dropout", dropout=dropout),
        Setting("batch norm", batchnorm=True),
        Setting("early stopping", patience=patience),
        Setting("L2+dropout", lam2=lam2, dropout=dropout),
        Setting("dropout+ES", dropout=dropout, patience=patience),
        Setting("L2+dropout+ES", lam2=lam2, dropout=dropout, patience=patience),
        Setting("BN+dropout", batchnorm=True, dropout=dropout),
    ]


def _check_options(*, seed, hidden, epochs, lr, batch_size, return_model) -> dict:
    # train_setting's options, converted; run_ablation checks them once before the first run.
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of int, got {type(hidden).__name__}")
    widths = tuple(check_int(h, f"hidden[{i}]", minimum=1) for i, h in enumerate(hidden))
    return dict(seed=check_seed(seed), hidden=widths,
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


def train_setting(
    setting: Setting,
    split: Split,
    *,
    backend: str | ModuleType = "torch",
    seed: int = 0,
    hidden: Sequence[int] = (128,),
    epochs: int = 150,
    lr: float = 3e-3,
    batch_size: int = 50,
    return_model: bool = False,
) -> dict | tuple[dict, Any]:
    r"""Train one network under one setting and seed; return its accuracies and gap.

    Builds ``backend.make_mlp(n_inputs, hidden, n_classes, dropout=setting.dropout,
    batchnorm=setting.batchnorm, seed=seed)`` and trains it with ``backend.fit_classifier``
    (Adam, mini-batches reshuffled every epoch from ``seed``), minimising per batch

    .. math:: J(\theta) = -\frac{1}{|B|}\sum_{i\in B}\log\operatorname{softmax}
              (f_\theta(x_i))_{y_i} + \lambda_1 \sum_W \lVert W\rVert_1
              + \frac{\lambda_2}{2} \sum_W \lVert W\rVert^2

    over the weights :math:`W` (no biases, no batch-norm parameters). The L2 term's gradient
    :math:`\lambda_2 W` is exactly what Adam's *coupled* ``weight_decay`` :math:`= \lambda_2` on
    the weights adds (PyTorch's ``torch.optim.Adam``; the former ``regbook.torch.ablation``
    trained that way), so the two are the same training. With ``setting.patience`` set, a
    :class:`regbook.EarlyStopping` (``restore_best_weights=True``) watches the validation loss.

    Parameters
    ----------
    setting : Setting
    split : regbook.data.Split
        Training, validation and test data (e.g. :func:`regbook.data.digits_split`).
    backend : {"np", "torch", "tf"} or one of those modules
        The framework that trains (:func:`regbook.backends.get`).
    seed : int
        Seed of the initial weights, the batch order and the dropout masks.
    hidden : sequence of int
        Hidden widths.
    epochs : int
        Maximum number of epochs, >= 1.
    lr : float
        Adam's learning rate, > 0.
    batch_size : int
        Examples per step, >= 2 (training-mode batch norm needs two); a last batch of one
        example is skipped.
    return_model : bool
        Also return the trained (or restored) network.

    Returns
    -------
    dict (and, with ``return_model``, the model)
        ``setting`` (its name), ``backend`` (``"np"``, ``"torch"`` or ``"tf"``), ``seed``,
        ``train_accuracy``, ``val_accuracy``, ``test_accuracy`` (of the final -- or restored --
        network, in evaluation mode), ``gap`` :math:`=` training minus test accuracy,
        ``train_loss`` and ``test_loss`` (mean cross-entropy, without penalty), and ``epochs``
        (epochs trained).
    """
    if not isinstance(setting, Setting):
        raise TypeError(f"setting must be a regbook.ablation.Setting, got "
                        f"{type(setting).__name__}")
    module = backends.get(backend)
    opts = _check_options(seed=seed, hidden=hidden, epochs=epochs, lr=lr, batch_size=batch_size,
                          return_model=return_model)
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = _split_data(split)
    n_classes = max(int(max(y_tr.max(), y_va.max(), y_te.max())) + 1, 2)
    model = module.make_mlp(X_tr.shape[1], opts["hidden"], n_classes, dropout=setting.dropout,
                            batchnorm=setting.batchnorm, seed=opts["seed"])
    stopper = (None if setting.patience is None
               else EarlyStopping(patience=setting.patience, restore_best_weights=True))
    history = module.fit_classifier(
        model, X_tr, y_tr, X_val=X_va, y_val=y_va, optimizer="adam", lr=opts["lr"],
        lam1=setting.lam1, lam2=setting.lam2, epochs=opts["epochs"],
        batch_size=opts["batch_size"], seed=opts["seed"], early_stopping=stopper)
    (train_loss, train_acc), (_, val_acc), (test_loss, test_acc) = (
        module.evaluate_classifier(model, X, y) for X, y in ((X_tr, y_tr), (X_va, y_va),
                                                             (X_te, y_te)))
    row = dict(setting=setting.name, backend=module.__name__.rsplit(".", 1)[-1],
               seed=opts["seed"], train_accuracy=train_acc, val_accuracy=val_acc,
               test_accuracy=test_acc, gap=train_acc - test_acc, train_loss=train_loss,
               test_loss=test_loss, epochs=len(history["loss"]))
    return (row, model) if opts["return_model"] else row


def run_ablation(settings: Iterable[Setting], split: Split | Callable[[int], Split], *,
                 backend: str | ModuleType = "torch", seeds: Iterable[int] = range(5),
                 **kwargs) -> list[dict]:
    """Train every setting under every seed; one row (a dict, see :func:`train_setting`) per run.

    Parameters
    ----------
    settings : iterable of Setting
        With unique names.
    split : regbook.data.Split or callable
        The data of every run, or a function ``seed -> Split`` (e.g.
        ``lambda s: regbook.data.digits_split(n_train=200, seed=s)``) so that the seed also
        draws the training, validation and test examples. Called once per seed: every setting
        sees the same data and the same initial weights under one seed (a paired comparison).
    backend : {"np", "torch", "tf"} or one of those modules
        The framework that trains.
    seeds : iterable of int
        Distinct seeds, >= 0.
    **kwargs
        ``hidden``, ``epochs``, ``lr``, ``batch_size`` for :func:`train_setting`.

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
    unknown = set(kwargs) - {"hidden", "epochs", "lr", "batch_size"}  # not return_model
    if unknown:
        raise TypeError(f"unexpected keyword arguments {sorted(unknown)}")
    module = backends.get(backend)
    defaults = dict(hidden=(128,), epochs=150, lr=3e-3, batch_size=50, return_model=False)
    _check_options(seed=seeds[0], **{**defaults, **kwargs})
    if isinstance(split, Split):
        splits = {seed: split for seed in seeds}
    elif callable(split):
        splits = {seed: split(seed) for seed in seeds}
    else:
        raise TypeError(f"split must be a regbook.data.Split or a callable, got "
                        f"{type(split).__name__}")
    for seed, value in splits.items():
        _split_data(value, "split" if isinstance(split, Split) else f"split({seed})")
    return [train_setting(s, splits[seed], backend=module, seed=seed, **kwargs)
            for s in settings for seed in seeds]


_SUMMARY_KEYS = ("train_accuracy", "val_accuracy", "test_accuracy", "gap", "train_loss",
                 "test_loss", "epochs")


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


def summarize_ablation(rows: Sequence[dict], *, baseline: str | None = "none") -> list[dict]:
    r"""Mean and standard deviation over seeds, per setting (in order of first appearance).

    The standard deviation is the sample one (:math:`n - 1` in the denominator; 0 for a single
    seed). Each output row has ``setting``, ``n_seeds`` and, for every ``key`` of
    ``train_accuracy, val_accuracy, test_accuracy, gap, train_loss, test_loss, epochs``,
    ``key + "_mean"`` and ``key + "_std"``.

    With a ``baseline`` setting name, also the paired differences to it, seed by seed (same
    data and initial weights): ``delta_accuracy_mean/_std`` of
    :math:`\text{acc}_\text{test} - \text{acc}_\text{test}^\text{baseline}` and
    ``delta_loss_mean/_std`` of the test-loss difference (0 for the baseline itself), and,
    with two or more seeds, their paired 95% intervals ``delta_accuracy_low/_high`` and
    ``delta_loss_low/_high`` (:func:`regbook.stats.paired_interval`; not for the baseline).

    ``rows`` are :func:`run_ablation`'s (one per setting and seed, of one backend): a setting
    run twice under one seed, or under several backends, is refused.
    """
    rows = list(rows)
    _check_dicts(rows, "rows", ("setting", "seed", *_SUMMARY_KEYS),
                 "pass the rows of run_ablation (not the output of summarize_ablation)")
    if baseline is not None and not isinstance(baseline, str):
        raise TypeError(f"baseline must be a setting name or None, got {type(baseline).__name__}")
    names = list(dict.fromkeys(r["setting"] for r in rows))
    if baseline is not None and baseline not in names:
        raise ValueError(f"baseline must be one of the settings {names}, got {baseline!r}")
    base = {r["seed"]: r for r in rows if r["setting"] == baseline}
    out = []
    for name in names:
        group = [r for r in rows if r["setting"] == name]
        seeds = [r["seed"] for r in group]
        if len(set(seeds)) != len(seeds) or len({r.get("backend") for r in group}) > 1:
            raise ValueError(f"rows hold setting {name!r} more than once per seed or from "
                             "several backends; summarize one backend's run_ablation at a time")
        summary: dict = dict(setting=name, n_seeds=len(group))
        for key in _SUMMARY_KEYS:
            summary[key + "_mean"], summary[key + "_std"] = _mean_std([r[key] for r in group])
        if baseline is not None:
            if set(seeds) != set(base):
                raise ValueError(f"setting {name!r} was not run under the seeds of the baseline")
            for key, field in (("delta_accuracy", "test_accuracy"), ("delta_loss", "test_loss")):
                ours = [r[field] for r in group]
                theirs = [base[r["seed"]][field] for r in group]
                summary[key + "_mean"], summary[key + "_std"] = _mean_std(
                    np.subtract(ours, theirs))
                if len(group) > 1 and name != baseline:
                    interval = paired_interval(ours, theirs)
                    summary[key + "_low"], summary[key + "_high"] = interval.low, interval.high
        out.append(summary)
    return out


def ablation_table(summary: Sequence[dict]) -> str:
    """A Markdown table of :func:`summarize_ablation`'s output: mean ± std over seeds per setting.

    Columns: setting, test accuracy (%), generalisation gap (percentage points), training
    accuracy (%), test loss, epochs trained (mean), and -- when the summary has them -- the
    paired test-accuracy difference to the baseline (points).
    """
    summary = list(summary)
    _check_dicts(summary, "summary", ["setting"] + [k + s for k in _SUMMARY_KEYS
                                                    for s in ("_mean", "_std")],
                 "pass summarize_ablation(rows), not the rows of run_ablation")
    paired = all("delta_accuracy_mean" in s for s in summary)
    pm = lambda s, k, scale, digits: (  # noqa: E731
        f"{scale * s[k + '_mean']:.{digits}f} ± {scale * s[k + '_std']:.{digits}f}")
    header = ["setting", "test accuracy (%)", "gap (points)", "training accuracy (%)",
              "test loss", "epochs"] + (["Δ test accuracy vs baseline (points)"] if paired else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for s in summary:
        cells = [s["setting"], pm(s, "test_accuracy", 100, 1), pm(s, "gap", 100, 1),
                 pm(s, "train_accuracy", 100, 1), pm(s, "test_loss", 1, 3),
                 f"{s['epochs_mean']:.0f}"]
        if paired:
            cells.append(f"{100 * s['delta_accuracy_mean']:+.1f} ± "
                         f"{100 * s['delta_accuracy_std']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
