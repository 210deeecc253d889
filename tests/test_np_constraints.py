"""Max-norm and gradient clipping (regbook.np.constraints) against Keras, TensorFlow, PyTorch."""

import numpy as np
import pytest

import regbook.np as rnp
from regbook.np.constraints import (
    Constrained,
    clip_by_global_norm,
    clip_by_norm,
    clip_by_value,
    max_norm,
)

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")


def _cases(n=8, seed=0):
    """Random (in, out) kernels of random size and scale; some units zero, some under c."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        n_in, n_out = rng.integers(1, 9, size=2)
        W = rng.normal(scale=rng.uniform(0.1, 3.0), size=(n_in, n_out))
        W[:, rng.random(n_out) < 0.2] = 0.0
        yield W, float(rng.uniform(0.3, 3.0))


@pytest.mark.parametrize("axis", [0, 1])
def test_max_norm_equals_keras_maxnorm(axis):
    for W, c in _cases():
        want = keras.ops.convert_to_numpy(keras.constraints.MaxNorm(c, axis=axis)(W))
        np.testing.assert_allclose(max_norm(W, c, axis=axis), want, rtol=1e-14, atol=0)


def test_max_norm_equals_keras_in_float32_and_on_conv_kernels():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(3, 4, 5)).astype(np.float32)
    want = keras.ops.convert_to_numpy(keras.constraints.MaxNorm(1.5, axis=[0, 1])(W))
    got = max_norm(W, 1.5, axis=(0, 1))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_max_norm_bounds_every_unit_and_keeps_zero_units():
    for W, c in _cases(seed=2):
        P = max_norm(W, c)
        assert np.all(np.linalg.norm(P, axis=0) <= c)
        np.testing.assert_array_equal(P[:, np.all(W == 0, axis=0)], 0.0)


def test_max_norm_per_output_unit_equals_torch_renorm_on_the_transposed_weight():
    for W, c in _cases(seed=3):
        w_torch = torch.tensor(W.T)                      # torch Linear.weight is (out, in)
        want = torch.renorm(w_torch, 2, 0, c).numpy().T  # dim=0: one slice per output unit
        np.testing.assert_allclose(max_norm(W, c, axis=0), want, rtol=1e-6, atol=1e-12)


def test_clip_by_value_equals_torch_clip_grad_value():
    rng = np.random.default_rng(4)
    grads = [rng.normal(size=rng.integers(1, 6, size=2)) for _ in range(3)]
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_value_(params, 0.5)
    for got, p in zip(clip_by_value(grads, 0.5), params):
        np.testing.assert_array_equal(got, p.grad.numpy())
    np.testing.assert_array_equal(clip_by_value(grads[0], 0.5), params[0].grad.numpy())


def _grad_lists(seed=5):
    rng = np.random.default_rng(seed)
    for k in range(8):
        shapes = [tuple(rng.integers(1, 6, size=rng.integers(1, 3))) for _ in range(3)]
        grads = [rng.normal(scale=rng.uniform(0.01, 5.0), size=s) for s in shapes]
        if k % 3 == 0:
            grads[1] = np.zeros_like(grads[1])
        if k == 6:
            grads = [np.zeros_like(g) for g in grads]
        yield grads, float(rng.uniform(0.1, 4.0))


def test_clip_by_norm_equals_tf_clip_by_norm_per_tensor():
    for grads, c in _grad_lists():
        got = clip_by_norm(grads, c)
        for g, out in zip(grads, got):
            want = tf.clip_by_norm(tf.constant(g), c).numpy()
            np.testing.assert_allclose(out, want, rtol=1e-14, atol=0)
        np.testing.assert_allclose(clip_by_norm(grads[0], c), got[0], rtol=0, atol=0)


def test_clip_by_norm_is_keras_clipnorm():
    for grads, c in _grad_lists(seed=6):
        opt = keras.optimizers.SGD(learning_rate=1.0, clipnorm=c)
        want = [keras.ops.convert_to_numpy(g) for g in opt._clip_gradients(
            [keras.ops.convert_to_tensor(g) for g in grads])]
        for out, w in zip(clip_by_norm(grads, c), want):
            np.testing.assert_allclose(out, w, rtol=1e-14, atol=0)


def test_clip_by_global_norm_equals_torch_clip_grad_norm():
    for grads, c in _grad_lists(seed=7):
        params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        total_t = torch.nn.utils.clip_grad_norm_(params, c)
        got, total = clip_by_global_norm(grads, c, convention="torch")
        assert total == pytest.approx(float(total_t), rel=1e-14, abs=0)
        for out, p in zip(got, params):
            np.testing.assert_allclose(out, p.grad.numpy(), rtol=1e-14, atol=0)


def test_clip_by_global_norm_equals_tf_and_keras_global_clipnorm():
    for grads, c in _grad_lists(seed=8):
        want, total_tf = tf.clip_by_global_norm([tf.constant(g) for g in grads], c)
        got, total = clip_by_global_norm(grads, c, convention="tf")
        assert total == pytest.approx(float(total_tf), rel=1e-14, abs=0)
        opt = keras.optimizers.SGD(learning_rate=1.0, global_clipnorm=c)
        keras_out = opt._clip_gradients([keras.ops.convert_to_tensor(g) for g in grads])
        for out, w, k in zip(got, want, keras_out):
            np.testing.assert_allclose(out, w.numpy(), rtol=1e-14, atol=0)
            np.testing.assert_allclose(out, keras.ops.convert_to_numpy(k), rtol=1e-14, atol=0)


def test_the_two_global_conventions_differ_by_the_torch_epsilon():
    g = [np.array([3.0, 4.0])]                            # norm 5, exactly at the bound
    np.testing.assert_array_equal(clip_by_global_norm(g, 5.0, convention="tf")[0][0], g[0])
    torch_out = clip_by_global_norm(g, 5.0, convention="torch")[0][0]
    np.testing.assert_allclose(torch_out, g[0] * 5.0 / (5.0 + 1e-6), rtol=1e-15)


def _mlp(seed=0):
    return rnp.make_mlp(6, [5], 3, dropout=0.0, seed=seed, dtype=np.float64)


def _grads_for(model, rng):
    X, y = rng.normal(size=(8, 6)), rng.integers(0, 3, size=8)
    _, dout = rnp.softmax_cross_entropy(model.forward(X, training=True), y)
    model.backward(dout)


def test_constrained_step_equals_step_then_project():
    rng = np.random.default_rng(9)
    a, b = _mlp(), _mlp()
    for m in (a, b):
        for p in m.params.values():
            p *= 4.0                                      # start well outside the ball
    wrapped, plain = Constrained(rnp.Adam(lr=0.05), 1.0), rnp.Adam(lr=0.05)
    for _ in range(3):
        state = rng.bit_generator.state
        _grads_for(a, rng)
        rng.bit_generator.state = state
        _grads_for(b, rng)
        wrapped.step(a)
        plain.step(b)
        for name in b.params:
            if name.endswith("W"):
                b.params[name][...] = max_norm(b.params[name], 1.0, axis=0)
        for name in a.params:
            np.testing.assert_array_equal(a.params[name], b.params[name])
    assert all(np.linalg.norm(a.params[n], axis=0).max() <= 1.0 for n in ("0.W", "2.W"))
    assert np.abs(a.params["0.b"]).max() > 1.0           # biases are not constrained


def test_constrained_trains_with_fit_classifier():
    rng = np.random.default_rng(10)
    X, y = rng.normal(size=(60, 6)), rng.integers(0, 3, size=60)
    model = _mlp()
    opt = Constrained(rnp.SGD(lr=0.5), 0.5)
    rnp.fit_classifier(model, X, y, optimizer=opt, epochs=2, batch_size=20, seed=0)
    assert opt.iterations == 6
    assert np.linalg.norm(model.params["0.W"], axis=0).max() <= 0.5


@pytest.mark.parametrize("call, match", [
    (lambda: max_norm(np.ones((2, 2)), 0.0), "max_value"),
    (lambda: max_norm(np.ones((2, 2)), 1.0, axis=2), "axis"),
    (lambda: max_norm([[np.nan]], 1.0), "W"),
    (lambda: clip_by_value([np.ones(2)], -1.0), "clip_value"),
    (lambda: clip_by_norm(np.ones(2), 0), "max_norm"),
    (lambda: clip_by_norm([np.ones(2), np.array([np.inf])], 1.0), r"grad\[1\]"),
    (lambda: clip_by_global_norm([np.ones(2)], 1.0, convention="jax"), "convention"),
    (lambda: clip_by_global_norm([], 1.0), "grads"),
    (lambda: Constrained(object(), 1.0), "optimizer"),
    (lambda: Constrained(rnp.SGD(lr=0.1), -3.0), "max_value"),
    (lambda: Constrained(rnp.SGD(lr=0.1), 3.0, names="0.W"), "names"),
])
def test_bad_input_is_refused_naming_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()


def test_unknown_names_are_refused_before_any_step():
    model = _mlp()
    _grads_for(model, np.random.default_rng(11))
    before = {k: v.copy() for k, v in model.params.items()}
    opt = Constrained(rnp.SGD(lr=0.1), 1.0, names=["0.W", "9.W"])
    with pytest.raises(ValueError, match="names"):
        opt.step(model)
    for k in before:
        np.testing.assert_array_equal(model.params[k], before[k])
