"""Dropout in NumPy, PyTorch and Keras: the same mask gives identical outputs and gradients.

The frameworks' random generators cannot be shared, so each test takes the framework's mask
from its output on a tensor of ones (drawing the real call from the same generator state) and
injects it into the NumPy function. Global generators are only ever seeded inside
``torch.random.fork_rng``, which restores them.
"""

import contextlib
import inspect
import random

import numpy as np
import pytest

from regbook import np as rnp

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
import regbook.tf as rtf  # noqa: E402
import regbook.torch as rtorch  # noqa: E402

CASES = [(0.1, (7, 13)), (0.5, (32, 20)), (0.8, (4, 3, 5))]


@contextlib.contextmanager
def _global_torch_seed(seed):
    """Seed PyTorch's global generator for the block only (its state is restored after)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _x_dout(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), rng.standard_normal(shape)


def _torch_forward_backward(module, x, dout, seed=None, **call_kwargs):
    with _global_torch_seed(0 if seed is None else seed):
        xt = torch.tensor(x, requires_grad=True)
        out = module(xt, **call_kwargs)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy()


def _keras_forward_backward(layer, x, dout, **call_kwargs):
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = layer(xv, training=True, **call_kwargs)
        loss = tf.reduce_sum(out * dout)
    return out.numpy(), tape.gradient(loss, xv).numpy()


def _torch_mask(p, shape, seed):
    with _global_torch_seed(seed):
        return rtorch.mask_from_ones(torch.nn.Dropout(p), shape)


# --- PyTorch ----------------------------------------------------------------------------------

@pytest.mark.parametrize("p, shape", CASES)
def test_numpy_with_torch_mask_equals_nn_dropout_output_and_gradient(p, shape):
    x, dout = _x_dout(shape)
    mask = _torch_mask(p, shape, seed=5)
    out_t, dx_t = _torch_forward_backward(torch.nn.Dropout(p), x, dout, seed=5)
    out, cache = rnp.dropout_forward(x, p, rng=None, keep_mask=mask)
    np.testing.assert_array_equal(out, out_t)
    np.testing.assert_array_equal(rnp.dropout_backward(dout, cache), dx_t)


def test_numpy_with_torch_mask_is_identical_in_float32_too():
    x = np.random.default_rng(1).standard_normal((50, 40)).astype(np.float32)
    with _global_torch_seed(2):
        mask = rtorch.mask_from_ones(torch.nn.Dropout(0.3), x.shape, dtype=torch.float32)
    with _global_torch_seed(2):
        out_t = torch.nn.Dropout(0.3)(torch.from_numpy(x)).numpy()
    out, _ = rnp.dropout_forward(x, 0.3, rng=None, keep_mask=mask)
    np.testing.assert_array_equal(out, out_t)


@pytest.mark.parametrize("p, shape", CASES)
def test_unseeded_module_equals_nn_dropout_from_the_same_global_state(p, shape):
    x, dout = _x_dout(shape, seed=1)
    ours = _torch_forward_backward(rtorch.Dropout(p), x, dout, seed=7)
    theirs = _torch_forward_backward(torch.nn.Dropout(p), x, dout, seed=7)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("p, shape", CASES)
def test_seeded_module_draws_what_nn_dropout_draws_after_manual_seed(p, shape):
    ours, theirs = rtorch.Dropout(p, seed=11), torch.nn.Dropout(p)
    x = torch.tensor(_x_dout(shape, seed=2)[0])
    with _global_torch_seed(11):
        for _ in range(3):   # the module's generator advances like the global one
            assert torch.equal(ours(x), theirs(x))


def test_seeded_modules_repeat_their_masks_and_differ_between_seeds():
    x = torch.ones(40, 30, dtype=torch.float64)
    first, twin, other = (rtorch.Dropout(0.5, seed=s) for s in (3, 3, 4))
    a = [first(x) for _ in range(2)]
    assert torch.equal(a[0], twin(x)) and torch.equal(a[1], twin(x))
    assert not torch.equal(a[0], a[1])
    assert not torch.equal(a[0], other(x))


def test_seeded_torch_layers_leave_the_global_generators_alone():
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    python_state = random.getstate()
    dropout, bn = rtorch.Dropout(0.4, seed=0), rtorch.BatchNorm(5, dtype=torch.float64)
    x = torch.linspace(-1.0, 1.0, 40, dtype=torch.float64).reshape(8, 5)
    bn(dropout(x))
    rtorch.mask_from_ones(rtorch.Dropout(0.2, seed=1), (4, 4))
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert random.getstate() == python_state
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1])


def test_scratch_torch_module_uses_an_injected_mask():
    x, dout = _x_dout((6, 9), seed=2)
    mask = _torch_mask(0.4, x.shape, seed=3)
    theirs = _torch_forward_backward(torch.nn.Dropout(0.4), x, dout, seed=3)
    for module in (rtorch.Dropout(0.4), rtorch.Dropout(0.4, seed=99)):
        ours = _torch_forward_backward(module, x, dout, keep_mask=torch.from_numpy(mask))
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_a_scratch_dropout_network_trains_exactly_like_nn_dropout():
    rng = np.random.default_rng(0)
    X, y = torch.tensor(rng.standard_normal((32, 6))), torch.tensor(rng.integers(0, 3, 32))

    def trained(dropout):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), dropout,
                                      torch.nn.Linear(16, 3)).double()
            torch.manual_seed(5)    # nn.Dropout's global stream = the seeded module's own
            opt = torch.optim.SGD(net.parameters(), lr=0.1)
            for _ in range(10):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(X), y).backward()
                opt.step()
        return [p.detach() for p in net.parameters()]

    for a, b in zip(trained(rtorch.Dropout(0.3, seed=5)), trained(torch.nn.Dropout(0.3))):
        assert torch.equal(a, b)


def test_torch_modules_are_the_identity_in_eval_mode():
    x = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for module in (torch.nn.Dropout(0.5), rtorch.Dropout(0.5), rtorch.Dropout(0.5, seed=1)):
        module.eval()
        assert torch.equal(module(x), x)


def test_mask_from_ones_restores_the_module_mode():
    module = rtorch.Dropout(0.5, seed=0).eval()
    rtorch.mask_from_ones(module, (3, 3))
    assert not module.training


def test_torch_module_refuses_a_numpy_array_with_a_clear_message():
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor; convert with "
                                        r"torch.from_numpy"):
        rtorch.Dropout(0.5)(np.ones((2, 3)))


@pytest.mark.parametrize("keep_mask, error, match", [
    (torch.ones(2, 3), TypeError, "keep_mask must be a bool tensor"),
    (np.ones((2, 3), dtype=bool), TypeError, "keep_mask must be a torch.Tensor"),
    (torch.ones(3, 2, dtype=torch.bool), ValueError, r"keep_mask must have shape \(2, 3\)"),
])
def test_torch_module_rejects_a_bad_keep_mask(keep_mask, error, match):
    with pytest.raises(error, match=match):
        rtorch.Dropout(0.5)(torch.ones(2, 3), keep_mask=keep_mask)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(p=-0.1), ValueError, r"p must be in \[0, 1\)"),
    (dict(p=1.0), ValueError, r"p must be in \[0, 1\)"),
    (dict(p=0.5, seed=-1), ValueError, "seed must be >= 0"),
    (dict(p=0.5, seed=1.5), TypeError, "seed must be an integer"),
])
@pytest.mark.parametrize("backend", ["torch", "tf"])
def test_dropout_rejects_bad_settings(backend, kwargs, error, match):
    layer = {"torch": rtorch, "tf": rtf}[backend].Dropout
    with pytest.raises(error, match=match):
        layer(**kwargs)


def test_mask_from_ones_has_one_signature_in_both_backends():
    assert (inspect.signature(rtorch.mask_from_ones).parameters.keys()
            == inspect.signature(rtf.mask_from_ones).parameters.keys())
    with pytest.raises(TypeError, match="module must be"):
        rtorch.mask_from_ones(keras.layers.Dropout(0.5), (2, 2))
    with pytest.raises(TypeError, match="module must be"):
        rtf.mask_from_ones(torch.nn.Dropout(0.5), (2, 2))


# --- Keras ------------------------------------------------------------------------------------

@pytest.mark.parametrize("p, shape", CASES)
def test_numpy_with_keras_mask_equals_keras_dropout_output_and_gradient(p, shape):
    x, dout = _x_dout(shape, seed=3)
    # two layers with the same seed draw the same first mask
    mask = rtf.mask_from_ones(keras.layers.Dropout(p, seed=11, dtype="float64"), shape)
    out_k, dx_k = _keras_forward_backward(keras.layers.Dropout(p, seed=11, dtype="float64"),
                                          x, dout)
    out, cache = rnp.dropout_forward(x, p, rng=None, keep_mask=mask)
    np.testing.assert_array_equal(out, out_k)
    np.testing.assert_array_equal(rnp.dropout_backward(dout, cache), dx_k)


def test_numpy_with_keras_mask_matches_float32_keras():
    x = np.random.default_rng(4).standard_normal((30, 20)).astype(np.float32)
    mask = rtf.mask_from_ones(keras.layers.Dropout(0.6, seed=2), x.shape, dtype="float32")
    out_k = keras.layers.Dropout(0.6, seed=2)(x, training=True).numpy()
    out, _ = rnp.dropout_forward(x, 0.6, rng=None, keep_mask=mask)
    np.testing.assert_allclose(out, out_k, rtol=1e-6)


@pytest.mark.parametrize("p, shape", CASES)
def test_scratch_keras_layer_equals_keras_dropout_from_the_same_seed(p, shape):
    x, dout = _x_dout(shape, seed=4)
    ours = _keras_forward_backward(rtf.Dropout(p, seed=13, dtype="float64"), x, dout)
    theirs = _keras_forward_backward(keras.layers.Dropout(p, seed=13, dtype="float64"), x, dout)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_scratch_keras_layer_uses_an_injected_mask():
    x, dout = _x_dout((8, 5), seed=5)
    mask = rtf.mask_from_ones(keras.layers.Dropout(0.3, seed=1, dtype="float64"), x.shape)
    theirs = _keras_forward_backward(keras.layers.Dropout(0.3, seed=1, dtype="float64"), x, dout)
    ours = _keras_forward_backward(rtf.Dropout(0.3, seed=0, dtype="float64"), x, dout,
                                   keep_mask=mask)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_scratch_keras_layer_rejects_a_keep_mask_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"keep_mask must have shape \(2, 3\)"):
        rtf.Dropout(0.5, seed=0)(np.ones((2, 3)), training=True,
                                 keep_mask=np.ones((3, 2), dtype=bool))


def test_keras_layers_are_the_identity_without_training_true():
    x = np.random.default_rng(6).standard_normal((4, 7)).astype(np.float32)
    for layer in (keras.layers.Dropout(0.5), rtf.Dropout(0.5, seed=0)):
        np.testing.assert_array_equal(layer(x).numpy(), x)
        np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


def test_seeded_keras_layers_leave_the_global_generators_alone():
    numpy_state, python_state = np.random.get_state(), random.getstate()
    torch_state = torch.random.get_rng_state()
    x = np.linspace(-1.0, 1.0, 40).reshape(8, 5)
    bn = rtf.BatchNorm(5, dtype="float64")
    bn(rtf.Dropout(0.4, seed=0, dtype="float64")(x, training=True), training=True)
    rtf.mask_from_ones(rtf.Dropout(0.2, seed=1), (4, 4))
    assert random.getstate() == python_state
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1])


def test_scratch_keras_layer_round_trips_its_config():
    layer = rtf.Dropout(0.25, seed=7, name="drop")
    clone = rtf.Dropout.from_config(layer.get_config())
    assert (clone.p, clone.seed, clone.name) == (0.25, 7, "drop")


def test_a_scratch_dropout_network_trains_in_model_fit_exactly_like_keras_dropout():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((48, 6)), rng.integers(0, 3, 48)

    def trained(dropout):
        model = keras.Sequential([
            keras.Input((6,), dtype="float64"),
            keras.layers.Dense(16, activation="relu", dtype="float64",
                               kernel_initializer=keras.initializers.GlorotUniform(seed=0)),
            dropout,
            keras.layers.Dense(3, dtype="float64",
                               kernel_initializer=keras.initializers.GlorotUniform(seed=1)),
        ])
        model.compile(optimizer=keras.optimizers.SGD(0.1),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(X, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        return model.get_weights()

    ours = trained(rtf.Dropout(0.3, seed=4, dtype="float64"))
    theirs = trained(keras.layers.Dropout(0.3, seed=4, dtype="float64"))
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


# --- all three --------------------------------------------------------------------------------

def test_numpy_torch_and_keras_agree_given_one_mask():
    p, (x, dout) = 0.35, _x_dout((16, 12), seed=8)
    mask = _torch_mask(p, x.shape, seed=21)
    out_t, dx_t = _torch_forward_backward(torch.nn.Dropout(p), x, dout, seed=21)
    out_k, dx_k = _keras_forward_backward(rtf.Dropout(p, seed=0, dtype="float64"), x, dout,
                                          keep_mask=mask)
    out_n, cache = rnp.dropout_forward(x, p, rng=None, keep_mask=mask)
    dx_n = rnp.dropout_backward(dout, cache)
    for a, b, c in ((out_n, out_t, out_k), (dx_n, dx_t, dx_k)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("backend", [rtorch, rtf])
def test_make_dropout_mlp_is_gone(backend):
    # a dropout MLP is make_mlp(..., dropout=p) in every backend
    assert not hasattr(backend, "make_dropout_mlp")
    assert "make_dropout_mlp" not in backend.__all__
