"""regbook.tf.make_mlp, fit_classifier: the shared vocabulary, PyTorch's steps, Keras callbacks."""

from __future__ import annotations

import inspect
import random

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

import regbook.tf as rtf  # noqa: E402
from regbook import EarlyStopping, data  # noqa: E402
from regbook.history import History  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return data.digits_split(n_train=80)


def _kinds(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def _dense_weights(model) -> list[np.ndarray]:
    return [w for layer in model.layers if isinstance(layer, keras.layers.Dense)
            for w in layer.get_weights()]


def _fit(model, split, **kwargs):
    kwargs = {**dict(X_val=split.X_val, y_val=split.y_val, epochs=3, lr=1e-2, batch_size=16),
              **kwargs}
    return rtf.fit_classifier(model, split.X_train, split.y_train, **kwargs)


# --- make_mlp ------------------------------------------------------------------------------

def test_make_mlp_orders_dense_batchnorm_relu_dropout():
    model = rtf.make_mlp(6, (5, 4), 3, dropout=0.25, batchnorm=True, seed=0)
    assert _kinds(model) == ["Dense", "BatchNorm", "ReLU", "Dropout"] * 2 + ["Dense"]
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [
        5, 4, 3]
    bn = model.layers[1]
    assert isinstance(bn, rtf.BatchNorm) and (bn.momentum, bn.eps) == (0.1, 1e-5)
    assert model.layers[3].rate == 0.25
    assert _kinds(rtf.make_mlp(6, (5,), 3, seed=0)) == ["Dense", "ReLU", "Dense"]
    assert _kinds(rtf.make_mlp(6, (), 3, seed=0)) == ["Dense"]


def test_dense_weights_of_a_seed_do_not_depend_on_dropout_or_batchnorm():
    plain = _dense_weights(rtf.make_mlp(6, (5, 4), 3, seed=7))
    for kwargs in (dict(dropout=0.5), dict(batchnorm=True), dict(dropout=0.1, batchnorm=True)):
        other = _dense_weights(rtf.make_mlp(6, (5, 4), 3, seed=7, **kwargs))
        for a, b in zip(plain, other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_same_seed_same_weights_other_seed_other_weights():
    first, again = (rtf.make_mlp(6, (5,), 3, seed=3).get_weights() for _ in range(2))
    other = rtf.make_mlp(6, (5,), 3, seed=4).get_weights()
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    # The two kernels of one model come from different seeds.
    model = rtf.make_mlp(5, (5,), 5, seed=3)
    assert not np.array_equal(model.layers[0].kernel.numpy(), model.layers[2].kernel.numpy())


def test_kernels_are_glorot_uniform_and_biases_zero():
    model = rtf.make_mlp(40, (60,), 10, seed=0)
    kernel, bias = model.layers[0].get_weights()
    limit = np.sqrt(6.0 / (40 + 60))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    assert kernel.std() == pytest.approx(limit / np.sqrt(3.0), rel=0.05)
    np.testing.assert_array_equal(bias, 0.0)


@pytest.mark.parametrize("dtype", ["float64", np.float64, np.dtype("float64")])
def test_make_mlp_builds_float64_models(dtype):
    model = rtf.make_mlp(6, (5,), 3, batchnorm=True, dropout=0.2, seed=0, dtype=dtype)
    assert {v.dtype for v in model.weights} == {"float64"}
    assert rtf.predict_logits(model, np.ones((2, 6), np.float32)).dtype == np.float64
    assert rtf.predict_logits(rtf.make_mlp(6, (5,), 3), np.ones((2, 6))).dtype == np.float32


def test_make_mlp_and_fit_classifier_leave_the_global_generators_alone(digits):
    python_state, numpy_state = random.getstate(), np.random.get_state()
    model = rtf.make_mlp(64, (8,), 10, dropout=0.3, batchnorm=True, seed=0)
    _fit(model, digits, epochs=1)
    assert random.getstate() == python_state
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(hidden=8), TypeError, "hidden"),
    (dict(hidden="8"), TypeError, "hidden"),
    (dict(hidden=(8, 0)), ValueError, r"hidden\[1\]"),
    (dict(n_classes=1), ValueError, "n_classes"),
    (dict(dropout=1.0), ValueError, "dropout"),
    (dict(batchnorm=1), TypeError, "batchnorm"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(dtype="float16"), ValueError, "dtype"),
])
def test_make_mlp_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        rtf.make_mlp(6, **kwargs)


