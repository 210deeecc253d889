"""Online augmentation in fit_classifier and fit_seeds: ``augment(X_batch, rng)`` on every
training batch, afresh at every step, from the run's own generator ``default_rng([seed, 1])``."""

from __future__ import annotations

import numpy as np
import pytest

import regbook
import regbook.np as rnp
from regbook._training import minibatches
from regbook.np.augment import SignalAugment
from regbook.np.losses import softmax_cross_entropy
from _same_runs import assert_is_the_handwritten_loop, assert_same_runs

SEEDS = [3, 7, 11]
#: A real augmentation: every transformation, every draw.
AUGMENT = SignalAugment(max_shift=3, max_scale=0.2, sigma=0.1)


@pytest.fixture(scope="module")
def data():
    """49 random rows of length 40: with batch_size 16 the last batch of one is skipped."""
    rng = np.random.default_rng(0)
    return (rng.standard_normal((49, 40)), rng.integers(0, 10, 49),
            rng.standard_normal((20, 40)), rng.integers(0, 10, 20))


def _backend(name):
    if name != "np":
        pytest.importorskip({"torch": "torch", "tf": "tensorflow"}[name])
    return regbook.backends.get(name)


def _weights(backend, model) -> list[np.ndarray]:
    if backend is rnp:
        return [np.array(w) for w in model.get_weights()]
    if hasattr(model, "state_dict"):
        return [t.detach().cpu().numpy().copy() for t in model.state_dict().values()]
    return [np.array(w) for w in model.get_weights()]


class Recorder:
    """An augmentation that records what it is given and returns ``inner``'s result."""

    def __init__(self, inner=None):
        self.inner, self.inputs, self.outputs = inner, [], []

    def __call__(self, X, rng):
        self.inputs.append(X.copy())
        out = X.copy() if self.inner is None else self.inner(X, rng)
        self.outputs.append(out.copy())
        return out


def _torch_one_thread():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    return torch, threads


# --- augment=None and the identity leave training as it was -----------------------------------

def test_without_augment_the_numpy_loop_is_the_plain_minibatch_loop(data):
    """augment=None: exactly the steps of a hand-written loop over the seed's batches."""
    X, y, _, _ = data
    settings = dict(optimizer="adam", lr=1e-2, epochs=3, batch_size=16)

    def make_model():
        return rnp.make_mlp(40, (16,), 10, dropout=0.2, seed=5, dtype="float64")

    model = make_model()
    rnp.fit_classifier(model, X, y, seed=5, augment=None, **settings)
    assert_is_the_handwritten_loop(model, make_model, X, y, seed=5,
                                   data_loss=softmax_cross_entropy, **settings)


@pytest.mark.parametrize("name", ["np", "torch", "tf"])
def test_an_identity_augment_gives_the_same_run_as_none(name, data):
    backend = _backend(name)
    X, y, X_val, y_val = data
    settings = dict(optimizer="sgd", lr=0.05, momentum=0.9, lam2=1e-3, epochs=2,
                    batch_size=16, seed=4, X_val=X_val, y_val=y_val)
    runs = []
    for augment in (None, lambda Xb, rng: Xb.copy()):
        model = backend.make_mlp(40, (16,), 10, dropout=0.3, seed=4)
        history = backend.fit_classifier(model, X, y, augment=augment, **settings)
        runs.append((_weights(backend, model), history))
    (w0, h0), (w1, h1) = runs
    for a, b in zip(w0, w1, strict=True):
        np.testing.assert_array_equal(a, b)
    assert dict(h0) == dict(h1)


# --- what augment is given, and when -----------------------------------------------------------

