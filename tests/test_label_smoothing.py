"""Label smoothing: the smoothed cross-entropy of regbook.np (against PyTorch and Keras), and the
``label_smoothing`` training parameter of fit_classifier and fit_seeds in all three backends."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import regbook
import regbook.np as rnp
from _same_runs import assert_is_the_handwritten_loop, assert_same_runs

SEEDS = [3, 7, 11]
#: (seed, N, C) of the random loss checks: shapes from a single row to many classes.
SHAPES = [(0, 1, 2), (1, 7, 3), (2, 16, 10), (3, 33, 5), (4, 5, 17), (5, 64, 10)]
EPSILONS = [0.0, 0.05, 0.1, 0.3, 0.5, 1.0]


def _backend(name):
    if name != "np":
        pytest.importorskip({"torch": "torch", "tf": "tensorflow"}[name])
    return regbook.backends.get(name)


def _random_logits(seed, n, c):
    rng = np.random.default_rng(seed)
    return 3.0 * rng.standard_normal((n, c)), rng.integers(0, c, n)


def _old_softmax_cross_entropy(logits, y):
    """The loss as it was before label smoothing existed, operation for operation."""
    logp = rnp.log_softmax(logits)
    n = logp.shape[0]
    rows = np.arange(n)
    loss = float(-logp[rows, y].mean())
    dlogits = np.exp(logp)
    dlogits[rows, y] -= 1.0
    dlogits /= n
    return loss, dlogits


def _smoothed_targets(y, c, eps):
    return (1 - eps) * np.eye(c)[y] + eps / c


# --- the loss ---------------------------------------------------------------------------------

@pytest.mark.parametrize("eps", EPSILONS)
@pytest.mark.parametrize("seed, n, c", SHAPES)
def test_loss_is_the_cross_entropy_against_the_smoothed_targets(seed, n, c, eps):
    z, y = _random_logits(seed, n, c)
    loss, dz = rnp.softmax_cross_entropy(z, y, label_smoothing=eps)
    Q, P = _smoothed_targets(y, c, eps), rnp.softmax(z)
    assert loss == pytest.approx(float(-(Q * rnp.log_softmax(z)).sum(axis=1).mean()),
                                 rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(dz, (P - Q) / n, rtol=1e-12, atol=1e-15)
    assert dz.dtype == np.float64


@pytest.mark.parametrize("eps", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("seed, n, c", SHAPES[:4])
def test_gradient_matches_finite_differences(seed, n, c, eps):
    z, y = _random_logits(seed, n, c)
    _, dz = rnp.softmax_cross_entropy(z, y, label_smoothing=eps)
    numeric = rnp.numerical_gradient(
        lambda v: rnp.softmax_cross_entropy(v, y, label_smoothing=eps)[0], z)
    np.testing.assert_allclose(dz, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("seed, n, c", SHAPES)
def test_zero_smoothing_is_exactly_the_plain_loss(seed, n, c):
    z, y = _random_logits(seed, n, c)
    old_loss, old_dz = _old_softmax_cross_entropy(z, y)
    for kwargs in ({}, {"label_smoothing": 0.0}, {"label_smoothing": 0}):
        loss, dz = rnp.softmax_cross_entropy(z, y, **kwargs)
        assert loss == old_loss
        np.testing.assert_array_equal(dz, old_dz)


@pytest.mark.parametrize("eps", EPSILONS)
@pytest.mark.parametrize("seed, n, c", SHAPES)
def test_loss_and_gradient_equal_pytorch_cross_entropy(seed, n, c, eps):
    torch = pytest.importorskip("torch")
    z, y = _random_logits(seed, n, c)
    loss, dz = rnp.softmax_cross_entropy(z, y, label_smoothing=eps)
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(zt, torch.from_numpy(y), label_smoothing=eps)
    lt.backward()
    assert abs(loss - lt.item()) <= 1e-12
    np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("eps", EPSILONS)
@pytest.mark.parametrize("seed, n, c", SHAPES)
def test_loss_and_gradient_equal_keras_categorical_crossentropy(seed, n, c, eps):
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    z, y = _random_logits(seed, n, c)
    loss, dz = rnp.softmax_cross_entropy(z, y, label_smoothing=eps)
    cce = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=eps,
                                               dtype="float64")
    zt = tf.Variable(z, dtype=tf.float64)
    with tf.GradientTape() as tape:
        lk = cce(tf.constant(np.eye(c)[y], dtype=tf.float64), zt)
    assert lk.dtype == tf.float64
    assert abs(loss - float(lk)) <= 1e-12
    np.testing.assert_allclose(dz, tape.gradient(lk, zt).numpy(), rtol=0, atol=1e-14)


def test_keras_smooths_one_hot_targets_as_pytorch_does():
    """Keras: ``y * (1 - eps) + eps / C`` on the one-hot target, the Q of PyTorch and regbook.np:
    its smoothed loss on one-hot targets is its unsmoothed loss on those Q (and PyTorch's)."""
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")
    z, y = _random_logits(9, 12, 6)
    for eps in (0.1, 0.4):
        Q = _smoothed_targets(y, 6, eps)
        smoothed = keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=eps, dtype="float64")(tf.constant(np.eye(6)[y]),
                                                                    tf.constant(z))
        on_q = keras.losses.CategoricalCrossentropy(from_logits=True, dtype="float64")(
            tf.constant(Q), tf.constant(z))
        with_q = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=Q, logits=z))
        torch_loss = torch.nn.functional.cross_entropy(torch.from_numpy(z), torch.from_numpy(y),
                                                       label_smoothing=eps)
        torch_on_q = torch.nn.functional.cross_entropy(torch.from_numpy(z), torch.from_numpy(Q))
        for value in (on_q, with_q, torch_loss, torch_on_q):
            assert float(smoothed) == pytest.approx(float(value), rel=1e-12)


