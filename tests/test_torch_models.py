"""regbook.torch's make_mlp and fit_classifier: layers, seeds, the penalised step, the checks."""

from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest

from regbook import EarlyStopping, data

torch = pytest.importorskip("torch")
rtorch = pytest.importorskip("regbook.torch")
nn = torch.nn

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits():
    return data.digits_split(n_train=80)


def _kinds(model):
    return [type(m).__name__ for m in model]


def _linear_weights(model):
    return [t.detach().clone() for m in model if isinstance(m, nn.Linear)
            for t in (m.weight, m.bias)]


def _same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def _fit(model, split, **kwargs):
    args = dict(epochs=2, lr=1e-2, batch_size=16, seed=0) | kwargs
    return rtorch.fit_classifier(model, split.X_train, split.y_train, **args)


# --- make_mlp ------------------------------------------------------------------------------

@pytest.mark.parametrize("dropout, batchnorm, kinds", [
    (0.0, False, ["Linear", "ReLU", "Linear", "ReLU", "Linear"]),
    (0.3, False, ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]),
    (0.0, True, ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear"]),
    (0.3, True, ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear", "BatchNorm1d", "ReLU",
                 "Dropout", "Linear"]),
])
def test_make_mlp_layer_order(dropout, batchnorm, kinds):
    model = rtorch.make_mlp(6, (5, 4), 3, dropout=dropout, batchnorm=batchnorm)
    assert _kinds(model) == kinds
    assert [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)] == [
        (6, 5), (5, 4), (4, 3)]
    assert all(m.p == dropout for m in model if isinstance(m, nn.Dropout))
    assert [m.num_features for m in model if isinstance(m, nn.BatchNorm1d)] == (
        [5, 4] if batchnorm else [])


def test_make_mlp_weights_depend_on_the_seed_only():
    plain = _linear_weights(rtorch.make_mlp(6, (5, 4), 3, seed=7))
    for kwargs in (dict(dropout=0.5), dict(batchnorm=True), dict(dropout=0.2, batchnorm=True)):
        other = _linear_weights(rtorch.make_mlp(6, (5, 4), 3, seed=7, **kwargs))
        for a, b in zip(plain, other, strict=True):
            assert torch.equal(a, b), kwargs
    assert not torch.equal(plain[0], _linear_weights(rtorch.make_mlp(6, (5, 4), 3, seed=8))[0])


def test_make_mlp_draws_pytorchs_default_init_from_the_seed():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        reference = nn.Linear(6, 5)
    model = rtorch.make_mlp(6, (5,), 3, seed=3)
    assert torch.equal(model[0].weight, reference.weight)
    assert torch.equal(model[0].bias, reference.bias)


def test_make_mlp_leaves_the_global_torch_generator_alone():
    torch.manual_seed(1234)
    before = torch.random.get_rng_state()
    rtorch.make_mlp(6, (5,), 3, seed=0, dropout=0.5, batchnorm=True)
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize("dtype", ["float64", torch.float64, np.float64])
def test_make_mlp_float64(dtype):
    model = rtorch.make_mlp(6, (5,), 3, batchnorm=True, dtype=dtype)
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    assert model[1].running_mean.dtype == torch.float64
    assert rtorch.predict_logits(model, np.ones((2, 6))).dtype == np.float64
    assert rtorch.make_mlp(6, (5,)).state_dict()["0.weight"].dtype == torch.float32


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(hidden=8), TypeError, "hidden must be a sequence"),
    (dict(hidden="8"), TypeError, "hidden must be a sequence"),
    (dict(hidden=(8, 0)), ValueError, r"hidden\[1\]"),
    (dict(n_classes=1), ValueError, "n_classes"),
    (dict(dropout=1.0), ValueError, "dropout"),
    (dict(batchnorm=1), TypeError, "batchnorm must be a bool"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(dtype="float16"), ValueError, "dtype"),
    (dict(dtype=torch.int64), ValueError, "dtype"),
    (dict(dtype=3), TypeError, "dtype"),
])
def test_make_mlp_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        rtorch.make_mlp(6, **kwargs)


# --- fit_classifier: reproducible, leaves the caller's generator and mode alone ------------

def test_fit_classifier_leaves_the_global_generator_and_mode_alone(digits):
    model = rtorch.make_mlp(64, (16,), dropout=0.5, batchnorm=True)
    model.eval()
    torch.manual_seed(99)
    before = torch.random.get_rng_state()
    _fit(model, digits)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert not model.training
    model.train()
    _fit(model, digits)
    assert model.training and all(m.training for m in model)


