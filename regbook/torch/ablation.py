r"""A measured ablation of regularizers: one MLP, many settings, several seeds (PyTorch).

One setting switches on any combination of

- **L2** -- the book's :math:`\frac{\lambda_2}{2}\sum_W \lVert W\rVert^2`, applied as Adam's
  coupled ``weight_decay`` :math:`=` :func:`regbook.convert.torch_weight_decay` :math:`(\lambda_2)`
  on the weights only (:func:`regbook.torch.param_groups`; biases and batch-norm parameters are
  not decayed);
- **L1** -- :math:`\lambda_1\sum_W \lVert W\rVert_1` added to the loss
  (:func:`regbook.torch.l1_penalty`);
- **dropout** -- ``nn.Dropout(p)`` after every hidden ReLU;
- **batch norm** -- ``nn.BatchNorm1d`` between every hidden ``Linear`` and its ReLU;
- **early stopping** -- :class:`regbook.EarlyStopping` on the validation loss, restoring the
  best epoch's weights;

trains the network with Adam on a (small) training split and reports its final training,
validation and test accuracy and the generalisation gap. :func:`run_ablation` repeats that for a
grid of settings and seeds and returns a tidy table (a list of dicts, one row per run), which
:func:`summarize_ablation` and :func:`ablation_table` condense into means and standard deviations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from regbook._penalized_training import batch_order
from regbook._validate import check_classification_data, check_float, check_int
from regbook.convert import torch_weight_decay
from regbook.data import Split
from regbook.early_stopping import EarlyStopping
from regbook.seeding import seed_everything
from regbook.torch.penalties import l1_penalty, param_groups

__all__ = ["Setting", "ablation_grid", "make_regularized_mlp", "build_setting", "train_setting",
           "run_ablation", "summarize_ablation", "ablation_table"]


@dataclass(frozen=True)
class Setting:
    r"""Which regularizers one run switches on (all off by default: the plain network).

    Parameters
    ----------
    name : str
        A short label, unique within a grid (e.g. ``"L2+dropout"``).
    lam2 : float
        The book's L2 strength :math:`\lambda_2 \ge 0` (Adam ``weight_decay`` on the weights).
    lam1 : float
        The book's L1 strength :math:`\lambda_1 \ge 0` (a penalty term in the loss).
    dropout : float
        Drop probability :math:`p \in [0, 1)` after every hidden layer (0: no dropout layer).
    batchnorm : bool
        Insert ``nn.BatchNorm1d`` before every hidden ReLU.
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
        if not isinstance(self.batchnorm, bool):
            raise TypeError(f"batchnorm must be a bool, got {type(self.batchnorm).__name__}")
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


def make_regularized_mlp(n_inputs: int, hidden: Sequence[int] = (128,), n_classes: int = 10,
                         *, dropout: float = 0.0, batchnorm: bool = False,
                         seed: int = 0) -> nn.Sequential:
    r"""``Linear -> [BatchNorm1d] -> ReLU -> [Dropout] -> ... -> Linear``, returning logits.

    .. math:: h_\ell = \operatorname{drop}_p\big(\max(0, \operatorname{BN}(W_\ell h_{\ell-1}
              + b_\ell))\big), \qquad \text{logits} = W_L h_{L-1} + b_L

    Batch norm and dropout layers are added only when asked for. Batch norm's parameters start
    at :math:`\gamma = 1, \beta = 0` and dropout has none, so the ``Linear`` weights are the ones
    :func:`regbook.torch.make_mlp` draws for the same ``seed``: every setting of an ablation
    starts from the same network.
    """
    n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    widths = [check_int(h, "hidden[i]", minimum=1) for h in hidden]
    dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, include_max=False)
    if not isinstance(batchnorm, bool):
        raise TypeError(f"batchnorm must be a bool, got {type(batchnorm).__name__}")
    seed_everything(seed)
    layers: list[nn.Module] = []
    fan_in = n_inputs
    for width in widths:
        layers.append(nn.Linear(fan_in, width))
        if batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        if dropout > 0.0:
            layers.append(nn.Dropout(dropout))
        fan_in = width
    layers.append(nn.Linear(fan_in, n_classes))
    return nn.Sequential(*layers)


def build_setting(setting: Setting, n_inputs: int, n_classes: int = 10, *,
                  hidden: Sequence[int] = (128,), lr: float = 3e-3,
                  seed: int = 0) -> tuple[nn.Sequential, torch.optim.Adam, EarlyStopping | None]:
    r"""The network, optimizer and early stopper that one setting trains with.

    - the model is :func:`make_regularized_mlp` with the setting's dropout and batch norm;
    - the optimizer is ``torch.optim.Adam`` over :func:`regbook.torch.param_groups`: the weights
      get ``weight_decay =`` :func:`regbook.convert.torch_weight_decay` ``(lam2)``
      :math:`= \lambda_2` (coupled, so the gradient gains the book's L2 term
      :math:`\lambda_2 W`), biases and batch-norm parameters get 0;
    - the stopper is ``regbook.EarlyStopping(patience=setting.patience,
      restore_best_weights=True)``, or ``None`` without early stopping.

    The L1 term is not here: :func:`train_setting` adds it to the loss.
    """
    if not isinstance(setting, Setting):
        raise TypeError(f"setting must be a regbook.torch.Setting, got {type(setting).__name__}")
    lr = check_float(lr, "lr", minimum=0.0, include_min=False)
    model = make_regularized_mlp(n_inputs, hidden, n_classes, dropout=setting.dropout,
                                 batchnorm=setting.batchnorm, seed=seed)
    optimizer = torch.optim.Adam(param_groups(model, torch_weight_decay(setting.lam2)), lr=lr)
    stopper = (None if setting.patience is None
               else EarlyStopping(patience=setting.patience, restore_best_weights=True))
    return model, optimizer, stopper