def test_keras_sparse_crossentropy_has_no_label_smoothing():
    """What the docstring's Notes say: only the one-hot loss smooths, in Keras 3."""
    keras = pytest.importorskip("keras")
    assert "label_smoothing" not in inspect.signature(keras.losses.SparseCategoricalCrossentropy
                                                      ).parameters
    assert "label_smoothing" in inspect.signature(keras.losses.CategoricalCrossentropy
                                                  ).parameters
    assert "SparseCategoricalCrossentropy" in rnp.softmax_cross_entropy.__doc__


def test_full_smoothing_makes_the_loss_independent_of_the_label():
    z, _ = _random_logits(2, 4, 5)
    a = rnp.softmax_cross_entropy(z, np.array([0, 1, 2, 3]), label_smoothing=1.0)
    b = rnp.softmax_cross_entropy(z, np.array([4, 4, 0, 0]), label_smoothing=1.0)
    assert a[0] == pytest.approx(b[0], rel=1e-14)
    np.testing.assert_allclose(a[1], b[1], atol=1e-16)


@pytest.mark.parametrize("bad, error", [(-0.1, ValueError), (1.5, ValueError),
                                        (math.nan, ValueError), (math.inf, ValueError),
                                        ("0.1", TypeError), (True, TypeError),
                                        (None, TypeError)])
def test_loss_refuses_a_bad_label_smoothing_before_any_work(bad, error):
    with pytest.raises(error, match="label_smoothing"):
        # the logits are bad too: label_smoothing is checked first
        rnp.softmax_cross_entropy(np.array([[np.nan, 0.0]]), np.array([0]),
                                  label_smoothing=bad)


# --- training: the same numbers in every backend ---------------------------------------------

@pytest.fixture(scope="module")
def data():
    """49 random rows of length 40 (with batch_size 16 the last batch of one is skipped), as
    float64 values that float32 holds exactly: regbook.np trains on float32 features and the
    evaluation converts to float32, so every backend and every path sees the same numbers."""
    rng = np.random.default_rng(0)

    def rows(n):
        return rng.standard_normal((n, 40)).astype(np.float32).astype(np.float64)

    return rows(49), rng.integers(0, 10, 49), rows(20), rng.integers(0, 10, 20)


def _linear_arrays(name, model):
    """The (W (in, out), b) pairs of an MLP's linear layers, as NumPy arrays."""
    if name == "np":
        return [(lay.params["W"].copy(), lay.params["b"].copy()) for lay in model.layers
                if "W" in lay.params]
    if name == "torch":
        return [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
                for m in model if hasattr(m, "weight") and m.weight.dim() == 2]
    return [tuple(w.numpy().copy() for w in layer.weights) for layer in model.layers
            if len(layer.weights) == 2 and layer.weights[0].ndim == 2]


def _set_linear_arrays(name, model, arrays):
    if name == "np":
        for layer, (W, b) in zip([lay for lay in model.layers if "W" in lay.params], arrays):
            layer.params["W"][...], layer.params["b"][...] = W, b
    elif name == "tf":
        layers = [layer for layer in model.layers
                  if len(layer.weights) == 2 and layer.weights[0].ndim == 2]
        for layer, (W, b) in zip(layers, arrays):
            layer.set_weights([W, b])
    else:
        raise ValueError(name)


def _weights(backend, model) -> list[np.ndarray]:
    if backend is rnp:
        return [np.array(w) for w in model.get_weights()]
    if hasattr(model, "state_dict"):
        return [t.detach().cpu().numpy().copy() for t in model.state_dict().values()]
    return [np.array(w) for w in model.get_weights()]