def test_augment_gets_every_batch_of_the_unchanged_order_with_the_runs_generator(data):
    X, y, _, _ = data
    rec = Recorder(AUGMENT)
    model = rnp.make_mlp(40, (8,), 10, seed=2)
    rnp.fit_classifier(model, X, y, epochs=2, batch_size=16, seed=2, augment=rec)
    order, X32 = np.random.default_rng(2), X.astype(np.float32)
    batches = [idx for _ in range(2) for idx in minibatches(order.permutation(len(X)), 16)]
    assert len(rec.inputs) == len(batches) == 6
    aug_rng = np.random.default_rng([2, 1])          # the run's own augmentation generator
    for got_in, got_out, idx in zip(rec.inputs, rec.outputs, batches):
        np.testing.assert_array_equal(got_in, X32[idx])          # un-augmented training rows
        np.testing.assert_array_equal(got_out, AUGMENT(X32[idx], aug_rng))
    # fresh draws each step: the same example is augmented differently in the two epochs
    first, second = (np.concatenate(rec.outputs[:3]), np.concatenate(rec.outputs[3:]))
    assert not np.allclose(np.sort(first, axis=None), np.sort(second, axis=None))


def test_evaluation_data_are_never_augmented(data):
    X, y, X_val, y_val = data
    model = rnp.make_mlp(40, (8,), 10, seed=1)
    history = rnp.fit_classifier(model, X, y, X_val=X_val, y_val=y_val, epochs=2,
                                 batch_size=16, augment=SignalAugment(sigma=3.0))
    assert history.loss[-1] == rnp.evaluate_classifier(model, X, y)[0]
    assert history.val_loss[-1] == rnp.evaluate_classifier(model, X_val, y_val)[0]


def test_the_three_backends_see_the_same_augmented_batches(data):
    X, y, _, _ = data
    seen = {}
    for name in ("np", "torch", "tf"):
        backend = _backend(name)
        rec = Recorder(AUGMENT)
        backend.fit_classifier(backend.make_mlp(40, (8,), 10, seed=6), X, y, epochs=2,
                               batch_size=16, seed=6, augment=rec)
        seen[name] = rec
    for name in ("torch", "tf"):
        assert len(seen[name].outputs) == len(seen["np"].outputs) == 6
        for a, b in zip(seen[name].inputs + seen[name].outputs,
                        seen["np"].inputs + seen["np"].outputs):
            assert a.dtype == b.dtype == np.float32
            np.testing.assert_array_equal(a, b)


def test_the_model_trains_on_the_augmented_batch(data):
    """An augmentation that zeroes every input: the first layer's weights get no gradient."""
    X, y, _, _ = data
    model = rnp.make_mlp(40, (8,), 10, seed=0)
    W0 = model.get_weights()[0].copy()
    rnp.fit_classifier(model, X, y, epochs=1, batch_size=16, optimizer="sgd", lr=0.1,
                       augment=lambda Xb, rng: np.zeros_like(Xb))
    np.testing.assert_array_equal(model.get_weights()[0], W0)


# --- fit_seeds with augment is still K single runs ---------------------------------------------

NP_MODELS = {
    "mlp dropout": lambda s: rnp.make_mlp(40, (24,), 10, dropout=0.3, seed=s, dtype="float64"),
    "cnn batchnorm": lambda s: rnp.make_cnn(batchnorm=True, seed=s, dtype="float64"),
}


@pytest.mark.parametrize("make_model", NP_MODELS.values(), ids=NP_MODELS.keys())
def test_np_fit_seeds_with_augment_equals_single_runs(make_model, data):
    X, y, X_val, y_val = data
    settings = dict(optimizer="adam", lr=1e-2, lam2=1e-3, epochs=2, batch_size=16,
                    augment=AUGMENT)
    models, histories = rnp.fit_seeds(make_model, X, y, seeds=SEEDS, X_val=X_val, y_val=y_val,
                                      **settings)
    for s, model, history in zip(SEEDS, models, histories, strict=True):
        ref = make_model(s)
        ref_history = rnp.fit_classifier(ref, X, y, X_val=X_val, y_val=y_val, seed=s,
                                         **settings)
        assert_same_runs(model.get_weights(), ref.get_weights(), history, ref_history)