# --- fit_classifier: determinism, penalties, weight decay -----------------------------------

def test_same_seed_twice_gives_the_identical_history(digits):
    runs = [_fit(rtf.make_mlp(64, (16,), seed=1, dropout=0.3, batchnorm=True), digits, seed=5)
            for _ in range(2)]
    assert isinstance(runs[0], History)
    assert runs[0] == runs[1]
    other = _fit(rtf.make_mlp(64, (16,), seed=1, dropout=0.3, batchnorm=True), digits, seed=6)
    assert other != runs[0]


def test_dropout_is_on_in_training_only(digits):
    kwargs = dict(epochs=1, lr=1e-2, batch_size=16, seed=0)
    plain = rtf.make_mlp(64, (16,), seed=0, dtype="float64")
    dropped = rtf.make_mlp(64, (16,), seed=0, dropout=0.5, dtype="float64")
    np.testing.assert_array_equal(rtf.predict_logits(plain, digits.X_val),
                                  rtf.predict_logits(dropped, digits.X_val))
    rtf.fit_classifier(plain, digits.X_train, digits.y_train, **kwargs)
    rtf.fit_classifier(dropped, digits.X_train, digits.y_train, **kwargs)
    assert np.abs(plain.layers[0].kernel.numpy() - dropped.layers[0].kernel.numpy()).max() > 1e-4


