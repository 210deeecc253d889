"""Dropout in NumPy, PyTorch and Keras: the same mask gives identical outputs and gradients.

The frameworks' random generators cannot be shared, so each test takes the framework's mask
from its output on a tensor of ones (reseeding so the real call draws the same mask) and injects
it into the NumPy function.
"""

import numpy as np
import pytest

from regbook import data
from regbook import np as rnp

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
import regbook.tf as rtf  # noqa: E402
import regbook.torch as rtorch  # noqa: E402

CASES = [(0.1, (7, 13)), (0.5, (32, 20)), (0.8, (4, 3, 5))]


def _x_dout(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), rng.standard_normal(shape)


def _torch_forward_backward(module, x, dout, seed):
    torch.manual_seed(seed)
    xt = torch.tensor(x, requires_grad=True)
    out = module(xt)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy()


def _keras_forward_backward(layer, x, dout, **call_kwargs):
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = layer(xv, training=True, **call_kwargs)
        loss = tf.reduce_sum(out * dout)
    return out.numpy(), tape.gradient(loss, xv).numpy()


def _torch_mask(p, shape, seed):
    torch.manual_seed(seed)
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
    torch.manual_seed(2)
    mask = rtorch.mask_from_ones(torch.nn.Dropout(0.3), x.shape, dtype=torch.float32)
    torch.manual_seed(2)
    out_t = torch.nn.Dropout(0.3)(torch.from_numpy(x)).numpy()
    out, _ = rnp.dropout_forward(x, 0.3, rng=None, keep_mask=mask)
    np.testing.assert_array_equal(out, out_t)


@pytest.mark.parametrize("p, shape", CASES)
def test_scratch_torch_module_equals_nn_dropout_from_the_same_seed(p, shape):
    x, dout = _x_dout(shape, seed=1)
    ours = _torch_forward_backward(rtorch.Dropout(p), x, dout, seed=7)
    theirs = _torch_forward_backward(torch.nn.Dropout(p), x, dout, seed=7)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_scratch_torch_module_uses_an_injected_mask():
    x, dout = _x_dout((6, 9), seed=2)
    mask = _torch_mask(0.4, x.shape, seed=3)
    theirs = _torch_forward_backward(torch.nn.Dropout(0.4), x, dout, seed=3)
    module = rtorch.Dropout(0.4)
    xt = torch.tensor(x, requires_grad=True)
    out = module(xt, keep_mask=torch.from_numpy(mask))
    out.backward(torch.tensor(dout))
    np.testing.assert_array_equal(out.detach().numpy(), theirs[0])
    np.testing.assert_array_equal(xt.grad.numpy(), theirs[1])


def test_torch_modules_are_the_identity_in_eval_mode():
    x = torch.randn(5, 6, dtype=torch.float64)
    for module in (torch.nn.Dropout(0.5), rtorch.Dropout(0.5)):
        module.eval()
        assert torch.equal(module(x), x)


def test_mask_from_ones_restores_the_module_mode():
    module = rtorch.Dropout(0.5).eval()
    rtorch.mask_from_ones(module, (3, 3))
    assert not module.training


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_scratch_torch_module_rejects_p_outside_zero_one(p):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        rtorch.Dropout(p)


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
    ours = _keras_forward_backward(rtf.Dropout(0.3, dtype="float64"), x, dout, keep_mask=mask)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_keras_layers_are_the_identity_without_training_true():
    x = np.random.default_rng(6).standard_normal((4, 7)).astype(np.float32)
    for layer in (keras.layers.Dropout(0.5), rtf.Dropout(0.5)):
        np.testing.assert_array_equal(layer(x).numpy(), x)
        np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_scratch_keras_layer_rejects_rate_outside_zero_one(rate):
    # keras.layers.Dropout accepts rate=1 (it outputs zeros); the book's p excludes 1.
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        rtf.Dropout(rate)


# --- all three --------------------------------------------------------------------------------

def test_numpy_torch_and_keras_agree_given_one_mask():
    p, (x, dout) = 0.35, _x_dout((16, 12), seed=8)
    mask = _torch_mask(p, x.shape, seed=21)
    out_t, dx_t = _torch_forward_backward(torch.nn.Dropout(p), x, dout, seed=21)
    out_k, dx_k = _keras_forward_backward(rtf.Dropout(p, dtype="float64"), x, dout,
                                          keep_mask=mask)
    out_n, cache = rnp.dropout_forward(x, p, rng=None, keep_mask=mask)
    dx_n = rnp.dropout_backward(dout, cache)
    for a, b, c in ((out_n, out_t, out_k), (dx_n, dx_t, dx_k)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


# --- dropout MLPs -----------------------------------------------------------------------------

def test_torch_dropout_mlp_has_make_mlp_weights_and_dropout_layers():
    plain = rtorch.make_mlp(64, (32, 16), seed=3)
    dropped = rtorch.make_dropout_mlp(64, (32, 16), p=0.25, seed=3)
    scratch = rtorch.make_dropout_mlp(64, (32, 16), p=0.25, seed=3, scratch=True)
    for a, b, c in zip(plain.parameters(), dropped.parameters(), scratch.parameters()):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert sum(isinstance(m, torch.nn.Dropout) for m in dropped) == 2
    assert sum(isinstance(m, rtorch.Dropout) for m in scratch) == 2
    x = torch.randn(10, 64)
    assert torch.equal(plain.eval()(x), dropped.eval()(x))   # dropout off in eval mode


def test_keras_dropout_mlp_has_make_mlp_weights_and_dropout_layers():
    plain = rtf.make_mlp(64, (32,), seed=3)
    dropped = rtf.make_dropout_mlp(64, (32,), p=0.25, seed=3)
    scratch = rtf.make_dropout_mlp(64, (32,), p=0.25, seed=3, scratch=True)
    for a, b, c in zip(plain.get_weights(), dropped.get_weights(), scratch.get_weights()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert isinstance(dropped.layers[1], keras.layers.Dropout)
    assert isinstance(scratch.layers[1], rtf.Dropout)
    x = np.random.default_rng(0).random((10, 64)).astype(np.float32)
    np.testing.assert_array_equal(plain(x).numpy(), dropped(x).numpy())
    assert not np.array_equal(dropped(x, training=True).numpy(), plain(x).numpy())


@pytest.mark.parametrize("backend", [rtorch, rtf])
def test_dropout_mlp_rejects_p_outside_zero_one(backend):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        backend.make_dropout_mlp(64, p=1.0)


@pytest.mark.parametrize("backend", [rtorch, rtf])
def test_mlp_with_scratch_dropout_trains_exactly_like_the_built_in_one(backend):
    split = data.digits_split(n_train=60)

    def history(scratch):
        model = backend.make_dropout_mlp(64, (16,), p=0.3, seed=1, scratch=scratch)
        return backend.fit_classifier(model, split.X_train, split.y_train, X_val=split.X_val,
                                      y_val=split.y_val, epochs=3, lr=1e-2, batch_size=20,
                                      seed=1)

    assert history(scratch=True) == history(scratch=False)
