r"""Many seeds at once in PyTorch: K models trained as one with ``torch.func`` and ``vmap``.

:func:`fit_seeds` builds one model per seed, stacks the K members' parameters and buffers on a
leading model axis (``torch.func.stack_module_state``), runs the members' forward passes as one
``torch.vmap`` of ``torch.func.functional_call`` (each member on its own batch), and takes one
``torch.optim`` step on the stacked tensors -- the update rules are elementwise, so a stacked
tensor's step is the K members' steps. At the end the trained tensors are copied back into the
K models. Without dropout the numbers are those of K single
:func:`regbook.torch.fit_classifier` runs.

A network of only ``Unflatten``, ``Conv1d``, ``ReLU``, ``Flatten`` and ``Linear`` layers (the
default :func:`regbook.torch.make_cnn`, a :func:`regbook.torch.make_mlp` without batch norm or
dropout) skips ``vmap`` and autograd: :mod:`regbook.torch._stacked_layers` runs it on the
stacked tensors with hand-written forward and backward passes (channels-last activations,
batched matrix products), several times faster at the book's sizes, with the same numbers up
to rounding.
"""

from __future__ import annotations

import copy
import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from regbook import _signatures, _stacked
from regbook._stacked import build_members, check_fit_seeds_args, run_stacked_epochs
from regbook._validate import check_labels
from regbook.history import History
from regbook.torch._stacked_layers import (
    StackedNet,
    cross_entropy_grad,
    loss_and_accuracy,
    stacked_net,
)
from regbook.torch.penalized import _decay_params, _make_optimizer, _penalized_loss, _step
from regbook.torch.training import (
    _check_model,
    _n_outputs,
    _param,
    _to_tensor,
    _training_loss,
)

__all__ = ["fit_seeds"]

#: About how many rows (members times examples) one evaluation pass takes.
_EVAL_ROWS = 8192
#: The same for the hand-written stacked layers (whose work buffers stay in cache at this size)
#: when the training batches are much smaller or larger.
_STACKED_EVAL_ROWS = 2048


def _architecture(model: nn.Module) -> tuple:
    """The modules and their settings (the repr), parameter and buffer names, shapes, dtypes."""
    return (repr(model),
            [(n, tuple(p.shape), p.dtype, p.device, p.requires_grad)
             for n, p in model.named_parameters()],
            [(n, tuple(b.shape), b.dtype, b.device) for n, b in model.named_buffers()])


def _state(model: nn.Module) -> list[torch.Tensor]:
    return list(model.parameters()) + list(model.buffers())


