"""fit_seeds: K seeds trained together give the numbers of K single fit_classifier runs."""

from __future__ import annotations

import numpy as np
import pytest

import regbook.np as rnp

#: The optimizer settings every equality test runs: each rule, each penalty, both scopes.
OPTIMIZERS = {
    "sgd+momentum, lam2, weight_decay": dict(optimizer="sgd", lr=0.05, momentum=0.9,
                                             lam2=1e-2, weight_decay=1e-3),
    "adam, lam1, weight_decay": dict(optimizer="adam", lr=1e-2, lam1=1e-3, weight_decay=1e-2),
    "adamw, lam2, weight_decay, all": dict(optimizer="adamw", lr=1e-2, lam2=1e-3,
                                           weight_decay=1e-1, decay_scope="all"),
}
SEEDS = [3, 7, 11]


@pytest.fixture(scope="module")
def data():
    """Random float64 rows of length 40 (MNIST-1D's), 49 of them: with batch_size 16 the last
    batch of each epoch has one example and is skipped, in fit_seeds as in fit_classifier."""
    rng = np.random.default_rng(0)
    return (rng.standard_normal((49, 40)), rng.integers(0, 10, 49),
            rng.standard_normal((20, 40)), rng.integers(0, 10, 20))


def _assert_same_run(weights, ref_weights, history, ref_history):
    for a, b in zip(weights, ref_weights, strict=True):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8 * scale)
    assert set(history) == set(ref_history)
    for key in ref_history:
        np.testing.assert_allclose(history[key], ref_history[key], rtol=1e-8, atol=1e-12)
    assert history.stopped_epoch is None and history.best_epoch is None


def _single_runs(backend, make_model, data, **kwargs):
    X, y, X_val, y_val = data
    runs = []
    for s in SEEDS:
        model = make_model(s)
        history = backend.fit_classifier(model, X, y, X_val=X_val, y_val=y_val, seed=s,
                                         **kwargs)
        runs.append((model, history))
    return runs


# --- NumPy: a leading model axis ---------------------------------------------------------------

def _np_custom(s: int) -> rnp.Sequential:
    """Every other layer fit_seeds stacks: bare LayerNorm over positions, MaxPool1d, stride 1,
    no padding, batch norm on a feature map, GlobalAvgPool1d, dropout on a feature map."""
    rng = np.random.default_rng(s)
    return rnp.Sequential([
        rnp.AddChannel(40), rnp.Conv1d(1, 4, 3, padding=1, rng=rng, dtype="float64"),
        rnp.LayerNorm(40, dtype="float64"), rnp.ReLU(),
        rnp.Dropout(0.2, rng=np.random.default_rng(s + 100)), rnp.MaxPool1d(2),
        rnp.Conv1d(4, 6, 3, stride=2, rng=rng, dtype="float64"),
        rnp.BatchNorm(6, dtype="float64"), rnp.ReLU(), rnp.GlobalAvgPool1d(),
        rnp.Linear(6, 10, rng=rng, dtype="float64")])


NP_MODELS = {
    "mlp": lambda s: rnp.make_mlp(40, (24, 12), 10, seed=s, dtype="float64"),
    "mlp batchnorm dropout": lambda s: rnp.make_mlp(40, (24,), 10, dropout=0.3, batchnorm=True,
                                                    seed=s, dtype="float64"),
    "cnn": lambda s: rnp.make_cnn(seed=s, dtype="float64"),
    "cnn batchnorm": lambda s: rnp.make_cnn(batchnorm=True, seed=s, dtype="float64"),
    "cnn layernorm dropout": lambda s: rnp.make_cnn(layernorm=True, dropout=0.2, seed=s,
                                                    dtype="float64"),
    "custom (pooling, bare layer norm)": _np_custom,
}


