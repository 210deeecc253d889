"""Layer normalization in NumPy against the gold models.

The forward output and all gradients equal PyTorch float64 autograd
(``torch.nn.functional.layer_norm``) and Keras's ``LayerNormalization`` under
``tf.GradientTape`` in float64, back-propagating a random upstream gradient, on random shapes
with one to three leading axes; centred finite differences on small cases; bad input names
the argument.
"""

import numpy as np
import pytest

from regbook.np.gradcheck import numerical_gradient, rel_error
from regbook.np.layernorm import layernorm_backward, layernorm_forward

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

RTOL = 1e-10  # float64, relative to the largest entry
EPS = 1e-5


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _random_shapes(n_cases=8, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(7,), (3, 40), (2, 1, 3)]                  # no leading axis, MNIST-1D, ...
    while len(shapes) < n_cases:
        ndim = int(rng.integers(2, 5))
        shape = tuple(int(v) for v in rng.integers(1, 8, size=ndim))
        if shape[-1] > 1:                                # D = 1: see its own test
            shapes.append(shape)
    return shapes


SHAPES = _random_shapes()


def _data(shape, seed):
    rng = np.random.default_rng(seed)
    d = shape[-1]
    x = 2.0 * rng.normal(size=shape) + rng.normal(size=shape[:-1] + (1,))   # rows off-centre
    return x, 1.0 + rng.normal(size=d), rng.normal(size=d), rng.normal(size=shape)


def _numpy_grads(x, gamma, beta, dout):
    out, cache = layernorm_forward(x, gamma, beta, EPS)
    return (out, *layernorm_backward(dout, cache))


def _torch_grads(x, gamma, beta, dout):
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    out = torch.nn.functional.layer_norm(xt, (x.shape[-1],), gt, bt, eps=EPS)
    grads = torch.autograd.grad(out, (xt, gt, bt), grad_outputs=torch.tensor(dout))
    return out.detach().numpy(), *(g.numpy() for g in grads)


def _keras_grads(x, gamma, beta, dout):
    layer = keras.layers.LayerNormalization(axis=-1, epsilon=EPS, dtype="float64")
    xt = tf.constant(x)
    layer.build(xt.shape)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt)
    grads = tape.gradient(out, [xt, layer.gamma, layer.beta],
                          output_gradients=tf.constant(dout))
    return out.numpy(), *(g.numpy() for g in grads)


@pytest.mark.parametrize("gold", [_torch_grads, _keras_grads], ids=["torch", "keras"])
def test_layernorm_equals_the_frameworks_autograd(gold):
    for i, shape in enumerate(SHAPES):
        x, gamma, beta, dout = _data(shape, seed=i)
        ours, theirs = _numpy_grads(x, gamma, beta, dout), gold(x, gamma, beta, dout)
        for name, a, t in zip(("out", "dx", "dgamma", "dbeta"), ours, theirs):
            assert _rel(a, t) <= RTOL, (shape, name, _rel(a, t))


@pytest.mark.parametrize("gold", [_torch_grads, _keras_grads], ids=["torch", "keras"])
def test_one_feature_gives_beta_and_zero_gradients_like_the_frameworks(gold):
    # D = 1: xhat is 0 exactly here; the frameworks' x - mean leaves ~1e-14, so an absolute
    # comparison (a relative one against ~1e-14 would measure rounding only).
    x, gamma, beta, dout = _data((5, 1), seed=4)
    ours, theirs = _numpy_grads(x, gamma, beta, dout), gold(x, gamma, beta, dout)
    np.testing.assert_array_equal(ours[0], np.broadcast_to(beta, (5, 1)))
    np.testing.assert_array_equal(ours[1], 0.0)
    np.testing.assert_array_equal(ours[2], 0.0)
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a, t, rtol=RTOL, atol=1e-12)


def test_every_row_is_standardised_over_the_last_axis():
    x, _, _, _ = _data((4, 3, 6), seed=1)
    d = x.shape[-1]
    out, cache = layernorm_forward(x, np.ones(d), np.zeros(d))
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + EPS)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache["xhat"], expected, rtol=1e-12, atol=1e-12)
    assert cache["inv_std"].shape == (4, 3, 1) and cache["kind"] == "layernorm"


def test_a_constant_row_gives_beta_and_the_torch_gradient():
    # var = 0: xhat = 0, y = beta, and dx = (delta - mean(delta)) / sqrt(eps), large but exact.
    x, gamma = np.full((2, 3), 4.0), np.array([2.0, 3.0, 4.0])
    beta, dout = np.array([0.5, -1.0, 2.0]), np.random.default_rng(0).normal(size=(2, 3))
    ours = _numpy_grads(x, gamma, beta, dout)
    np.testing.assert_array_equal(ours[0], np.broadcast_to(beta, (2, 3)))
    delta = gamma * dout
    np.testing.assert_allclose(ours[1], (delta - delta.mean(1, keepdims=True)) / np.sqrt(EPS),
                               rtol=1e-12)
    for name, a, t in zip(("out", "dx", "dgamma", "dbeta"), ours,
                          _torch_grads(x, gamma, beta, dout)):
        assert _rel(a, t) <= RTOL, name


def test_float32_stays_float32():
    x, gamma, beta, dout = (a.astype(np.float32) for a in _data((3, 5), seed=2))
    out, cache = layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    assert out.dtype == dx.dtype == dgamma.dtype == dbeta.dtype == np.float32


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5), (6,)])
def test_gradients_match_finite_differences(shape):
    x, gamma, beta, dout = _data(shape, seed=7)
    dx, dgamma, dbeta = layernorm_backward(dout, layernorm_forward(x, gamma, beta)[1])

    def loss(_):
        return float(np.sum(layernorm_forward(x, gamma, beta)[0] * dout))

    for name, param, grad in (("x", x, dx), ("gamma", gamma, dgamma), ("beta", beta, dbeta)):
        assert rel_error(numerical_gradient(loss, param), grad) < 1e-7, name


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("args, error, words", [
    ((np.ones((2, 3)), np.ones(4), np.zeros(3)), ValueError, r"gamma must have shape \(3,\)"),
    ((np.ones((2, 3)), np.ones(3), np.zeros((1, 3))), ValueError, "beta must be 1-dimensional"),
    ((np.float64(1.0), np.ones(1), np.zeros(1)), ValueError, "x must have at least 1"),
    ((np.array([[np.inf, 1.0]]), np.ones(2), np.zeros(2)), ValueError, "x must contain only"),
    ((np.array([["a", "b"]]), np.ones(2), np.zeros(2)), TypeError, "x must hold real numbers"),
    ((np.ones((2, 3)), np.ones(3), np.zeros(3), 0.0), ValueError, "eps must be in"),
    ((np.ones((2, 3)), np.ones(3), np.zeros(3), "1e-5"), TypeError, "eps must be a real"),
])
def test_bad_input_names_the_argument(args, error, words):
    with pytest.raises(error, match=words):
        layernorm_forward(*args)


def test_backward_refuses_a_foreign_cache_and_a_wrong_dout():
    x, gamma, beta, dout = _data((3, 4), seed=3)
    _, cache = layernorm_forward(x, gamma, beta)
    with pytest.raises(ValueError, match=r"dout must have the forward input's shape \(3, 4\)"):
        layernorm_backward(dout[:, :3], cache)
    with pytest.raises(TypeError, match="cache returned by layernorm_forward, got tuple"):
        layernorm_backward(dout, (x, gamma))
    with pytest.raises(TypeError, match="layernorm_forward, got the cache of conv1d_forward"):
        layernorm_backward(dout, {**cache, "kind": "conv1d"})
