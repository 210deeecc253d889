r"""The signatures the three backends share, written once.

Each function below is a specification, never called: its signature (names, kinds, defaults)
and the *Parameters* section of its docstring are those of ``regbook.np.NAME``,
``regbook.torch.NAME`` and ``regbook.tf.NAME``. A backend writes only its own body and notes::

    @implements(_signatures.make_mlp)
    def make_mlp(n_inputs, hidden, n_classes, **options) -> nn.Sequential:
        '''A ReLU MLP in PyTorch ... (backend notes, Returns)'''

:func:`implements` gives the backend function the shared signature (``inspect.signature``,
the API page and ``help()`` show it, defaults included), binds every call against it (so the
body receives every argument by name, defaults applied, and an unknown keyword is the usual
``TypeError``), and inserts the shared *Parameters* section into the backend's docstring.
Parameters a backend has beyond the shared ones (allow-listed in :data:`regbook.backends.EXTRAS`)
are keyword-only parameters with defaults in its own ``def``. Imports no framework.
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable, Sequence

__all__ = ["implements"]


def implements(spec: Callable) -> Callable[[Callable], Callable]:
    """Decorate a backend's function with the shared signature and parameter docs of ``spec``."""
    shared = inspect.signature(spec)

    def decorate(func: Callable) -> Callable:
        own = inspect.signature(func)
        positional = [p.name for p in own.parameters.values()
                      if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        expected = [p.name for p in shared.parameters.values()
                    if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        if positional != expected:
            raise TypeError(f"{func.__qualname__} must take {expected} positionally, as "
                            f"{spec.__name__}'s specification does, not {positional}")
        extras = [p for p in own.parameters.values()
                  if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in shared.parameters]
        signature = shared.replace(parameters=[*shared.parameters.values(), *extras],
                                   return_annotation=own.return_annotation)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return func(**bound.arguments)

        wrapper.__signature__ = signature
        wrapper.__doc__ = _with_parameters(func.__doc__ or "", spec.__doc__ or "")
        return wrapper

    return decorate


def _with_parameters(doc: str, parameters: str) -> str:
    """``doc`` with the ``parameters`` section placed before its *Other Parameters* or *Returns*
    section (or at its end)."""
    section = inspect.cleandoc(parameters)
    lines = doc.expandtabs().splitlines()
    indent = " " * min((len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()),
                       default=4)
    block = "\n".join(indent + line if line else "" for line in section.splitlines())
    for heading in ("Other Parameters", "Returns"):
        marker = f"\n{indent}{heading}\n"
        if marker in doc:
            head, tail = doc.split(marker, 1)
            return f"{head.rstrip()}\n\n{block}\n{marker}{tail}"
    return f"{doc.rstrip()}\n\n{block}\n"


# --- the specifications ----------------------------------------------------------------------

def make_mlp(n_inputs: int, hidden: Sequence[int] = (128,), n_classes: int = 10, *,
             dropout: float = 0.0, batchnorm: bool = False, init: str = "pytorch",
             seed: int = 0, dtype="float32"):
    """
    Parameters
    ----------
    n_inputs, n_classes : int
        Input features (>= 1) and classes (>= 2).
    hidden : sequence of int
        Widths of the hidden layers (``()`` gives a linear classifier).
    dropout : float
        Drop probability :math:`p \\in [0, 1)` after each hidden ReLU (no dropout layer at 0).
    batchnorm : bool
        Batch-normalise each hidden layer's pre-activation (PyTorch's convention).
    init : {"pytorch", "he"}
        ``"pytorch"``: the backend's default initialisation, unchanged (PyTorch's
        :math:`W, b \\sim \\mathcal U(\\pm 1/\\sqrt{\\text{fan\\_in}})` in :mod:`regbook.np` and
        :mod:`regbook.torch`; Keras's Glorot-uniform kernels and zero biases in
        :mod:`regbook.tf`). ``"he"`` (He et al., 2015): every weight
        :math:`W \\sim \\mathcal N(0, 2/\\text{fan\\_in})` (not truncated), every bias 0.
    seed : int
        Seed of the weights and of the dropout masks, in ``[0, 2**32 - 1]``. The same seed
        gives the same ``Linear`` weights with or without dropout and batch norm; no global
        generator is used or changed.
    dtype : {"float32", "float64"}
        Dtype of the parameters (the framework's own dtype objects are accepted too).
    """


def make_cnn(n_inputs: int = 40, n_classes: int = 10, *, channels: Sequence[int] = (25, 25, 25),
             kernel_size: int | Sequence[int] = (5, 3, 3), stride: int = 2, padding: int = 1,
             dropout: float = 0.0, batchnorm: bool = False, layernorm: bool = False,
             init: str = "pytorch", seed: int = 0, dtype="float32"):
    """
    Parameters
    ----------
    n_inputs : int
        Length :math:`L_0` of an input row; long enough that every block's padded input is at
        least its kernel.
    n_classes : int
        Classes (>= 2).
    channels : sequence of int
        Output channels of each block (each >= 1, at least one block).
    kernel_size : int or sequence of int
        Kernel width of each block (same length as ``channels``); an int for every block.
    stride, padding : int
        Of every convolution (stride >= 1, padding >= 0: zeros on both sides).
    dropout : float
        Drop probability :math:`p \\in [0, 1)` after every ReLU.
    batchnorm, layernorm : bool
        Normalise every convolution's output over the batch (per channel) or over the channels
        (per example and position); not both.
    init : {"pytorch", "he"}
        ``"pytorch"``: the backend's default initialisation, unchanged (PyTorch's
        :math:`\\mathcal U(\\pm 1/\\sqrt{\\text{fan\\_in}})` in :mod:`regbook.np` and
        :mod:`regbook.torch`; Keras's Glorot-uniform kernels and zero biases in
        :mod:`regbook.tf`). ``"he"`` (He et al., 2015): every convolution and linear weight
        :math:`\\sim \\mathcal N(0, 2/\\text{fan\\_in})` (not truncated;
        :math:`\\text{fan\\_in} = C_{b-1} k_b` for a convolution), every bias 0.
    seed : int
        Seed of the weights (and dropout masks), in ``[0, 2**32 - 1]``; a seed gives the same
        convolution and linear weights whatever ``dropout``, ``batchnorm`` and ``layernorm``
        are. No global generator is used or changed.
    dtype : {"float32", "float64"}
        Dtype of the parameters (the framework's own dtype objects are accepted too).
    """


def make_linear(n_features: int, *, coef=None, intercept: float = 0.0):
    """
    Parameters
    ----------
    n_features : int
        :math:`d \\ge 1`.
    coef : array_like, shape (d,), optional
        Starting :math:`w` (zeros by default).
    intercept : float
        Starting :math:`b`.
    """


def fit_classifier(model, X_train, y_train, *, X_val=None, y_val=None, optimizer="adam",
                   lr: float = 1e-3, momentum: float = 0.0, weight_decay: float = 0.0,
                   lam1: float = 0.0, lam2: float = 0.0, decay_scope: str = "weights",
                   epochs: int = 100, batch_size: int = 32, seed: int = 0,
                   early_stopping=None, monitor: str = "val_loss", augment=None,
                   label_smoothing: float = 0.0, progress: bool = False):
    """
    Parameters
    ----------
    model : a model of this backend
        As built by its ``make_mlp`` or ``make_cnn``; trained in place.
    X_train, y_train : array_like, shapes (n, d) and (n,)
        Features (converted to the model's dtype) and integer labels in ``[0, n_classes)``,
        checked against the model's input width and number of outputs before any step.
    X_val, y_val : array_like, optional
        Validation data (both or neither), measured after every epoch.
    optimizer : {"adam", "sgd", "adamw"}
        PyTorch's update rules in every backend (Adam's betas (0.9, 0.999), eps 1e-8).
    lr : float
        Learning rate, > 0.
    momentum : float
        SGD (heavy-ball) momentum in [0, 1) (``optimizer="sgd"`` only).
    weight_decay : float
        The optimizer's own weight decay with PyTorch's meaning, on the ``decay_scope``
        parameters: coupled for ``"sgd"`` and ``"adam"`` (``weight_decay * W`` added to the
        gradient; with SGD the same as ``lam2 = weight_decay``), decoupled for ``"adamw"``
        (:math:`W \\leftarrow W - \\eta\\,\\text{wd}\\,W`).
    lam1, lam2 : float
        The book's L1 and L2 strengths (>= 0): :math:`\\lambda_1\\sum|W|` and
        :math:`\\frac{\\lambda_2}{2}\\sum W^2` added to the mean cross-entropy.
    decay_scope : {"weights", "all"}
        Which parameters the penalties and ``weight_decay`` act on: ``"weights"`` are
        ``split_decay_params``'s (kernels; no biases, no normalization parameters), ``"all"``
        every trainable parameter.
    epochs, batch_size : int
        Passes over the data and examples per step (>= 1). The batches follow a NumPy
        permutation per epoch drawn from ``numpy.random.default_rng(seed)``, the same in every
        backend; a last batch of one example is skipped when ``batch_size > 1``.
    seed : int
        Seeds the batch order and the dropout masks; no global generator is changed.
    early_stopping : regbook.EarlyStopping, optional
        Reset first, fed ``history[monitor][-1]`` after each epoch; its best weights are
        restored at the end when it restores (even without an early stop, as Keras 3 does).
    monitor : {"val_loss", "val_accuracy", "loss", "accuracy"}
        The entry passed to ``early_stopping`` (``val_*`` needs validation data).
    augment : callable, optional
        Online data augmentation: ``augment(X_batch, rng) -> X_batch`` is applied to every
        training mini-batch afresh before its step, on NumPy arrays of the training features'
        dtype (float32 in :mod:`regbook.np`, the model's in :mod:`regbook.torch` and
        :mod:`regbook.tf`; the same shape and dtype must come back, else a ``ValueError``
        before the step) with one generator for the run,
        ``numpy.random.default_rng([seed, 1])``, independent of the batch order (the batches
        stay those of the run without ``augment``). The labels, the evaluation and the
        validation data are never augmented. E.g.
        ``regbook.np.augment.SignalAugment(max_shift=5, sigma=0.1)``.
    label_smoothing : float
        :math:`\\varepsilon \\in [0, 1]`: training minimises the cross-entropy against the
        smoothed targets :math:`(1 - \\varepsilon)\\,\\text{onehot}(y) + \\varepsilon / C`
        (:func:`regbook.np.softmax_cross_entropy`; PyTorch's
        ``cross_entropy(label_smoothing=eps)``, Keras's ``CategoricalCrossentropy``
        ``(label_smoothing=eps)``), plus the penalties. The history's ``loss`` and
        ``val_loss`` stay the plain (unsmoothed) mean cross-entropy, so that histories with
        and without smoothing are comparable. 0 (the default) is the plain loss.
    progress : bool
        Show a progress bar over the epochs.
    """


def fit_penalized(model, X, y, *, loss: str = "squared_error", optimizer: str = "sgd",
                  lr: float = 0.1, momentum: float = 0.0, eps: float | None = None,
                  weight_decay: float = 0.0, lam1: float = 0.0, lam2: float = 0.0,
                  epochs: int = 100, batch_size: int | None = None, shuffle: bool = False,
                  seed: int = 0, record_weights: bool = False):
    """
    Parameters
    ----------
    model : a model of this backend
        Trained in place.
    X : array_like, shape (n, d)
        Inputs (converted to the model's dtype).
    y : array_like, shape (n,)
        Targets (float) or class labels (int).
    loss : {"squared_error", "cross_entropy"}
        :math:`\\ell(p, y) = \\frac12 (p - y)^2` or the softmax cross-entropy.
    optimizer : {"sgd", "adam", "adamw"}
    lr : float
        Learning rate, > 0.
    momentum : float
        SGD momentum in [0, 1) (``optimizer="sgd"`` only).
    eps : float, optional
        Adam's epsilon; the framework's default when ``None``.
    weight_decay : float
        The optimizer's ``weight_decay``, >= 0, on the weights only (the backend's notes say
        with which meaning). The default 0 holds for ``AdamW`` too.
    lam1, lam2 : float
        The book's L1 and L2 strengths, >= 0.
    epochs : int
        Passes over the data, >= 1.
    batch_size : int, optional
        Examples per step; all of them (full-batch gradient descent) when ``None``.
    shuffle : bool
        Reshuffle every epoch with a NumPy generator seeded by ``seed`` (else data order), the
        same batches in every backend.
    seed : int
        Seeds the shuffling (and any dropout masks); no global generator is changed.
    record_weights : bool
        Also record every parameter after every step.
    """