@pytest.mark.parametrize("settings", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
@pytest.mark.parametrize("make_model", NP_MODELS.values(), ids=NP_MODELS.keys())
def test_np_seeds_together_equal_single_runs(make_model, settings, data):
    X, y, X_val, y_val = data
    models, histories = rnp.fit_seeds(make_model, X, y, seeds=SEEDS, X_val=X_val, y_val=y_val,
                                      epochs=2, batch_size=16, **settings)
    runs = _single_runs(rnp, make_model, data, epochs=2, batch_size=16, **settings)
    for model, history, (ref, ref_history) in zip(models, histories, runs, strict=True):
        # get_weights: the parameters, then the buffers (batch norm's running statistics)
        _assert_same_run(model.get_weights(), ref.get_weights(), history, ref_history)


def test_np_dropout_masks_come_from_each_members_own_generators(data):
    X, y, _, _ = data
    make = NP_MODELS["mlp batchnorm dropout"]
    models, _ = rnp.fit_seeds(make, X, y, seeds=SEEDS, epochs=1, batch_size=16)
    for s, model in zip(SEEDS, models):
        ref = make(s)
        rnp.fit_classifier(ref, X, y, epochs=1, batch_size=16, seed=s)
        assert model.layers[3].rng.bit_generator.state == ref.layers[3].rng.bit_generator.state


def test_np_returns_ordinary_trained_models(data):
    X, y, X_val, y_val = data
    models, histories = rnp.fit_seeds(lambda s: rnp.make_cnn(seed=s), X, y, seeds=[0, 1],
                                      X_val=X_val, y_val=y_val, epochs=2, batch_size=16)
    assert [type(m) for m in models] == [rnp.Sequential] * 2
    for model, history in zip(models, histories):
        loss, acc = rnp.evaluate_classifier(model, X_val, y_val)
        assert loss == pytest.approx(history.val_loss[-1], rel=1e-5)
        assert acc == pytest.approx(history.val_accuracy[-1])
        assert rnp.predict_logits(model, X_val).shape == (20, 10)
    assert not np.allclose(models[0].layers[1].params["w"], models[1].layers[1].params["w"])
    assert not np.allclose(models[0].layers[1].params["w"],
                           rnp.make_cnn(seed=0).layers[1].params["w"])  # trained


def test_np_float32_models_stay_float32_and_close_to_single_runs(data):
    X, y, _, _ = data
    models, histories = rnp.fit_seeds(lambda s: rnp.make_cnn(seed=s), X, y, seeds=[5],
                                      epochs=1, batch_size=16)
    ref = rnp.make_cnn(seed=5)
    ref_history = rnp.fit_classifier(ref, X, y, epochs=1, batch_size=16, seed=5)
    for a, b in zip(models[0].get_weights(), ref.get_weights()):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert histories[0].loss == pytest.approx(ref_history.loss, rel=1e-5)


def test_np_leaves_the_global_generator_alone(data):
    X, y, _, _ = data
    state = np.random.get_state()[1].copy()
    rnp.fit_seeds(NP_MODELS["mlp batchnorm dropout"], X, y, seeds=[0, 1], epochs=1)
    assert np.array_equal(np.random.get_state()[1], state)


class _Square(rnp.Layer):
    def forward(self, x, training):
        self.cache = x
        return x * x

    def backward(self, dout):
        return 2 * self.cache * dout


def test_np_refuses_a_layer_it_cannot_stack(data):
    X, y, _, _ = data

    def make(s):
        rng = np.random.default_rng(s)
        return rnp.Sequential([rnp.Linear(40, 8, rng=rng), _Square(), rnp.Linear(8, 10, rng=rng)])

    with pytest.raises(TypeError, match=r"cannot stack layer 1 \(_Square\).*fit_classifier"):
        rnp.fit_seeds(make, X, y, seeds=[0, 1])


def test_np_bad_labels_are_refused_before_any_step(data):
    X, y, _, _ = data
    built = []

    def make(s):
        built.append(rnp.make_mlp(40, (8,), 3, seed=s))
        return built[-1]

    with pytest.raises(ValueError, match="y_train must hold class labels in"):
        rnp.fit_seeds(make, X, y, seeds=[0, 1])
    fresh = rnp.make_mlp(40, (8,), 3, seed=0)
    for a, b in zip(built[0].get_weights(), fresh.get_weights()):
        assert np.array_equal(a, b)


# --- bad input, every backend -----------------------------------------------------------------

def _backend(name):
    if name == "np":
        return rnp
    if name == "torch":
        pytest.importorskip("torch")
        import regbook.torch as backend
        return backend
    pytest.importorskip("tensorflow")
    import regbook.tf as backend
    return backend


@pytest.mark.parametrize("name", ["np", "torch", "tf"])
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(seeds=[]), ValueError, "seeds must name at least one seed"),
    (dict(seeds=[1, 2, 1]), ValueError, r"seeds\[0\] and seeds\[2\] are both 1"),
    (dict(seeds=3), TypeError, "seeds must be a sequence of ints"),
    (dict(seeds="012"), TypeError, "seeds must be a sequence of ints"),
    (dict(seeds=[0, -1]), ValueError, r"seeds\[1\]"),
    (dict(seeds=[0, 1.5]), TypeError, r"seeds\[1\]"),
    (dict(seeds=[0], lr=0.0), ValueError, "lr"),
    (dict(seeds=[0], optimizer="rmsprop"), ValueError, "optimizer must be one of"),
    (dict(seeds=[0], early_stopping=None), TypeError, "early_stopping"),
    (dict(seeds=[0], seed=0), TypeError, "seed"),
    (dict(seeds=[0], monitor="loss"), TypeError, "monitor"),
    (dict(), TypeError, "seeds"),
])
def test_bad_arguments_are_refused_before_any_model_is_built(name, kwargs, error, match, data):
    backend = _backend(name)
    X, y, _, _ = data
    built = []

    def make(s):
        built.append(s)
        return backend.make_mlp(40, (8,), 10, seed=s)

    with pytest.raises(error, match=match):
        backend.fit_seeds(make, X, y, **kwargs)
    assert built == []