def test_fit_classifier_same_seed_same_history_and_weights(digits):
    runs = []
    for _ in range(2):
        model = rtorch.make_mlp(64, (16,), dropout=0.5, batchnorm=True)
        runs.append((_fit(model, digits, X_val=digits.X_val, y_val=digits.y_val), model))
    assert runs[0][0] == runs[1][0]
    _same_state(runs[0][1].state_dict(), runs[1][1].state_dict())
    other = _fit(rtorch.make_mlp(64, (16,), dropout=0.5, batchnorm=True), digits, seed=1)
    assert other != runs[0][0]


def _reference_fit(model, X, y, *, opt_cls, opt_kwargs, weight_decay, lam1, lam2, scope, epochs,
                   batch_size, seed):
    # fit_classifier written out with torch.optim directly: the gold loop.
    X, y = torch.from_numpy(X).to(torch.float64), torch.from_numpy(y)
    if scope == "weights":
        decay = [m.weight for m in model if isinstance(m, nn.Linear)]
    else:
        decay = list(model.parameters())
    rest = [p for p in model.parameters() if all(p is not q for q in decay)]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    groups += [{"params": rest, "weight_decay": 0.0}] if rest else []
    opt = opt_cls(groups, **opt_kwargs)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = torch.from_numpy(order[start:start + batch_size])
            if len(idx) == 1:
                continue
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
            loss = loss + lam1 * sum(w.abs().sum() for w in decay)
            loss = loss + lam2 / 2 * sum(w.pow(2).sum() for w in decay)
            loss.backward()
            opt.step()
    return model


@pytest.mark.parametrize("optimizer, opt_cls, opt_kwargs, scope", [
    ("sgd", torch.optim.SGD, dict(lr=0.05, momentum=0.9), "weights"),
    ("adam", torch.optim.Adam, dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8), "all"),
    ("adamw", torch.optim.AdamW, dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8), "weights"),
])
def test_fit_classifier_matches_a_hand_written_torch_loop(optimizer, opt_cls, opt_kwargs, scope,
                                                          digits):
    # 80 examples in batches of 13: the last batch of 2 is kept, and the order is the
    # NumPy permutation of regbook._training.run_epochs.
    model = rtorch.make_mlp(64, (12,), dtype="float64", seed=2)
    gold = _reference_fit(copy.deepcopy(model), digits.X_train, digits.y_train, opt_cls=opt_cls,
                          opt_kwargs=opt_kwargs, weight_decay=0.03, lam1=1e-3, lam2=0.02,
                          scope=scope, epochs=3, batch_size=13, seed=5)
    momentum = opt_kwargs.get("momentum", 0.0)
    history = _fit(model, digits, optimizer=optimizer, lr=opt_kwargs["lr"], momentum=momentum,
                   weight_decay=0.03, lam1=1e-3, lam2=0.02, decay_scope=scope, epochs=3,
                   batch_size=13, seed=5)
    for (name, p), q in zip(model.named_parameters(), gold.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12, msg=name)
    loss, acc = rtorch.evaluate_classifier(gold, digits.X_train, digits.y_train)
    assert history.loss[-1] == pytest.approx(loss, rel=1e-12)
    assert history.accuracy[-1] == acc


def test_a_last_batch_of_one_is_skipped(digits):
    # 80 = 79 + 1: with batch_size=79 the epoch is one SGD step on the first 79 of the order.
    model = rtorch.make_mlp(64, (8,), dtype="float64")
    reference = copy.deepcopy(model)
    _fit(model, digits, optimizer="sgd", lr=0.1, batch_size=79, epochs=1)
    idx = torch.from_numpy(np.random.default_rng(0).permutation(80)[:79])
    X = torch.from_numpy(digits.X_train).to(torch.float64)
    y = torch.from_numpy(digits.y_train)
    nn.functional.cross_entropy(reference(X[idx]), y[idx]).backward()
    with torch.no_grad():
        for p in reference.parameters():
            p -= 0.1 * p.grad
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)


def test_lam2_with_sgd_is_sgds_weight_decay(digits):
    # Coupled weight decay adds wd * W to the gradient: the gradient of (wd / 2) ||W||^2.
    kw = dict(optimizer="sgd", lr=0.05, momentum=0.9, epochs=3, X_val=digits.X_val,
              y_val=digits.y_val)
    penalty, decay = rtorch.make_mlp(64, (16,)), rtorch.make_mlp(64, (16,))
    h_penalty = _fit(penalty, digits, lam2=0.1, **kw)
    h_decay = _fit(decay, digits, weight_decay=0.1, decay_scope="weights", **kw)
    for p, q in zip(penalty.parameters(), decay.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)
    for key in h_penalty:
        np.testing.assert_allclose(h_penalty[key], h_decay[key], rtol=0, atol=1e-6)
    plain = rtorch.make_mlp(64, (16,))
    _fit(plain, digits, **kw)
    assert (plain[0].weight - penalty[0].weight).abs().max() > 1e-4   # the penalty did act


