"""The PyTorch and Keras MLP helpers: same shapes, same history keys, deterministic, validated."""

import numpy as np
import pytest

from regbook import data

BACKENDS = ["torch", "tf"]


@pytest.fixture(scope="module")
def tiny_digits():
    return data.digits_split(n_train=60)


def _backend(name):
    if name == "torch":
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