def _evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        logits = model(X)
        loss = nn.functional.cross_entropy(logits, y).item()
        acc = (logits.argmax(dim=1) == y).double().mean().item()
    model.train()
    return loss, acc


def train_setting(
    setting: Setting,
    split: Split,
    *,
    seed: int = 0,
    hidden: Sequence[int] = (128,),
    epochs: int = 150,
    lr: float = 3e-3,
    batch_size: int = 50,
    return_model: bool = False,
) -> dict | tuple[dict, nn.Sequential]:
    r"""Train one network under one setting and seed; return its accuracies and gap.

    Minimises, with Adam (coupled ``weight_decay`` :math:`= \lambda_2` on the weights),

    .. math:: J(\theta) = -\frac{1}{|B|}\sum_{i\in B}\log\operatorname{softmax}
              (f_\theta(x_i))_{y_i} + \lambda_1 \sum_W \lVert W\rVert_1 ,

    whose gradient carries the book's L2 term :math:`\lambda_2 W` through the optimizer. The
    examples are reshuffled every epoch (a NumPy permutation drawn from ``seed``), and the
    network weights and dropout masks follow ``seed_everything(seed)``. With
    ``setting.patience`` set, an :class:`regbook.EarlyStopping` (``restore_best_weights=True``)
    watches the validation loss after every epoch. This is a loop of its own rather than
    :func:`regbook.torch.fit_classifier` because it needs the L1 term and weight decay restricted
    to the weights.

    Parameters
    ----------
    setting : Setting
    split : regbook.data.Split
        Training, validation and test data (e.g. :func:`regbook.data.digits_split`).
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
        ``setting`` (its name), ``seed``, ``train_accuracy``, ``val_accuracy``,
        ``test_accuracy`` (of the final -- or restored -- network, in evaluation mode),
        ``gap`` :math:`=` training minus test accuracy, ``train_loss`` and ``test_loss`` (mean
        cross-entropy, without penalty), and ``epochs`` (epochs trained).
    """
    if not isinstance(setting, Setting):
        raise TypeError(f"setting must be a regbook.torch.Setting, got {type(setting).__name__}")
    if not isinstance(split, Split):
        raise TypeError(f"split must be a regbook.data.Split, got {type(split).__name__}")
    seed = check_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    epochs = check_int(epochs, "epochs", minimum=1)
    lr = check_float(lr, "lr", minimum=0.0, include_min=False)
    batch_size = check_int(batch_size, "batch_size", minimum=2)
    if not isinstance(return_model, bool):
        raise TypeError(f"return_model must be a bool, got {type(return_model).__name__}")
    X_tr, y_tr, (X_va, y_va) = check_classification_data(split.X_train, split.y_train,
                                                         split.X_val, split.y_val)
    X_te, y_te, _ = check_classification_data(split.X_test, split.y_test)
    X_tr, y_tr, X_va, y_va, X_te, y_te = map(torch.from_numpy, (X_tr, y_tr, X_va, y_va, X_te,
                                                                 y_te))
    n_classes = int(max(y_tr.max(), y_va.max(), y_te.max())) + 1
    model, optimizer, stopper = build_setting(setting, X_tr.shape[1], max(n_classes, 2),
                                              hidden=hidden, lr=lr, seed=seed)
    trained = epochs
    model.train()
    for epoch, order in enumerate(batch_order(len(y_tr), epochs, shuffle=True, seed=seed)):
        for start in range(0, len(order), batch_size):
            idx = torch.from_numpy(order[start:start + batch_size])
            if len(idx) < 2:
                continue  # see batch_size
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(X_tr[idx]), y_tr[idx])
            if setting.lam1:
                loss = loss + l1_penalty(model, setting.lam1)
            loss.backward()
            optimizer.step()
        if stopper is not None and stopper.update(_evaluate(model, X_va, y_va)[0],
                                                  weights=model.state_dict()):
            trained = epoch + 1
            break
    if stopper is not None and stopper.best_weights is not None:
        model.load_state_dict(stopper.best_weights)
    (train_loss, train_acc), (_, val_acc), (test_loss, test_acc) = (
        _evaluate(model, X, y) for X, y in ((X_tr, y_tr), (X_va, y_va), (X_te, y_te)))
    row = dict(setting=setting.name, seed=seed, train_accuracy=train_acc, val_accuracy=val_acc,
               test_accuracy=test_acc, gap=train_acc - test_acc, train_loss=train_loss,
               test_loss=test_loss, epochs=trained)
    return (row, model) if return_model else row