@pytest.fixture
def torch_one_thread():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.mark.parametrize("optimizer, extra", [
    ("sgd", dict(momentum=0.9, lam2=1e-3)),
    ("adam", dict(weight_decay=1e-3, lam1=1e-4)),
])
def test_the_three_backends_take_the_same_smoothed_steps(optimizer, extra, data,
                                                         torch_one_thread):
    backends = {name: _backend(name) for name in ("np", "torch", "tf")}
    models = {name: b.make_mlp(40, (16, 8), 10, seed=0, dtype="float64")
              for name, b in backends.items()}
    start = _linear_arrays("torch", models["torch"])
    for name in ("np", "tf"):
        _set_linear_arrays(name, models[name], start)
    X, y, X_val, y_val = data
    histories = {name: b.fit_classifier(models[name], X, y, X_val=X_val, y_val=y_val,
                                        optimizer=optimizer, lr=1e-2, epochs=2, batch_size=16,
                                        seed=5, label_smoothing=0.1, **extra)
                 for name, b in backends.items()}
    for name in ("np", "tf"):
        for key in histories["torch"]:
            np.testing.assert_allclose(histories[name][key], histories["torch"][key],
                                       rtol=1e-9, atol=1e-12, err_msg=f"{name} {key}")
        for (W, b), (W0, b0) in zip(_linear_arrays(name, models[name]),
                                    _linear_arrays("torch", models["torch"]), strict=True):
            np.testing.assert_allclose(W, W0, rtol=1e-9, atol=1e-12, err_msg=name)
            np.testing.assert_allclose(b, b0, rtol=1e-9, atol=1e-12, err_msg=name)
    # smoothing changed the run: the same start without it ends elsewhere
    plain = rnp.make_mlp(40, (16, 8), 10, seed=0, dtype="float64")
    _set_linear_arrays("np", plain, start)
    rnp.fit_classifier(plain, X, y, optimizer=optimizer, lr=1e-2, epochs=2, batch_size=16,
                       seed=5, **extra)
    gap = max(np.abs(W - W0).max() for (W, _), (W0, _) in
              zip(_linear_arrays("np", plain), _linear_arrays("np", models["np"])))
    assert gap > 1e-4


def test_numpy_training_minimises_the_smoothed_loss(data):
    """The NumPy loop is the hand-written mini-batch loop on the smoothed loss."""
    X, y, _, _ = data
    settings = dict(optimizer="adam", lr=1e-2, epochs=2, batch_size=16)

    def make_model():
        return rnp.make_mlp(40, (16,), 10, seed=5, dtype="float64")

    model = make_model()
    rnp.fit_classifier(model, X, y, seed=5, label_smoothing=0.2, **settings)
    assert_is_the_handwritten_loop(
        model, make_model, X, y, seed=5, **settings,
        data_loss=lambda z, t: rnp.softmax_cross_entropy(z, t, label_smoothing=0.2))


@pytest.mark.parametrize("name", ["np", "torch", "tf"])
def test_the_history_reports_the_plain_cross_entropy(name, data):
    backend = _backend(name)
    X, y, X_val, y_val = data
    model = backend.make_mlp(40, (8,), 10, seed=1, dtype="float64")
    history = backend.fit_classifier(model, X, y, X_val=X_val, y_val=y_val, epochs=2,
                                     batch_size=16, label_smoothing=0.3)
    assert history.loss[-1] == pytest.approx(backend.evaluate_classifier(model, X, y)[0],
                                             rel=1e-12)
    assert history.val_loss[-1] == pytest.approx(
        backend.evaluate_classifier(model, X_val, y_val)[0], rel=1e-12)


@pytest.mark.parametrize("name", ["np", "torch", "tf"])
def test_zero_smoothing_leaves_training_bitwise_unchanged(name, data):
    backend = _backend(name)
    X, y, X_val, y_val = data
    settings = dict(X_val=X_val, y_val=y_val, optimizer="adam", lr=1e-2, epochs=2,
                    batch_size=16, seed=4)
    runs = []
    for kwargs in ({}, {"label_smoothing": 0.0}, {"label_smoothing": 0}):
        model = backend.make_mlp(40, (16,), 10, dropout=0.2, seed=4)
        history = backend.fit_classifier(model, X, y, **settings, **kwargs)
        runs.append((_weights(backend, model), dict(history)))
    for weights, history in runs[1:]:
        for a, b in zip(weights, runs[0][0], strict=True):
            np.testing.assert_array_equal(a, b)
        assert history == runs[0][1]


