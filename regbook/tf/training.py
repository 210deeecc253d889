r"""Training and evaluating a Keras classifier: the book's one training loop, in TensorFlow.

:func:`fit_classifier` has the same arguments in :mod:`regbook.np`, :mod:`regbook.torch` and
:mod:`regbook.tf`; its validation, mini-batch order and epoch loop (history, early stopping) are
the framework-agnostic :mod:`regbook._training`, so this module supplies only the step, the
evaluation and the weight snapshots. The step is a ``tf.GradientTape`` on the penalised
objective (:func:`gradient_step`, also the step of :func:`regbook.tf.fit_penalized`) followed by
PyTorch's update rule written on the ``tf.Variable`` objects (:class:`PyTorchUpdate`), so that
the three backends agree: Keras's own optimizers place Adam's epsilon differently and decay
weights decoupled in every optimizer (see the Conventions appendix).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from regbook import _signatures
from regbook._training import OPTIMIZERS, check_fit_classifier_args, run_epochs
from regbook._validate import check_array, check_classification_data, check_int, check_labels
from regbook.history import History
from regbook.tf.penalties import l1_penalty, l2_penalty, split_decay_params

__all__ = ["fit_classifier", "predict_logits", "evaluate_classifier", "PyTorchUpdate",
           "gradient_step", "data_loss"]


# --- the model: its type, dtype, input and output widths -------------------------------------

def _numpy_dtype(model: keras.Model) -> np.dtype:
    """The dtype of the model's weights (float64 data for a float64 model)."""
    weights = model.trainable_variables
    return np.dtype(keras.backend.standardize_dtype(weights[0].dtype)) if weights else np.float32


def _check_model(model) -> keras.Model:
    if not isinstance(model, keras.Model):
        kind = f"{type(model).__module__}.{type(model).__qualname__}"
        raise TypeError(f"model must be a keras.Model (e.g. from regbook.tf.make_mlp), got {kind}")
    return model


def _inputs(model: keras.Model) -> list:
    try:
        return list(model.inputs or [])
    except (AttributeError, ValueError):   # a subclassed or not yet built model
        return []


def _model_dtype(model: keras.Model) -> str:
    """The floating-point type the model computes in: its input's, else its first weight's."""
    inputs = _inputs(model)
    if len(inputs) == 1 and inputs[0].dtype in ("float16", "bfloat16", "float32", "float64"):
        return inputs[0].dtype
    return model.weights[0].dtype if model.weights else keras.config.floatx()


def _n_outputs(model: keras.Model, X: np.ndarray, X_name: str) -> int:
    """The model's number of outputs, from an inference pass on one row of ``X``.

    A feature count the model cannot take is a ``ValueError`` naming ``X_name``, raised before
    any training step (an unbuilt model is built by this call; nothing else changes).
    """
    inputs = _inputs(model)
    expected = inputs[0].shape[-1] if len(inputs) == 1 else None
    if expected is not None and X.shape[1] != expected:
        raise ValueError(f"{X_name} has {X.shape[1]} features but the model expects {expected} "
                         "(its input's width)")
    try:
        out = model(X[:1].astype(_model_dtype(model)), training=False)
    except (ValueError, TypeError, tf.errors.InvalidArgumentError) as err:
        raise ValueError(f"{X_name} has {X.shape[1]} features, which the model cannot take: "
                         f"{err}") from err
    if len(out.shape) != 2:
        raise ValueError(f"model must output logits of shape (n, n_classes), got shape "
                         f"{tuple(out.shape)} for one example")
    return int(out.shape[1])


# --- evaluation mode -------------------------------------------------------------------------