@pytest.mark.parametrize("scope", ["weights", "all"])
def test_decay_scope_chooses_what_the_penalties_reach(scope, digits):
    # One full-batch SGD step from the same start: the penalised run differs from the plain
    # one by exactly lr * (lam2 * p + lam1 * sign(p)) on the penalised parameters only.
    lr, lam1, lam2 = 0.1, 0.01, 0.3
    start = rtorch.make_mlp(64, (8,), dtype="float64", seed=4)
    with torch.no_grad():
        start[0].bias.uniform_(0.1, 0.2)   # no bias at 0, where sign() has a kink
    plain, penalised = copy.deepcopy(start), copy.deepcopy(start)
    kw = dict(optimizer="sgd", lr=lr, epochs=1, batch_size=80)
    _fit(plain, digits, **kw)
    _fit(penalised, digits, lam1=lam1, lam2=lam2, decay_scope=scope, **kw)
    for name, p0 in start.named_parameters():
        p, q = dict(plain.named_parameters())[name], dict(penalised.named_parameters())[name]
        if name.endswith("bias") and scope == "weights":
            assert torch.equal(p, q), name   # no penalty gradient on the biases
        else:
            torch.testing.assert_close(p - q, lr * (lam2 * p0 + lam1 * p0.sign()), rtol=1e-9,
                                       atol=1e-12, msg=name)


def test_weight_decay_scope_in_adamw(digits):
    # Decoupled decay: with scope "weights" the biases follow the undecayed run exactly.
    start = rtorch.make_mlp(64, (8,), dtype="float64", seed=4)
    plain, decayed = copy.deepcopy(start), copy.deepcopy(start)
    kw = dict(optimizer="adamw", lr=0.01, epochs=1, batch_size=80)
    _fit(plain, digits, **kw)
    _fit(decayed, digits, weight_decay=0.5, **kw)
    torch.testing.assert_close(decayed[0].bias, plain[0].bias, rtol=0, atol=0)
    torch.testing.assert_close(decayed[0].weight, plain[0].weight - 0.01 * 0.5 * start[0].weight,
                               rtol=1e-9, atol=1e-12)


def test_early_stopping_restores_the_best_epoch(digits):
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    model = rtorch.make_mlp(64, (32,))
    history = _fit(model, digits, X_val=digits.X_val, y_val=digits.y_val, epochs=60,
                   lr=3e-2, early_stopping=stopper)
    assert history.restored and history.stopped_epoch == history.epochs - 1 < 59
    assert history.best_epoch == int(np.argmin(history.val_loss)) < history.stopped_epoch
    reference = rtorch.make_mlp(64, (32,))
    _fit(reference, digits, X_val=digits.X_val, y_val=digits.y_val, epochs=history.best_epoch + 1,
         lr=3e-2)
    _same_state(model.state_dict(), reference.state_dict())


# --- fit_classifier refuses bad input before any step --------------------------------------

@pytest.mark.parametrize("which", ["y_train", "y_val"])
def test_labels_beyond_the_models_outputs_are_refused_before_training(which, digits):
    model = rtorch.make_mlp(64, (8,), n_classes=5)
    before = copy.deepcopy(model.state_dict())
    kwargs = dict(X_val=digits.X_val, y_val=np.minimum(digits.y_val, 4))
    y_train = np.minimum(digits.y_train, 4)
    if which == "y_train":
        y_train = digits.y_train   # labels up to 9 for 5 outputs
    else:
        kwargs["y_val"] = digits.y_val
    with pytest.raises(ValueError, match=rf"{which} must hold class labels in \[0, 4\]"):
        rtorch.fit_classifier(model, digits.X_train, y_train, epochs=1, **kwargs)
    _same_state(model.state_dict(), before)


def test_a_numpy_model_is_refused(digits):
    import regbook.np as rnp

    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        rtorch.fit_classifier(rnp.make_mlp(64, (8,)), digits.X_train, digits.y_train, epochs=1)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        rtorch.predict_logits(rnp.make_mlp(64, (8,)), digits.X_train)


