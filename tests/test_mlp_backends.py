"""The MLP helpers of the three backends: same calls, same history, deterministic, validated."""

import numpy as np
import pytest

from regbook import data

BACKENDS = ["np", "torch", "tf"]


@pytest.fixture(scope="module")
def tiny_digits():
    return data.digits_split(n_train=60)


def _backend(name):
    if name == "np":
        import regbook.np as backend
    elif name == "torch":
        pytest.importorskip("torch")
        import regbook.torch as backend
    else:
        pytest.importorskip("tensorflow")
        import regbook.tf as backend
    return backend


def _fit(backend, split, seed=0, epochs=3):
    model = backend.make_mlp(64, hidden=(16,), n_classes=10, seed=seed)
    history = backend.fit_classifier(model, split.X_train, split.y_train, X_val=split.X_val,
                                     y_val=split.y_val, epochs=epochs, lr=1e-2, batch_size=16,
                                     seed=seed)
    return model, history


@pytest.mark.parametrize("name", BACKENDS)
def test_history_has_keras_keys_one_entry_per_epoch(name, tiny_digits):
    backend = _backend(name)
    model, history = _fit(backend, tiny_digits)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in history.values())
    assert backend.predict_logits(model, tiny_digits.X_test).shape == (360, 10)


@pytest.mark.parametrize("name", BACKENDS)
def test_recorded_accuracy_matches_the_model(name, tiny_digits):
    backend = _backend(name)
    model, history = _fit(backend, tiny_digits)
    logits = backend.predict_logits(model, tiny_digits.X_val)
    assert history["val_accuracy"][-1] == pytest.approx(
        np.mean(logits.argmax(axis=1) == tiny_digits.y_val))


@pytest.mark.parametrize("name", BACKENDS)
def test_same_seed_same_history(name, tiny_digits):
    backend = _backend(name)
    _, first = _fit(backend, tiny_digits, seed=3)
    _, second = _fit(backend, tiny_digits, seed=3)
    _, other = _fit(backend, tiny_digits, seed=4)
    assert first == second
    assert first != other


@pytest.mark.parametrize("name", BACKENDS)
def test_training_reduces_loss(name, tiny_digits):
    backend = _backend(name)
    _, history = _fit(backend, tiny_digits, epochs=15)
    assert history["loss"][-1] < 0.5 * history["loss"][0]


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(epochs=0), ValueError, "epochs"),
    (dict(lr=-1.0), ValueError, "lr"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(X_val=np.zeros((2, 64))), ValueError, "X_val and y_val"),
])
def test_fit_rejects_bad_arguments(name, kwargs, error, match, tiny_digits):
    backend = _backend(name)
    model = backend.make_mlp(64, hidden=(4,), seed=0)
    with pytest.raises(error, match=match):
        backend.fit_classifier(model, tiny_digits.X_train, tiny_digits.y_train, **kwargs)


@pytest.mark.parametrize("name", BACKENDS)
def test_fit_rejects_mismatched_lengths(name, tiny_digits):
    backend = _backend(name)
    model = backend.make_mlp(64, hidden=(4,), seed=0)
    with pytest.raises(ValueError, match="lengths differ"):
        backend.fit_classifier(model, tiny_digits.X_train, tiny_digits.y_train[:-1])


@pytest.mark.parametrize("name", BACKENDS)
def test_make_mlp_rejects_bad_sizes(name):
    backend = _backend(name)
    with pytest.raises(ValueError, match="n_classes"):
        backend.make_mlp(64, n_classes=1)
    with pytest.raises(ValueError, match="hidden"):
        backend.make_mlp(64, hidden=(0,))


def _linear_arrays(name, model):
    """The (W (in, out), b) pairs of an MLP's linear layers, as NumPy arrays."""
    if name == "np":
        return [(l.params["W"], l.params["b"]) for l in model.layers if "W" in l.params]
    if name == "torch":
        return [(m.weight.detach().numpy().T, m.bias.detach().numpy()) for m in model
                if hasattr(m, "weight") and m.weight.dim() == 2]
    return [tuple(w.numpy() for w in layer.weights) for layer in model.layers
            if len(layer.weights) == 2 and layer.weights[0].ndim == 2]


def _set_linear_arrays(name, model, arrays):
    import copy

    arrays = copy.deepcopy(arrays)
    if name == "np":
        layers = [l for l in model.layers if "W" in l.params]
        for layer, (W, b) in zip(layers, arrays):
            layer.params["W"][...], layer.params["b"][...] = W, b
    elif name == "torch":
        import torch

        layers = [m for m in model if hasattr(m, "weight") and m.weight.dim() == 2]
        with torch.no_grad():
            for layer, (W, b) in zip(layers, arrays):
                layer.weight.copy_(torch.from_numpy(W.T)), layer.bias.copy_(torch.from_numpy(b))
    else:
        layers = [layer for layer in model.layers
                  if len(layer.weights) == 2 and layer.weights[0].ndim == 2]
        for layer, (W, b) in zip(layers, arrays):
            layer.set_weights([W, b])


# Batch norm only with SGD: the bias of a Linear layer before a batch norm has a gradient that is
# exactly 0 in exact arithmetic, ~1e-17 of rounding noise in each backend, and Adam divides that
# noise by its own square root -- a step of size lr in a direction no backend agrees on.
@pytest.mark.parametrize("optimizer, batchnorm, extra", [
    ("sgd", True, dict(momentum=0.9, weight_decay=1e-3, lam1=1e-4, lam2=1e-3)),
    ("adam", False, dict(weight_decay=1e-3, lam2=1e-3)),
    ("adamw", False, dict(weight_decay=1e-2, lam1=1e-4)),
])
def test_one_call_trains_the_same_network_in_every_backend(optimizer, batchnorm, extra,
                                                           tiny_digits):
    """Switching the import is all it takes: same weights in, same history and weights out."""
    backends = {name: _backend(name) for name in BACKENDS}
    models = {name: b.make_mlp(64, (16, 8), 10, batchnorm=batchnorm, seed=0, dtype="float64")
              for name, b in backends.items()}
    start = _linear_arrays("torch", models["torch"])
    for name in ("np", "tf"):
        _set_linear_arrays(name, models[name], start)
    s = tiny_digits
    histories = {name: b.fit_classifier(models[name], s.X_train, s.y_train, X_val=s.X_val,
                                        y_val=s.y_val, optimizer=optimizer, lr=1e-2,
                                        epochs=2, batch_size=16, seed=5, **extra)
                 for name, b in backends.items()}
    for name in ("np", "tf"):
        for key in histories["torch"]:
            np.testing.assert_allclose(histories[name][key], histories["torch"][key],
                                       rtol=1e-9, atol=1e-12, err_msg=f"{name} {key}")
        for (W, b), (W0, b0) in zip(_linear_arrays(name, models[name]),
                                    _linear_arrays("torch", models["torch"])):
            np.testing.assert_allclose(W, W0, rtol=1e-9, atol=1e-12, err_msg=name)
            np.testing.assert_allclose(b, b0, rtol=1e-9, atol=1e-12, err_msg=name)
    assert histories["torch"]["loss"][-1] < histories["torch"]["loss"][0]