def _logits(model: keras.Model, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    X = X.astype(_model_dtype(model), copy=False)
    return np.concatenate([keras.ops.convert_to_numpy(model(X[i:i + batch_size], training=False))
                           for i in range(0, len(X), batch_size)])


def _loss_and_accuracy(model: keras.Model, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    logits = _logits(model, X).astype(np.float64, copy=False)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(len(y)), y].mean()
    return float(loss), float(np.mean(logits.argmax(axis=1) == y))


def predict_logits(model: keras.Model, X: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
    r"""The logits :math:`f_\theta(x)` of ``model`` for a NumPy batch ``X``, in inference mode.

    Parameters
    ----------
    model : keras.Model
    X : array_like, shape (n, d)
        Cast to the model's dtype.
    batch_size : int
        Rows per forward pass (>= 1), to bound the memory.

    Returns
    -------
    numpy.ndarray, shape (n, n_classes)
        Of the model's dtype; computed with ``training=False`` (dropout off, batch norm on its
        running statistics), which changes no state of the model.
    """
    model = _check_model(model)
    X = check_array(X, "X", ndim=2)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    _n_outputs(model, X, "X")
    return _logits(model, X, batch_size)


def evaluate_classifier(model: keras.Model, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    r"""Mean softmax cross-entropy and accuracy of ``model`` on ``(X, y)``, in inference mode
    (``training=False``): the :math:`L` and accuracy of :func:`regbook.np.evaluate_classifier`.

    Returns
    -------
    (float, float)
        The data loss (no penalty, computed in float64 from the logits) and the accuracy.
    """
    model = _check_model(model)
    X, y, _ = check_classification_data(X, y)
    check_labels(y, "y", _n_outputs(model, X, "X"))
    return _loss_and_accuracy(model, X, y)


# --- one step: the penalised objective's gradient, then an update ----------------------------

def data_loss(kind: str, out: tf.Tensor, y: tf.Tensor, *,
              label_smoothing: float = 0.0) -> tf.Tensor:
    r"""The mean data loss: ``"cross_entropy"`` (from logits) or ``"squared_error"``
    :math:`\frac{1}{2n}\sum_i (f(x_i) - y_i)^2`.

    With ``label_smoothing`` :math:`\varepsilon > 0` (cross-entropy only) the targets are the
    smoothed one-hot rows :math:`(1 - \varepsilon)\,\text{onehot}(y) + \varepsilon / C`, fed to
    ``tf.nn.softmax_cross_entropy_with_logits`` -- what Keras's
    ``CategoricalCrossentropy(from_logits=True, label_smoothing=eps)`` computes on one-hot
    targets (its sparse loss has no ``label_smoothing``), and the loss of
    :func:`regbook.np.softmax_cross_entropy`. At 0 it is the sparse cross-entropy, unchanged.
    """
    if kind == "squared_error":
        return 0.5 * tf.reduce_mean(tf.square(tf.reshape(out, tf.shape(y)) - y))
    if not label_smoothing:
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                             logits=out))
    n_classes = out.shape[-1]
    target = (tf.one_hot(y, n_classes, dtype=out.dtype) * (1.0 - label_smoothing)
              + label_smoothing / n_classes)
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=out))


def gradient_step(model: keras.Model, variables: Sequence, X: tf.Tensor, y: tf.Tensor, *,
                  loss: str, penalty: Callable[[], tf.Tensor | float],
                  apply: Callable[[list], None], label_smoothing: float = 0.0) -> tf.Tensor:
    r"""One training step: ``apply`` the gradient of the batch objective w.r.t. ``variables``.

    .. math:: J(\theta) = \frac{1}{|B|}\sum_{i\in B}\ell(f_\theta(x_i), y_i) + R(\theta)

    with the model called in training mode (``training=True``: dropout on, batch statistics)
    and :math:`R` = ``penalty()``, evaluated inside the tape. ``apply`` receives the list of
    gradients (``None`` for a variable the objective does not touch); ``label_smoothing`` is
    :func:`data_loss`'s. Returns :math:`J`.
    """
    with tf.GradientTape() as tape:
        objective = data_loss(loss, model(X, training=True), y,
                              label_smoothing=label_smoothing) + penalty()
    apply(tape.gradient(objective, list(variables)))
    return objective