def run_ablation(settings: Iterable[Setting], split: Split | Callable[[int], Split], *,
                 seeds: Iterable[int] = range(5), **kwargs) -> list[dict]:
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
    seeds : iterable of int
        Distinct seeds, >= 0.
    **kwargs
        ``hidden``, ``epochs``, ``lr``, ``batch_size`` for :func:`train_setting`.

    Returns
    -------
    list of dict
        Rows setting by setting, seeds in the given order. All arguments are checked before the
        first run starts.
    """
    settings, seeds = list(settings), list(seeds)
    if not settings:
        raise ValueError("settings must hold at least one Setting")
    for s in settings:
        if not isinstance(s, Setting):
            raise TypeError(f"settings must hold regbook.torch.Setting objects, got "
                            f"{type(s).__name__}")
    names = [s.name for s in settings]
    if len(set(names)) != len(names):
        raise ValueError(f"setting names must be unique, got {names}")
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    seeds = [check_int(s, "seeds[i]", minimum=0, maximum=2**32 - 1) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be unique, got {seeds}")
    unknown = set(kwargs) - {"hidden", "epochs", "lr", "batch_size"}  # not return_model
    if unknown:
        raise TypeError(f"unexpected keyword arguments {sorted(unknown)}")
    if isinstance(split, Split):
        splits = {seed: split for seed in seeds}
    elif callable(split):
        splits = {seed: split(seed) for seed in seeds}
        for seed, value in splits.items():
            if not isinstance(value, Split):
                raise TypeError(f"split({seed}) must return a regbook.data.Split, got "
                                f"{type(value).__name__}")
    else:
        raise TypeError(f"split must be a regbook.data.Split or a callable, got "
                        f"{type(split).__name__}")
    return [train_setting(s, splits[seed], seed=seed, **kwargs)
            for s in settings for seed in seeds]


_SUMMARY_KEYS = ("train_accuracy", "val_accuracy", "test_accuracy", "gap", "train_loss",
                 "test_loss", "epochs")


def _mean_std(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summarize_ablation(rows: Sequence[dict], *, baseline: str | None = "none") -> list[dict]:
    r"""Mean and standard deviation over seeds, per setting (in order of first appearance).

    The standard deviation is the sample one (:math:`n - 1` in the denominator; 0 for a single
    seed). Each output row has ``setting``, ``n_seeds`` and, for every ``key`` of
    ``train_accuracy, val_accuracy, test_accuracy, gap, train_loss, test_loss, epochs``,
    ``key + "_mean"`` and ``key + "_std"``.

    With a ``baseline`` setting name, also the paired differences to it, seed by seed (same
    data and initial weights): ``delta_accuracy_mean/_std`` of
    :math:`	ext{acc}_	ext{test} - 	ext{acc}_	ext{test}^	ext{baseline}` and
    ``delta_loss_mean/_std`` of the test-loss difference (0 for the baseline itself).
    """
    rows = list(rows)
    if not rows:
        raise ValueError("rows must not be empty")
    missing = [k for k in ("setting", "seed", *_SUMMARY_KEYS) if k not in rows[0]]
    if missing:
        raise ValueError(f"rows lack the keys {missing}; pass the output of run_ablation")
    names = list(dict.fromkeys(r["setting"] for r in rows))
    if baseline is not None and baseline not in names:
        raise ValueError(f"baseline must be one of the settings {names}, got {baseline!r}")
    base = {r["seed"]: r for r in rows if r["setting"] == baseline}
    out = []
    for name in names:
        group = [r for r in rows if r["setting"] == name]
        summary: dict = dict(setting=name, n_seeds=len(group))
        for key in _SUMMARY_KEYS:
            summary[key + "_mean"], summary[key + "_std"] = _mean_std([r[key] for r in group])
        if baseline is not None:
            if {r["seed"] for r in group} != set(base):
                raise ValueError(f"setting {name!r} was not run under the seeds of the baseline")
            for key, field in (("delta_accuracy", "test_accuracy"), ("delta_loss", "test_loss")):
                summary[key + "_mean"], summary[key + "_std"] = _mean_std(
                    [r[field] - base[r["seed"]][field] for r in group])
        out.append(summary)
    return out


def ablation_table(summary: Sequence[dict]) -> str:
    """A Markdown table of :func:`summarize_ablation`'s output: mean ± std over seeds per setting.

    Columns: setting, test accuracy (%), generalisation gap (percentage points), training
    accuracy (%), test loss, epochs trained (mean), and -- when the summary has them -- the
    paired test-accuracy difference to the baseline (points).
    """
    summary = list(summary)
    if not summary:
        raise ValueError("summary must not be empty")
    paired = "delta_accuracy_mean" in summary[0]
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