@pytest.mark.parametrize("name", ["np", "torch", "tf"])
def test_make_model_must_be_callable_and_build_one_architecture(name, data):
    backend = _backend(name)
    X, y, _, _ = data
    with pytest.raises(TypeError, match="make_model must be callable"):
        backend.fit_seeds(backend.make_mlp(40, (8,), 10), X, y, seeds=[0])
    with pytest.raises(ValueError, match=r"make_model\(1\) built a model whose architecture"):
        backend.fit_seeds(lambda s: backend.make_mlp(40, (8 + s,), 10, seed=s), X, y,
                          seeds=[0, 1])
    with pytest.raises(ValueError, match=r"make_model\(1\) built a model whose architecture"):
        backend.fit_seeds(lambda s: backend.make_mlp(40, (8,), 10, dropout=0.1 * s, seed=s),
                          X, y, seeds=[0, 1])
    shared = backend.make_mlp(40, (8,), 10)
    with pytest.raises(ValueError, match="share parameters"):
        backend.fit_seeds(lambda s: shared, X, y, seeds=[0, 1])
    with pytest.raises(TypeError, match=r"make_model\(0\) did not return a model"):
        backend.fit_seeds(lambda s: "a model", X, y, seeds=[0])


# --- PyTorch: torch.func + vmap ---------------------------------------------------------------

@pytest.fixture(scope="module")
def rt():
    pytest.importorskip("torch")
    import torch

    import regbook.torch as backend
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield backend
    torch.set_num_threads(threads)


TORCH_MODELS = {
    "mlp": lambda rt, s: rt.make_mlp(40, (24, 12), 10, seed=s, dtype="float64"),
    "mlp batchnorm": lambda rt, s: rt.make_mlp(40, (24,), 10, batchnorm=True, seed=s,
                                               dtype="float64"),
    "cnn": lambda rt, s: rt.make_cnn(seed=s, dtype="float64"),
    "cnn batchnorm": lambda rt, s: rt.make_cnn(batchnorm=True, seed=s, dtype="float64"),
    "cnn layernorm": lambda rt, s: rt.make_cnn(layernorm=True, seed=s, dtype="float64"),
}


def _torch_state(model) -> list[np.ndarray]:
    return [t.detach().numpy() for t in model.state_dict().values()]