class PyTorchUpdate:
    r"""PyTorch's update rules on Keras/TensorFlow variables, so that the three backends agree.

    With the gradient :math:`g` of the batch objective, learning rate :math:`\eta` and
    :math:`\text{wd}` = ``weight_decay`` (on the ``decay`` variables only, 0 elsewhere), it is
    ``torch.optim``'s single-tensor update, operation for operation:

    - ``"sgd"``: :math:`g \leftarrow g + \text{wd}\,w`; with momentum :math:`\mu`,
      :math:`b \leftarrow \mu b + g` (:math:`b = g` at the first step), :math:`g \leftarrow b`;
      :math:`w \leftarrow w - \eta g`;
    - ``"adam"``: :math:`g \leftarrow g + \text{wd}\,w` (coupled L2), then
      :math:`m \leftarrow m + (1-\beta_1)(g - m)`,
      :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
      :math:`w \leftarrow w - \frac{\eta}{1-\beta_1^t}\,
      \frac{m}{\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon}` -- epsilon added to the
      bias-corrected :math:`\sqrt{\hat v}`, where Keras adds it to :math:`\sqrt{v}`;
    - ``"adamw"``: :math:`w \leftarrow (1 - \eta\,\text{wd})\,w` (decoupled), then Adam's step
      without the coupled term.

    Variables whose gradient is ``None`` are skipped (not even decayed), as PyTorch skips a
    parameter without ``grad``. Usable inside a ``tf.function``: its state (momentum
    buffers, moments, step count) are ``tf.Variable`` objects created here.

    Parameters
    ----------
    variables : sequence of keras.Variable
        The trainable variables, in the order the gradients come.
    decay : sequence of keras.Variable
        Those ``weight_decay`` acts on.
    optimizer : {"sgd", "adam", "adamw"}
    lr, momentum, weight_decay : float
    betas : (float, float)
        Adam's :math:`(\beta_1, \beta_2)`, PyTorch's (0.9, 0.999).
    eps : float
        Adam's :math:`\epsilon`, PyTorch's 1e-8.
    """

    def __init__(self, variables: Sequence, decay: Sequence, *, optimizer: str, lr: float,
                 momentum: float = 0.0, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        self.variables = list(variables)
        decayed = {id(v) for v in decay}
        self.wd = [weight_decay if id(v) in decayed else 0.0 for v in self.variables]
        self.optimizer, self.lr, self.momentum = optimizer, lr, momentum
        (self.beta1, self.beta2), self.eps = betas, eps
        if optimizer == "sgd":
            self.buffers = [self._zeros(v) for v in self.variables] if momentum else None
        else:
            self.m = [self._zeros(v) for v in self.variables]
            self.v = [self._zeros(v) for v in self.variables]
            self.t = tf.Variable(0.0, dtype=tf.float64, trainable=False)

    @staticmethod
    def _zeros(variable) -> tf.Variable:
        return tf.Variable(tf.zeros(variable.shape, variable.dtype), trainable=False)

    def __call__(self, grads: Sequence) -> None:
        """Update every variable from its gradient (``grads`` in the order of ``variables``)."""
        if self.optimizer == "sgd":
            self._sgd(grads)
        else:
            self._adam(grads)

    def _sgd(self, grads: Sequence) -> None:
        for i, (w, g, wd) in enumerate(zip(self.variables, grads, self.wd)):
            if g is None:
                continue
            if wd:
                g = g + wd * w
            if self.momentum:
                g = self.momentum * self.buffers[i] + g
                self.buffers[i].assign(g)
            w.assign_sub(self.lr * g)

    def _adam(self, grads: Sequence) -> None:
        t = self.t.assign_add(1.0)
        bias1 = 1.0 - tf.pow(tf.constant(self.beta1, tf.float64), t)
        bias2_sqrt = tf.sqrt(1.0 - tf.pow(tf.constant(self.beta2, tf.float64), t))
        step_size = self.lr / bias1
        for w, g, wd, m, v in zip(self.variables, grads, self.wd, self.m, self.v):
            if g is None:
                continue
            if wd and self.optimizer == "adamw":
                w.assign(w * (1.0 - self.lr * wd))
            elif wd:
                g = g + wd * w
            m_new = m + (1.0 - self.beta1) * (g - m)
            v_new = self.beta2 * v + (1.0 - self.beta2) * (g * g)
            m.assign(m_new)
            v.assign(v_new)
            denom = tf.sqrt(v_new) / tf.cast(bias2_sqrt, v_new.dtype) + self.eps
            w.assign_sub(tf.cast(step_size, v_new.dtype) * (m_new / denom))


def _book_penalty(weights: list, lam1: float, lam2: float) -> tf.Tensor | float:
    total = 0.0
    if weights and lam1:
        total = total + l1_penalty(weights, lam1)
    if weights and lam2:
        total = total + l2_penalty(weights, lam2)
    return total


# --- Keras callbacks, driven by hand -------------------------------------------------------

def _check_callbacks(callbacks) -> list:
    if callbacks is None:
        return []
    if isinstance(callbacks, keras.callbacks.Callback) or not isinstance(callbacks,
                                                                         (list, tuple)):
        raise TypeError(f"callbacks must be a list of keras.callbacks.Callback objects or None, "
                        f"got {type(callbacks).__name__}")
    for cb in callbacks:
        if not isinstance(cb, keras.callbacks.Callback):
            raise TypeError(f"callbacks must hold keras.callbacks.Callback objects, got "
                            f"{type(cb).__name__}")
    return list(callbacks)


class _KerasCallbacks:
    """Keras callbacks driven by hand, in ``model.fit``'s order (the epoch-level hooks)."""

    def __init__(self, callbacks: list, model: keras.Model, params: dict):
        self.callbacks, self.model = callbacks, model
        self.next_epoch: int | None = 0
        self.logs: dict | None = None
        for cb in callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def on_train_begin(self) -> None:
        for cb in self.callbacks:
            cb.on_train_begin()

    def wrap(self, step: Callable[[np.ndarray], None]) -> Callable[[np.ndarray], None]:
        """``step``, calling ``on_epoch_begin`` before an epoch's first batch."""
        def step_with_callbacks(idx: np.ndarray, *X_batch: np.ndarray) -> None:
            if self.next_epoch is not None:
                for cb in self.callbacks:
                    cb.on_epoch_begin(self.next_epoch)
                self.next_epoch = None
            step(idx, *X_batch)

        return step_with_callbacks

    def on_epoch_end(self, epoch: int, history: History) -> bool:
        """``run_epochs``'s hook: the History's last values to every callback; True to stop."""
        self.logs = {key: values[-1] for key, values in history.items()}
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, self.logs)
        self.next_epoch = epoch + 1
        return bool(self.model.stop_training)

    def on_train_end(self) -> None:
        for cb in self.callbacks:
            cb.on_train_end(self.logs)