@pytest.mark.parametrize("optimizer, momentum", [("sgd", 0.0), ("sgd", 0.9), ("adam", 0.0)])
def test_coupled_weight_decay_equals_the_l2_penalty(optimizer, momentum, digits):
    """PyTorch's weight_decay for SGD and Adam adds wd * W to the gradient: lam2 = wd."""
    runs = []
    for kwargs in (dict(lam2=0.05), dict(weight_decay=0.05)):
        model = rtf.make_mlp(64, (16,), seed=0, dtype="float64")
        history = _fit(model, digits, optimizer=optimizer, momentum=momentum, **kwargs)
        runs.append((history, model.get_weights()))
    (h_l2, w_l2), (h_wd, w_wd) = runs
    for key in h_l2:
        np.testing.assert_allclose(h_l2[key], h_wd[key], rtol=1e-6, atol=1e-6)
    for a, b in zip(w_l2, w_wd, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_adamw_decay_is_decoupled_not_the_l2_penalty(digits):
    weights = {}
    for name, kwargs in (("adam_l2", dict(optimizer="adam", lam2=0.5)),
                         ("adamw", dict(optimizer="adamw", weight_decay=0.5))):
        model = rtf.make_mlp(64, (16,), seed=0, dtype="float64")
        _fit(model, digits, **kwargs)
        weights[name] = model.layers[0].kernel.numpy()
    assert np.abs(weights["adam_l2"] - weights["adamw"]).max() > 1e-3


def _one_full_batch_sgd_step(split, scope, **penalties):
    """One SGD step on all examples, from a model whose biases and BN parameters are non-zero."""
    model = rtf.make_mlp(64, (8,), seed=0, batchnorm=True, dtype="float64")
    rng = np.random.default_rng(0)
    for v in model.trainable_variables:
        if v.name != "kernel":
            v.assign(v.numpy() + rng.uniform(0.5, 1.0, v.shape))
    before = [v.numpy().copy() for v in model.trainable_variables]
    n = len(split.X_train)
    rtf.fit_classifier(model, split.X_train, split.y_train, optimizer="sgd", lr=0.1, epochs=1,
                       batch_size=n, decay_scope=scope, **penalties)
    return before, model


@pytest.mark.parametrize("penalty", [dict(lam1=0.3), dict(lam2=0.7), dict(weight_decay=0.7)])
def test_decay_scope_weights_leaves_biases_and_norm_parameters_unpenalised(penalty, digits):
    _, plain = _one_full_batch_sgd_step(digits, "weights")
    before, penalised = _one_full_batch_sgd_step(digits, "weights", **penalty)
    _, everything = _one_full_batch_sgd_step(digits, "all", **penalty)
    decay, _ = rtf.split_decay_params(penalised)
    decayed = {id(v) for v in decay}
    assert [v.name for v in decay] == ["kernel", "kernel"]
    lam1 = penalty.get("lam1", 0.0)
    lam2 = penalty.get("lam2", 0.0) + penalty.get("weight_decay", 0.0)
    for w0, p, a, e in zip(before, plain.trainable_variables, penalised.trainable_variables,
                           everything.trainable_variables, strict=True):
        # The first step's data gradient is the same in all three runs, so the penalty's
        # share of the update is the difference: -lr * (lam1 sign(w) + lam2 w) where it acts.
        shift = -0.1 * (lam1 * np.sign(w0) + lam2 * w0)
        np.testing.assert_allclose(e.numpy() - p.numpy(), shift, rtol=1e-9, atol=1e-12)
        expected = shift if id(a) in decayed else 0.0
        np.testing.assert_allclose(a.numpy() - p.numpy(), expected, rtol=1e-9, atol=1e-12)


# --- the same numbers as PyTorch -----------------------------------------------------------

def _torch_ready():
    rtorch = pytest.importorskip("regbook.torch")
    shared = {"decay_scope", "lam1", "optimizer"}
    if not shared <= set(inspect.signature(rtorch.fit_classifier).parameters) or (
            "dtype" not in inspect.signature(rtorch.make_mlp).parameters):
        pytest.skip("regbook.torch.fit_classifier/make_mlp do not have the shared signature yet")
    return rtorch


def _copy_torch_into_keras(torch_model, keras_model) -> None:
    """Linear weight (out, in) -> Dense kernel (in, out); BatchNorm1d -> regbook.tf.BatchNorm."""
    import torch

    torch_layers = [m for m in torch_model if isinstance(m, (torch.nn.Linear,
                                                             torch.nn.BatchNorm1d))]
    keras_layers = [layer for layer in keras_model.layers if layer.weights]
    for t, k in zip(torch_layers, keras_layers, strict=True):
        if isinstance(t, torch.nn.Linear):
            k.set_weights([t.weight.detach().numpy().T, t.bias.detach().numpy()])
        else:
            k.set_weights([t.weight.detach().numpy(), t.bias.detach().numpy(),
                           t.running_mean.numpy(), t.running_var.numpy()])


def _torch_weights_as_keras(torch_model) -> list[np.ndarray]:
    import torch

    out = []
    for m in torch_model:
        if isinstance(m, torch.nn.Linear):
            out += [m.weight.detach().numpy().T, m.bias.detach().numpy()]
        elif isinstance(m, torch.nn.BatchNorm1d):
            out += [m.weight.detach().numpy(), m.bias.detach().numpy(),
                    m.running_mean.numpy(), m.running_var.numpy()]
    return out


@pytest.mark.parametrize("kwargs", [
    dict(optimizer="sgd", lr=0.05, momentum=0.9, lam1=1e-3, lam2=1e-2, weight_decay=5e-3),
    dict(optimizer="adam", lr=1e-2, lam1=1e-3, lam2=1e-2, weight_decay=5e-3),
    dict(optimizer="adamw", lr=1e-2, lam1=1e-3, lam2=1e-2, weight_decay=0.1),
    dict(optimizer="adamw", lr=1e-2, lam1=1e-3, weight_decay=0.1, decay_scope="all",
         batchnorm=True),
    dict(optimizer="sgd", lr=0.05, momentum=0.5, lam2=1e-2, weight_decay=5e-3,
         decay_scope="all", batchnorm=True),
], ids=["sgd-momentum", "adam", "adamw", "adamw-all-bn", "sgd-all-bn"])
def test_keras_and_pytorch_fit_classifier_take_the_same_steps(kwargs, digits):
    rtorch = _torch_ready()
    kwargs = dict(kwargs)
    batchnorm = kwargs.pop("batchnorm", False)
    torch_model = rtorch.make_mlp(64, (16, 12), 10, batchnorm=batchnorm, seed=0,
                                  dtype="float64")
    keras_model = rtf.make_mlp(64, (16, 12), 10, batchnorm=batchnorm, seed=0, dtype="float64")
    _copy_torch_into_keras(torch_model, keras_model)
    np.testing.assert_allclose(rtf.predict_logits(keras_model, digits.X_val),
                               rtorch.predict_logits(torch_model, digits.X_val), atol=1e-12)
    common = dict(X_val=digits.X_val, y_val=digits.y_val, epochs=2, batch_size=16, seed=3,
                  **kwargs)
    h_torch = rtorch.fit_classifier(torch_model, digits.X_train, digits.y_train, **common)
    h_keras = rtf.fit_classifier(keras_model, digits.X_train, digits.y_train, **common)
    assert set(h_keras) == set(h_torch) and h_keras.epochs == 2
    for key in h_torch:
        np.testing.assert_allclose(h_keras[key], h_torch[key], rtol=1e-8, atol=1e-8, err_msg=key)
    for a, b in zip(keras_model.get_weights(), _torch_weights_as_keras(torch_model),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-8)
    # The run moved the weights well beyond the tolerance.
    start = rtf.make_mlp(64, (16, 12), 10, seed=0, dtype="float64")
    _copy_torch_into_keras(rtorch.make_mlp(64, (16, 12), 10, seed=0, dtype="float64"), start)
    assert np.abs(start.layers[0].kernel.numpy() - keras_model.layers[0].kernel.numpy()).max(
        ) > 1e-3


# --- Keras callbacks, driven by hand -------------------------------------------------------

def test_keras_early_stopping_callback_stops_and_restores_as_regbook_early_stopping(digits):
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                             restore_best_weights=True)
    ours = EarlyStopping(patience=2, restore_best_weights=True)
    kwargs = dict(epochs=60, lr=3e-2, optimizer="adam")
    keras_run = rtf.make_mlp(64, (32,), seed=0)
    regbook_run = rtf.make_mlp(64, (32,), seed=0)
    h_keras = _fit(keras_run, digits, callbacks=[callback], **kwargs)
    h_ours = _fit(regbook_run, digits, early_stopping=ours, **kwargs)
    assert h_keras == h_ours
    n_run = h_keras.epochs
    assert 0 < callback.stopped_epoch == n_run - 1 < 59
    assert (callback.stopped_epoch, callback.best_epoch) == (h_ours.stopped_epoch,
                                                            h_ours.best_epoch)
    assert h_keras.stopped_epoch == callback.stopped_epoch
    assert callback.best_epoch < callback.stopped_epoch     # the restore is not a no-op
    for a, b in zip(keras_run.get_weights(), regbook_run.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    val_loss, _ = rtf.evaluate_classifier(keras_run, digits.X_val, digits.y_val)
    assert val_loss == pytest.approx(min(h_keras["val_loss"]), rel=1e-6)


class _Recorder(keras.callbacks.Callback):
    def __init__(self, stop_after: int | None = None):
        super().__init__()
        self.calls, self.logs, self.stop_after = [], [], stop_after

    def on_train_begin(self, logs=None):
        self.calls.append("begin")
        self.seen_model = self.model

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"start {epoch}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(epoch)
        self.logs.append(dict(logs))
        if epoch == self.stop_after:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.calls.append("end")


def test_callbacks_see_the_history_and_can_stop_training(digits):
    model = rtf.make_mlp(64, (8,), seed=0)
    recorder = _Recorder(stop_after=1)
    history = _fit(model, digits, epochs=5, callbacks=[recorder])
    assert recorder.seen_model is model
    assert recorder.calls == ["begin", "start 0", 0, "start 1", 1, "end"]
    assert history.epochs == 2 and history.stopped_epoch == 1
    assert recorder.logs == [{k: v[i] for k, v in history.items()} for i in range(2)]
    assert recorder.params["epochs"] == 5
    # stop_training is reset at the start of the next fit
    again = _Recorder()
    assert _fit(model, digits, epochs=2, callbacks=[again]).epochs == 2
    assert again.calls == ["begin", "start 0", 0, "start 1", 1, "end"]


# --- evaluation -----------------------------------------------------------------------------

def test_predict_logits_is_inference_mode_in_batches(digits):
    model = rtf.make_mlp(64, (16,), seed=0, dropout=0.5, batchnorm=True)
    whole = rtf.predict_logits(model, digits.X_val)
    np.testing.assert_allclose(rtf.predict_logits(model, digits.X_val, batch_size=7), whole,
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(rtf.predict_logits(model, digits.X_val), whole)
    expected = keras.ops.convert_to_numpy(model(digits.X_val.astype(np.float32),
                                                training=False))
    np.testing.assert_allclose(whole, expected, rtol=1e-6, atol=1e-6)


def test_evaluate_classifier_gives_the_recorded_loss_and_accuracy(digits):
    model = rtf.make_mlp(64, (16,), seed=0, dtype="float64")
    history = _fit(model, digits)
    loss, accuracy = rtf.evaluate_classifier(model, digits.X_val, digits.y_val)
    assert type(loss) is float and type(accuracy) is float
    assert (loss, accuracy) == (history.val_loss[-1], history.val_accuracy[-1])
    logits = rtf.predict_logits(model, digits.X_val)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(len(p)), digits.y_val]).mean(), rel=1e-12)


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("labels, name", [("train", "y_train"), ("val", "y_val")])
def test_a_label_beyond_the_outputs_is_refused_before_any_step(labels, name, digits):
    model = rtf.make_mlp(64, (8,), 10, seed=0)
    before = model.get_weights()
    y_train, y_val = digits.y_train.copy(), digits.y_val.copy()
    (y_train if labels == "train" else y_val)[3] = 10
    with pytest.raises(ValueError, match=name):
        rtf.fit_classifier(model, digits.X_train, y_train, X_val=digits.X_val, y_val=y_val,
                           epochs=1)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call, error, match", [
    (lambda m, s: rtf.fit_classifier("model", s.X_train, s.y_train), TypeError, "keras.Model"),
    (lambda m, s: rtf.fit_classifier(m, s.X_train[:, :10], s.y_train), ValueError, "X_train"),
    (lambda m, s: rtf.fit_classifier(m, s.X_train, s.y_train, optimizer="rmsprop"),
     ValueError, "optimizer"),
    (lambda m, s: rtf.fit_classifier(m, s.X_train, s.y_train, decay_scope="kernels"),
     ValueError, "decay_scope"),
    (lambda m, s: rtf.fit_classifier(m, s.X_train, s.y_train, optimizer="adam", momentum=0.9),
     ValueError, "momentum"),
    (lambda m, s: rtf.fit_classifier(m, s.X_train, s.y_train, callbacks=EarlyStopping()),
     TypeError, "callbacks"),
    (lambda m, s: rtf.fit_classifier(m, s.X_train, s.y_train, callbacks=[EarlyStopping()]),
     TypeError, "keras.callbacks.Callback"),
    (lambda m, s: rtf.predict_logits(m, s.X_train[:, :10]), ValueError, "X"),
    (lambda m, s: rtf.predict_logits(m, s.X_train, batch_size=0), ValueError, "batch_size"),
    (lambda m, s: rtf.predict_logits(object(), s.X_train), TypeError, "keras.Model"),
    (lambda m, s: rtf.evaluate_classifier(m, s.X_val, s.y_val + 10), ValueError, "y"),
])
def test_bad_input_is_refused_before_any_step(call, error, match, digits):
    model = rtf.make_mlp(64, (8,), 10, seed=0)
    before = model.get_weights()
    with pytest.raises(error, match=match):
        call(model, digits)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