def test_the_wrong_number_of_features_names_X_train(digits):
    model = rtorch.make_mlp(64, (8,))
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match="X_train has 63 features but the model expects 64"):
        rtorch.fit_classifier(model, digits.X_train[:, :63], digits.y_train, epochs=1)
    _same_state(model.state_dict(), before)
    # A model whose first layer is not a Linear: the forward pass's error, renamed.
    wrapped = nn.Sequential(nn.Flatten(), model)
    with pytest.raises(ValueError, match="X_train has 63 features, which the model cannot"):
        rtorch.fit_classifier(wrapped, digits.X_train[:, :63], digits.y_train, epochs=1)
    with pytest.raises(ValueError, match="X has 63 features"):
        rtorch.predict_logits(model, digits.X_train[:, :63])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(optimizer="rmsprop"), ValueError, "optimizer must be one of"),
    (dict(decay_scope="biases"), ValueError, "decay_scope must be one of"),
    (dict(momentum=0.9), ValueError, "momentum applies to optimizer='sgd'"),
    (dict(lam1=-1.0), ValueError, "lam1"),
    (dict(weight_decay=float("nan")), ValueError, "weight_decay"),
    (dict(seed=2**32), ValueError, "seed"),
])
def test_fit_classifier_rejects_bad_arguments(kwargs, error, match, digits):
    model = rtorch.make_mlp(64, (8,))
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(error, match=match):
        _fit(model, digits, **kwargs)
    _same_state(model.state_dict(), before)


# --- predict_logits, evaluate_classifier ---------------------------------------------------

def test_predict_logits_in_evaluation_mode_restoring_the_mode(digits):
    model = rtorch.make_mlp(64, (8,), dropout=0.5, batchnorm=True)
    _fit(model, digits)
    model.train()
    first = rtorch.predict_logits(model, digits.X_test, batch_size=7)
    assert model.training and first.dtype == np.float32 and first.shape == (360, 10)
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(digits.X_test.astype(np.float32))).numpy()
    np.testing.assert_allclose(first, expected, rtol=1e-6, atol=1e-6)
    assert not model.training


def test_evaluate_classifier_returns_the_loss_and_accuracy_as_floats(digits):
    model = rtorch.make_mlp(64, (8,))
    history = _fit(model, digits, X_val=digits.X_val, y_val=digits.y_val)
    loss, acc = rtorch.evaluate_classifier(model, digits.X_val, digits.y_val)
    assert type(loss) is float and type(acc) is float
    assert loss == pytest.approx(history.val_loss[-1], rel=1e-6)
    assert acc == history.val_accuracy[-1]
    logits = torch.from_numpy(rtorch.predict_logits(model, digits.X_val))
    y = torch.from_numpy(digits.y_val)
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-6)
    assert acc == pytest.approx(float(np.mean(logits.argmax(1).numpy() == digits.y_val)))
    with pytest.raises(ValueError, match="y must hold class labels"):
        rtorch.evaluate_classifier(model, digits.X_val, digits.y_val + 1)


# --- parity with the NumPy backend ---------------------------------------------------------

def _np_has_the_shared_fit_classifier(rnp) -> bool:
    params = inspect.signature(rnp.fit_classifier).parameters
    return list(params)[:3] == ["model", "X_train", "y_train"] and {
        "lam1", "lam2", "weight_decay", "decay_scope", "optimizer", "momentum"} <= set(params)


def test_numpy_and_torch_backends_train_the_same_network(digits):
    import regbook.np as rnp

    if not _np_has_the_shared_fit_classifier(rnp):
        pytest.skip("regbook.np.fit_classifier does not have the shared signature yet")
    torch_model = rtorch.make_mlp(64, (12, 8), dtype="float64", seed=1)
    np_model = rnp.make_mlp(64, (12, 8), dtype="float64", seed=1)
    for i, layer in enumerate(torch_model):
        if isinstance(layer, nn.Linear):   # np stores W as (in, out), torch as (out, in)
            np_model.layers[i].params["W"][...] = layer.weight.detach().numpy().T
            np_model.layers[i].params["b"][...] = layer.bias.detach().numpy()
    kw = dict(X_val=digits.X_val, y_val=digits.y_val, optimizer="sgd", lr=0.05, momentum=0.9,
              lam1=1e-3, lam2=1e-2, weight_decay=5e-3, epochs=2, batch_size=13, seed=3)
    h_torch = rtorch.fit_classifier(torch_model, digits.X_train, digits.y_train, **kw)
    h_np = rnp.fit_classifier(np_model, digits.X_train, digits.y_train, **kw)
    assert h_torch.keys() == h_np.keys()
    for key in h_torch:
        np.testing.assert_allclose(h_np[key], h_torch[key], rtol=1e-10, atol=1e-12, err_msg=key)
    for i, layer in enumerate(torch_model):
        if isinstance(layer, nn.Linear):
            np.testing.assert_allclose(np_model.layers[i].params["W"],
                                       layer.weight.detach().numpy().T, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(np_model.layers[i].params["b"],
                                       layer.bias.detach().numpy(), rtol=1e-10, atol=1e-12)