# --- the loop --------------------------------------------------------------------------------

@_signatures.implements(_signatures.fit_classifier)
def fit_classifier(model, X_train, y_train, *, callbacks=None, **options) -> History:
    r"""Train a Keras classifier in mini-batches on the cross-entropy plus the book's penalties.

    Each step minimises, on its batch :math:`B`,

    .. math:: J(\theta) = -\frac{1}{|B|}\sum_{i\in B}\sum_c q_{ic}\log\operatorname{softmax}
              (f_\theta(x_i))_c + \lambda_1\sum_W\lVert W\rVert_1
              + \frac{\lambda_2}{2}\sum_W\lVert W\rVert_2^2

    (:math:`q_i = (1 - \varepsilon)\,\text{onehot}(y_i) + \varepsilon / C` with
    ``label_smoothing`` :math:`= \varepsilon`, fed to ``tf.nn.softmax_cross_entropy_with_logits``
    as :func:`data_loss` says; the sparse cross-entropy at 0)
    over the variables :math:`W` chosen by ``decay_scope``: a ``tf.GradientTape`` on ``model(x,
    training=True)`` (a ``tf.function``), then PyTorch's update rule (:class:`PyTorchUpdate`:
    ``torch.optim.SGD``, ``Adam`` or ``AdamW`` with betas (0.9, 0.999), eps 1e-8) -- not
    ``model.fit`` and not a Keras optimizer, so that NumPy, PyTorch and Keras take the same
    steps. The batches follow a NumPy permutation per epoch drawn from
    ``numpy.random.default_rng(seed)`` (a last batch of one is skipped), the same in every
    backend; dropout masks come from the model's Dropout layers' own seeds
    (:func:`regbook.tf.make_mlp` sets them). No global generator is read or reseeded.

    ``weight_decay`` has **PyTorch's meaning** (the book's, in every backend), not that of Keras
    optimizers' ``weight_decay`` (decoupled in all of them); SGD's momentum is PyTorch's heavy
    ball :math:`b \leftarrow \mu b + g,\ w \leftarrow w - \eta b`. Early stopping is fed
    ``model.get_weights()``, set back when it restores.

    Other Parameters
    ----------------
    callbacks : list of keras.callbacks.Callback, optional
        Driven by hand as ``model.fit`` drives them: ``set_model(model)``, ``set_params``,
        ``on_train_begin()``, ``on_epoch_begin(epoch)`` before each epoch's first step,
        ``on_epoch_end(epoch, logs)`` after it with ``logs`` the History's last ``loss``,
        ``accuracy``, ``val_loss``, ``val_accuracy``, and ``on_train_end(logs)``; training
        stops when one sets ``model.stop_training = True`` (reset to False at the start). So
        ``keras.callbacks.EarlyStopping(monitor="val_loss", restore_best_weights=True)``
        stops on, and restores according to, exactly the values returned. The batch-level
        hooks are not called, and there is no ``model.optimizer`` for a callback to change.

    Returns
    -------
    regbook.History
        ``loss``, ``accuracy`` (training set, inference mode, after each epoch; data loss only,
        unsmoothed) and ``val_loss``, ``val_accuracy`` with validation data;
        ``stopped_epoch`` (also set when a callback stopped training), ``best_epoch``,
        ``restored`` (``regbook``'s ``early_stopping`` only).
    """
    model = _check_model(model)
    a = check_fit_classifier_args(X_train, y_train, **options, dtype=_numpy_dtype(model))
    callbacks = _check_callbacks(callbacks)
    n_classes = _n_outputs(model, a["X_train"], "X_train")
    check_labels(a["y_train"], "y_train", n_classes)
    if a["validation"] is not None:
        check_labels(a["validation"][1], "y_val", n_classes)
    step = _make_step(model, a)
    model.stop_training = False
    n_steps = math.ceil(len(a["X_train"]) / a["batch_size"])
    driver = _KerasCallbacks(callbacks, model, {"verbose": 0, "epochs": a["epochs"],
                                                "steps": n_steps})
    driver.on_train_begin()
    history = run_epochs(
        n=len(a["X_train"]), epochs=a["epochs"], batch_size=a["batch_size"], seed=a["seed"],
        step=driver.wrap(step) if callbacks else step,
        evaluate=lambda X, y: _loss_and_accuracy(model, X, y),
        train=(a["X_train"], a["y_train"]), validation=a["validation"],
        early_stopping=a["early_stopping"], monitor=a["monitor"], progress=a["progress"],
        get_weights=model.get_weights, set_weights=model.set_weights,
        on_epoch_end=driver.on_epoch_end if callbacks else None, augment=a["augment"],
        features=a["X_train"])
    driver.on_train_end()
    return history