@pytest.mark.parametrize("cnn", [False, True], ids=["mlp", "cnn"])
def test_torch_fit_seeds_with_augment_equals_single_runs(cnn, data):
    torch, threads = _torch_one_thread()
    try:
        rt = _backend("torch")
        X, y, X_val, y_val = data

        def make_model(s):
            if cnn:
                return rt.make_cnn(seed=s, dtype="float64")
            return rt.make_mlp(40, (24, 12), 10, seed=s, dtype="float64")

        settings = dict(optimizer="sgd", lr=0.05, momentum=0.9, epochs=2, batch_size=16,
                        augment=AUGMENT)
        models, histories = rt.fit_seeds(make_model, X, y, seeds=SEEDS, X_val=X_val,
                                         y_val=y_val, **settings)
        for s, model, history in zip(SEEDS, models, histories, strict=True):
            ref = make_model(s)
            ref_history = rt.fit_classifier(ref, X, y, X_val=X_val, y_val=y_val, seed=s,
                                            **settings)
            assert_same_runs(_weights(rt, model), _weights(rt, ref), history, ref_history)
    finally:
        torch.set_num_threads(threads)


def test_np_fit_seeds_gives_each_member_its_own_augmentation(data):
    X, y, _, _ = data
    rec = Recorder(AUGMENT)
    rnp.fit_seeds(lambda s: rnp.make_mlp(40, (8,), 10, seed=s), X, y, seeds=[0, 1],
                  epochs=1, batch_size=16, augment=rec)
    X32, orders = X.astype(np.float32), [np.random.default_rng(s) for s in (0, 1)]
    batches = [list(minibatches(o.permutation(len(X)), 16)) for o in orders]
    rngs = [np.random.default_rng([s, 1]) for s in (0, 1)]
    want = [AUGMENT(X32[idx], rngs[k]) for j in range(3) for k, idx in
            enumerate(b[j] for b in batches)]
    assert len(rec.outputs) == len(want) == 6
    for got, exp in zip(rec.outputs, want):
        np.testing.assert_array_equal(got, exp)


# --- a bad augment is refused, and the model is left as it was ---------------------------------

@pytest.mark.parametrize("name", ["np", "torch", "tf"])
def test_a_non_callable_augment_is_a_type_error(name, data):
    backend = _backend(name)
    X, y, _, _ = data
    with pytest.raises(TypeError, match="augment must be None or a callable"):
        backend.fit_classifier(backend.make_mlp(40, (8,), 10), X, y, epochs=1,
                               augment="shift")
    with pytest.raises(TypeError, match="augment"):
        backend.fit_seeds(lambda s: backend.make_mlp(40, (8,), 10, seed=s), X, y, seeds=[0],
                          epochs=1, augment=3)


BAD = {
    "wrong shape": lambda Xb, rng: Xb[:, :-1],
    "wrong dtype": lambda Xb, rng: Xb.astype(np.float16),
    "fewer rows": lambda Xb, rng: Xb[1:],
    "not an array": lambda Xb, rng: Xb.tolist(),
}


@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("name", ["np", "torch", "tf"])
def test_a_bad_augmented_batch_is_refused_before_the_model_changes(name, bad, data):
    backend = _backend(name)
    X, y, _, _ = data
    model = backend.make_mlp(40, (8,), 10, seed=0)
    before = _weights(backend, model)
    with pytest.raises(ValueError, match="augment must return"):
        backend.fit_classifier(model, X, y, epochs=1, batch_size=16, augment=bad)
    for a, b in zip(_weights(backend, model), before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["np", "torch"])
def test_fit_seeds_refuses_a_bad_augmented_batch_and_keeps_the_initial_weights(name, data):
    backend = _backend(name)
    X, y, _, _ = data
    models_made = []

    def make(s):
        models_made.append(backend.make_mlp(40, (8,), 10, seed=s))
        return models_made[-1]

    with pytest.raises(ValueError, match="augment must return"):
        backend.fit_seeds(make, X, y, seeds=[0, 1], epochs=1, batch_size=16,
                          augment=BAD["wrong shape"])
    for s, model in zip((0, 1), models_made):
        for a, b in zip(_weights(backend, model),
                        _weights(backend, backend.make_mlp(40, (8,), 10, seed=s)), strict=True):
            np.testing.assert_array_equal(a, b)