def test_zero_smoothing_numpy_run_is_the_plain_loss_loop(data):
    """label_smoothing=0: exactly the steps of the pre-smoothing loss, bit for bit."""
    X, y, _, _ = data
    settings = dict(optimizer="sgd", lr=0.05, momentum=0.9, epochs=2, batch_size=16)

    def make_model():
        return rnp.make_mlp(40, (16,), 10, seed=2, dtype="float64")

    model = make_model()
    rnp.fit_classifier(model, X, y, seed=2, label_smoothing=0.0, **settings)
    assert_is_the_handwritten_loop(model, make_model, X, y, seed=2,
                                   data_loss=_old_softmax_cross_entropy, **settings)


# --- fit_seeds with smoothing is still K single runs ------------------------------------------

NP_MODELS = {
    "mlp dropout": lambda s: rnp.make_mlp(40, (24,), 10, dropout=0.3, seed=s, dtype="float64"),
    "cnn batchnorm": lambda s: rnp.make_cnn(channels=(4, 4), kernel_size=(5, 3),
                                            batchnorm=True, seed=s, dtype="float64"),
}


@pytest.mark.parametrize("make_model", NP_MODELS.values(), ids=NP_MODELS.keys())
def test_np_fit_seeds_with_smoothing_equals_single_runs(make_model, data):
    X, y, X_val, y_val = data
    settings = dict(optimizer="adam", lr=1e-2, lam2=1e-3, epochs=2, batch_size=16,
                    label_smoothing=0.1)
    models, histories = rnp.fit_seeds(make_model, X, y, seeds=SEEDS, X_val=X_val, y_val=y_val,
                                      **settings)
    for s, model, history in zip(SEEDS, models, histories, strict=True):
        ref = make_model(s)
        ref_history = rnp.fit_classifier(ref, X, y, X_val=X_val, y_val=y_val, seed=s,
                                         **settings)
        assert_same_runs(model.get_weights(), ref.get_weights(), history, ref_history)
    plain, _ = rnp.fit_seeds(make_model, X, y, seeds=SEEDS[:1], X_val=X_val, y_val=y_val,
                             **{**settings, "label_smoothing": 0.0})
    assert not np.allclose(plain[0].get_weights()[0], models[0].get_weights()[0], atol=1e-6)


@pytest.mark.parametrize("name", ["torch", "tf"])
def test_framework_fit_seeds_with_smoothing_equals_single_runs(name, data, torch_one_thread):
    backend = _backend(name)
    X, y, X_val, y_val = data

    def make_model(s):
        return backend.make_mlp(40, (12,), 10, seed=s, dtype="float64")

    settings = dict(optimizer="sgd", lr=0.05, momentum=0.9, epochs=2, batch_size=16,
                    label_smoothing=0.1)
    seeds = SEEDS[:2]
    models, histories = backend.fit_seeds(make_model, X, y, seeds=seeds, X_val=X_val,
                                          y_val=y_val, **settings)
    for s, model, history in zip(seeds, models, histories, strict=True):
        ref = make_model(s)
        ref_history = backend.fit_classifier(ref, X, y, X_val=X_val, y_val=y_val, seed=s,
                                             **settings)
        assert_same_runs(_weights(backend, model), _weights(backend, ref), history, ref_history)


# --- bad values are refused before anything changes --------------------------------------------

BAD = [(-0.1, ValueError), (1.5, ValueError), ("0.1", TypeError), (True, TypeError),
       (math.nan, ValueError)]


@pytest.mark.parametrize("bad, error", BAD, ids=[repr(b) for b, _ in BAD])
@pytest.mark.parametrize("name", ["np", "torch", "tf"])
def test_a_bad_label_smoothing_is_refused_and_the_model_is_unchanged(name, bad, error, data):
    backend = _backend(name)
    X, y, _, _ = data
    model = backend.make_mlp(40, (8,), 10, seed=0)
    before = _weights(backend, model)
    with pytest.raises(error, match="label_smoothing"):
        backend.fit_classifier(model, X, y, epochs=1, batch_size=16, label_smoothing=bad)
    for a, b in zip(_weights(backend, model), before, strict=True):
        np.testing.assert_array_equal(a, b)
    built = []

    def make(s):
        built.append(backend.make_mlp(40, (8,), 10, seed=s))
        return built[-1]

    with pytest.raises(error, match="label_smoothing"):
        backend.fit_seeds(make, X, y, seeds=[0, 1], epochs=1, batch_size=16,
                          label_smoothing=bad)
    assert built == []                      # refused before any member is built


@pytest.mark.parametrize("name", ["np", "torch", "tf"])
def test_label_smoothing_is_in_the_shared_signatures(name):
    backend = _backend(name)
    for func in (backend.fit_classifier, backend.fit_seeds):
        parameter = inspect.signature(func).parameters["label_smoothing"]
        assert parameter.default == 0.0 and parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert "label_smoothing : float" in func.__doc__