def _make_step(model: keras.Model, a: dict) -> Callable[[np.ndarray], None]:
    """``step(indices[, X_batch])`` for ``run_epochs``: one :func:`gradient_step` in a
    ``tf.function``, on the rows ``indices`` of the training features or, with augmentation,
    on the augmented NumPy batch ``X_batch`` (as a tensor of the model's dtype)."""
    variables = model.trainable_variables
    if not variables:
        raise ValueError("model has no trainable variables")
    decay = split_decay_params(model)[0] if a["decay_scope"] == "weights" else list(variables)
    update = PyTorchUpdate(variables, decay, optimizer=a["optimizer"], lr=a["lr"],
                           momentum=a["momentum"], weight_decay=a["weight_decay"])
    dtype = _model_dtype(model)
    X = tf.constant(a["X_train"].astype(dtype, copy=False))
    y = tf.constant(a["y_train"])

    def batch_step(X_b, idx):
        gradient_step(model, variables, X_b, tf.gather(y, idx), loss="cross_entropy",
                      apply=update, penalty=lambda: _book_penalty(decay, a["lam1"], a["lam2"]),
                      label_smoothing=a["label_smoothing"])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
    def train_step(idx):
        batch_step(tf.gather(X, idx), idx)

    @tf.function(input_signature=[tf.TensorSpec([None, X.shape[1]], dtype),
                                  tf.TensorSpec([None], tf.int64)])
    def augmented_step(X_b, idx):
        batch_step(X_b, idx)

    def step(idx: np.ndarray, X_batch: np.ndarray | None = None) -> None:
        idx = tf.constant(idx, dtype=tf.int64)
        if X_batch is None:
            train_step(idx)
        else:
            augmented_step(tf.constant(X_batch.astype(dtype, copy=False)), idx)

    return step