def _data(model: nn.Module, X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return _to_tensor(model, X), torch.from_numpy(y).to(_param(model).device)


@_signatures.implements(_stacked.fit_seeds)
def fit_seeds(make_model, X_train, y_train,
              **options) -> tuple[list[nn.Module], list[History]]:
    r"""Train one model per seed, all K together (``torch.vmap``, or stacked layers); as K runs.

    For each seed :math:`s_k` the result is what

    .. code-block:: python

        model = make_model(s_k)
        history = fit_classifier(model, X_train, y_train, ..., seed=s_k)

    gives (with the same other arguments): the same initial weights, the same batches (member
    k's NumPy permutation per epoch from ``numpy.random.default_rng(s_k)``) and the same steps
    of ``torch.optim.SGD``/``Adam``/``AdamW`` on

    .. math:: J_k(\theta_k) = -\frac{1}{|B_k|}\sum_{i \in B_k} \sum_c q_{ic}
              \log \operatorname{softmax}(f_{\theta_k}(x_i))_c
              + \lambda_1 \sum_W \lVert W_k\rVert_1 + \frac{\lambda_2}{2} \sum_W
              \lVert W_k\rVert_2^2 ,

    (:math:`q_i = (1 - \varepsilon)\,\text{onehot}(y_i) + \varepsilon / C` with
    ``label_smoothing`` :math:`= \varepsilon`; the histories report the plain cross-entropy),
    equal up to rounding (tested in float64 to 1e-8). The members' tensors are stacked on a
    leading axis (``torch.func.stack_module_state``); one ``torch.vmap`` of
    ``torch.func.functional_call`` computes all K members' losses on their own batches, the
    backward pass of their sum gives every member its own gradient (the members share
    nothing), and one optimizer with :func:`regbook.torch.fit_classifier`'s parameter groups
    (``weight_decay`` on the ``decay_scope`` parameters only) steps the stacked tensors. Batch
    norm's running statistics are stacked buffers updated in place under ``vmap``, per member,
    as in single runs. At the end every member's slice is copied into its model (parameters
    and buffers); if training fails, the models keep their initial weights.

    **Stacked layers.** When the model is an ``nn.Sequential`` of ``Unflatten``, ``Conv1d``,
    ``ReLU``, ``Flatten`` and ``Linear`` only (no buffers, every parameter trainable: the
    default :func:`regbook.torch.make_cnn`), the K members run instead through
    :class:`regbook.torch._stacked_layers.StackedNet`: hand-written batched forward and
    backward passes over the same stacked tensors, the data loss's gradient
    :math:`(\operatorname{softmax}(z) - q) / |B_k|` by hand, the penalties' by autograd, into
    the same optimizer (with PyTorch's fused kernels for its update, where it has them). The
    numbers are the same up to rounding; other models (dropout, normalization, any other
    module) take the ``vmap`` path.

    **Dropout** cannot match single runs: under ``vmap(randomness="different")`` the K
    members' masks are drawn together, as one tensor with a leading axis K, from PyTorch's
    generator (seeded with ``seeds[0]`` inside ``torch.random.fork_rng``, so a re-run gives the
    same numbers and the caller's generator is left as it was), where a single run draws its
    masks alone from a generator seeded with its own seed. Each member still gets its own
    independent masks, and dropout trains as it should; only the numbers differ from
    ``fit_classifier``'s.

    There is no early stopping (nor ``seed``, ``early_stopping``, ``monitor``): for early
    stopping train the seeds one at a time with :func:`regbook.torch.fit_classifier`, or pick
    the best epoch from the returned histories.

    Returns
    -------
    (list of torch.nn.Module, list of regbook.History)
        ``models[k]`` is ``make_model(seeds[k])`` with its trained weights, in the mode it was
        built in (an ordinary model: :func:`regbook.torch.predict_logits`, ...);
        ``histories[k]`` its per-epoch record, as :func:`regbook.torch.fit_classifier` returns.
    """
    a = check_fit_seeds_args(make_model, X_train, y_train, **options,
                             dtype=np.float64,   # to the models' dtype below
                             model_type=nn.Module)
    models = build_members(make_model, a["seeds"], check=_check_model,
                           architecture=_architecture, state=_state)
    first = models[0]
    train = _data(first, a["X_train"], a["y_train"])
    n_classes = _n_outputs(first, train[0], "X_train")
    check_labels(a["y_train"], "y_train", n_classes)
    validation = None
    if a["validation"] is not None:
        check_labels(a["validation"][1], "y_val", n_classes)
        validation = _data(first, *a["validation"])
    params, buffers = stack_module_state(models)
    name = {id(p): n for n, p in first.named_parameters()}
    decay, no_decay = ([params[name[id(p)]] for p in group]
                       for group in _decay_params(first, a["decay_scope"]))
    opt = _make_optimizer(decay, no_decay, optimizer=a["optimizer"], lr=a["lr"],
                          momentum=a["momentum"], weight_decay=a["weight_decay"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(a["seeds"][0])
        net = stacked_net(first, params, buffers)
        if net is not None:
            histories = _train_stacked(net, opt, train, validation, decay, a)
        else:
            histories = _train(copy.deepcopy(first).to("meta"), params, buffers, opt, train,
                               validation, decay, a)
    with torch.no_grad():
        for k, model in enumerate(models):
            for n, p in model.named_parameters():
                p.copy_(params[n][k])
            for n, b in model.named_buffers():
                b.copy_(buffers[n][k])
    return models, histories


def _eval_chunk(n: int, n_models: int, batch_size: int) -> int:
    """Examples per member in one evaluation pass of :class:`StackedNet`.

    The training batch size when it gives passes of a moderate size (the pass then reuses the
    training steps' work buffers), else equal chunks of about ``_STACKED_EVAL_ROWS`` rows.
    """
    if _STACKED_EVAL_ROWS // 8 <= n_models * batch_size <= 2 * _STACKED_EVAL_ROWS:
        return batch_size
    n_chunks = -(-n * n_models // _STACKED_EVAL_ROWS)
    return max(1, -(-n // n_chunks))


def _fuse(opt: torch.optim.Optimizer) -> None:
    """Let ``opt`` (before its first step) run its fused kernels, where PyTorch has them.

    The same update rule, one kernel per tensor instead of a dozen Python-level operations:
    on the few stacked tensors of :class:`StackedNet` the loop costs more than the arithmetic.
    """
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
        supported = set(_get_fused_kernels_supported_devices())
    except ImportError:                                        # another PyTorch: no fusing
        return
    devices = {p.device.type for g in opt.param_groups for p in g["params"]}
    if "fused" in opt.defaults and devices <= supported:
        for group in opt.param_groups:
            group["fused"], group["foreach"] = True, False


def _train_stacked(net: StackedNet, opt: torch.optim.Optimizer, train, validation,
                   decay: list, a: dict) -> list[History]:
    # fit_seeds's step and evaluation through the hand-written stacked layers: the gradients
    # of the data loss by hand, the penalties' by autograd, added into .grad, one optimizer step
    X, y = train
    _fuse(opt)
    features = X.cpu().numpy() if a["augment"] is not None else None
    n_models = len(a["seeds"])
    penalized = bool(a["lam1"] or a["lam2"]) and bool(decay)

    def step(idx: np.ndarray, X_batch: np.ndarray | None = None) -> None:
        idx = torch.from_numpy(idx).to(X.device)
        X_b = X[idx] if X_batch is None else torch.from_numpy(X_batch).to(X.device, X.dtype)
        opt.zero_grad()
        logits = net.forward(X_b, training=True)
        net.backward(cross_entropy_grad(logits, y[idx], a["label_smoothing"]))
        if penalized:
            zero = torch.zeros((), dtype=X.dtype, device=X.device)
            _penalized_loss(zero, decay, a["lam1"], a["lam2"]).backward()
        opt.step()

    def evaluate(X_: torch.Tensor, y_: torch.Tensor) -> list[tuple[float, float]]:
        chunk = _eval_chunk(len(X_), n_models, a["batch_size"])
        out = torch.cat([net.forward(X_[i:i + chunk].expand(n_models, -1, -1), training=False)
                         for i in range(0, len(X_), chunk)], dim=1)
        return loss_and_accuracy(out, y_)

    return run_stacked_epochs(
        n=len(X), epochs=a["epochs"], batch_size=a["batch_size"], seeds=a["seeds"], step=step,
        evaluate=evaluate, train=train, validation=validation, progress=a["progress"],
        augment=a["augment"], features=features)


def _train(base: nn.Module, params: dict, buffers: dict, opt: torch.optim.Optimizer, train,
           validation, decay: list, a: dict) -> list[History]:
    # fit_seeds's stacked step and evaluation, handed to regbook._stacked.run_stacked_epochs;
    # ``base`` is a parameter-free (meta) copy of one member, the function vmap calls.
    X, y = train
    features = X.cpu().numpy() if a["augment"] is not None else None   # augment's NumPy input
    cross_entropy = nn.functional.cross_entropy           # the reported loss: unsmoothed
    training_loss = _training_loss(a["label_smoothing"])

    def member_loss(p, b, X_k, y_k):
        return training_loss(functional_call(base, (p, b), (X_k,)), y_k)

    def member_logits(p, b, X_):
        return functional_call(base, (p, b), (X_,))

    losses = torch.vmap(member_loss, randomness="different")
    logits = torch.vmap(member_logits, in_dims=(0, 0, None), randomness="different")

    def step(idx: np.ndarray, X_batch: np.ndarray | None = None) -> None:
        # idx (K, B): member k's batch in row k; X_batch (K, B, d) its augmented features
        idx = torch.from_numpy(idx).to(X.device)
        X_b = X[idx] if X_batch is None else torch.from_numpy(X_batch).to(X.device, X.dtype)
        base.train()
        _step(opt, lambda: _penalized_loss(losses(params, buffers, X_b, y[idx]).sum(),
                                           decay, a["lam1"], a["lam2"]))

    def evaluate(X_: torch.Tensor, y_: torch.Tensor) -> list[tuple[float, float]]:
        base.eval()
        chunk = max(1, _EVAL_ROWS // len(a["seeds"]))
        with torch.no_grad():
            out = torch.cat([logits(params, buffers, X_[i:i + chunk])
                             for i in range(0, len(X_), chunk)], dim=1)
        return [(cross_entropy(z, y_).item(), (z.argmax(dim=1) == y_).double().mean().item())
                for z in out]

    return run_stacked_epochs(
        n=len(X), epochs=a["epochs"], batch_size=a["batch_size"], seeds=a["seeds"], step=step,
        evaluate=evaluate, train=train, validation=validation, progress=a["progress"],
        augment=a["augment"], features=features)