@pytest.mark.parametrize("settings", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
@pytest.mark.parametrize("build", TORCH_MODELS.values(), ids=TORCH_MODELS.keys())
def test_torch_seeds_together_equal_single_runs(rt, build, settings, data):
    X, y, X_val, y_val = data
    make_model = lambda s: build(rt, s)  # noqa: E731
    models, histories = rt.fit_seeds(make_model, X, y, seeds=SEEDS, X_val=X_val, y_val=y_val,
                                     epochs=2, batch_size=16, **settings)
    runs = _single_runs(rt, make_model, data, epochs=2, batch_size=16, **settings)
    for model, history, (ref, ref_history) in zip(models, histories, runs, strict=True):
        # the state dict: parameters and buffers (running statistics, num_batches_tracked)
        _assert_same_run(_torch_state(model), _torch_state(ref), history, ref_history)


def test_torch_dropout_members_get_their_own_masks_and_train(rt):
    """Under vmap the masks cannot be a single run's (one generator draws all K members'), so
    this checks what holds: members that start from the same weights and see the same full
    batches end apart (each had its own masks), and every member's loss falls."""
    import torch

    rng = np.random.default_rng(1)
    X = rng.standard_normal((64, 40))
    y = (X[:, :10].argmax(axis=1)).astype(np.int64)      # a learnable rule
    make = lambda s: rt.make_mlp(40, (32,), 10, dropout=0.5, seed=0)  # noqa: E731
    before = rt.evaluate_classifier(make(0), X, y)[0]
    state = torch.random.get_rng_state()
    models, histories = rt.fit_seeds(make, X, y, seeds=[0, 1, 2], epochs=30, lr=1e-2,
                                     batch_size=64)
    assert torch.equal(torch.random.get_rng_state(), state)
    weights = [m[0].weight.detach().numpy() for m in models]
    assert not np.allclose(weights[0], weights[1]) and not np.allclose(weights[1], weights[2])
    for history in histories:
        assert history.loss[-1] < 0.7 * before
    again, _ = rt.fit_seeds(make, X, y, seeds=[0, 1, 2], epochs=30, lr=1e-2, batch_size=64)
    for a, b in zip(models, again):                          # reproducible
        assert np.array_equal(_torch_state(a)[0], _torch_state(b)[0])


def test_torch_returns_ordinary_trained_models_in_their_mode(rt, data):
    X, y, X_val, y_val = data
    models, histories = rt.fit_seeds(lambda s: rt.make_cnn(batchnorm=True, seed=s), X, y,
                                     seeds=[0, 1], X_val=X_val, y_val=y_val, epochs=2,
                                     batch_size=16)
    for model, history in zip(models, histories):
        assert model.training                                # as make_cnn built it
        loss, acc = rt.evaluate_classifier(model, X_val, y_val)
        assert loss == pytest.approx(history.val_loss[-1], rel=1e-5)
        assert acc == pytest.approx(history.val_accuracy[-1])
        assert rt.predict_logits(model, X_val).shape == (20, 10)


# --- Keras: a loop over the seeds -------------------------------------------------------------

def test_tf_seeds_are_single_runs_dropout_included(data):
    rtf = _backend("tf")
    X, y, X_val, y_val = data
    make = lambda s: rtf.make_mlp(40, (12,), 10, dropout=0.3, batchnorm=True,  # noqa: E731
                                  seed=s, dtype="float64")
    settings = dict(optimizer="sgd", lr=0.05, momentum=0.9, lam1=1e-3, epochs=1,
                    batch_size=16)
    models, histories = rtf.fit_seeds(make, X, y, seeds=SEEDS[:2], X_val=X_val, y_val=y_val,
                                      **settings)
    for s, model, history in zip(SEEDS, models, histories):
        ref = make(s)
        ref_history = rtf.fit_classifier(ref, X, y, X_val=X_val, y_val=y_val, seed=s,
                                         **settings)
        _assert_same_run(model.get_weights(), ref.get_weights(), history, ref_history)
