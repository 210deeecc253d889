"""Batch normalization against the gold models: the NumPy version equals PyTorch autograd and
tf.GradientTape, the NumPy layer tracks nn.BatchNorm1d/2d step for step, and the from-scratch
torch module and Keras layer equal the built-in layers."""

import numpy as np
import pytest

from regbook import np as rnp

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

import regbook.tf as rtf  # noqa: E402
import regbook.torch as rtorch  # noqa: E402

RTOL = 1e-10  # float64, relative to the largest entry


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _random_shapes(ndim, n_cases=4, seed=0):
    rng = np.random.default_rng(seed)
    shapes = []
    while len(shapes) < n_cases:
        if ndim == 2:
            shape = (int(rng.integers(2, 17)), int(rng.integers(1, 9)))
        else:
            shape = tuple(int(v) for v in rng.integers(1, [5, 5, 6, 6]))
        if np.prod(shape) // shape[1] >= 2:
            shapes.append(shape)
    return shapes


CASES = [s for nd in (2, 4) for s in _random_shapes(nd)]


def _case(shape, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    return (3.0 * rng.normal(size=shape) - 1.0, rng.normal(size=c), rng.normal(size=c),
            rng.normal(size=shape))


def _numpy_grads(x, gamma, beta, dout):
    out, cache = rnp.batchnorm_forward(x, gamma, beta, eps=1e-5)
    return (out, *rnp.batchnorm_backward(dout, cache))


def _torch_grads(x, gamma, beta, dout):
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    out = torch.nn.functional.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), gt.grad.numpy(), bt.grad.numpy()


def _to_channels_last(a):
    return a if a.ndim == 2 else a.transpose(0, 2, 3, 1)


def _keras_grads(x, gamma, beta, dout):
    layer = keras.layers.BatchNormalization(epsilon=1e-5, dtype="float64")
    xt = tf.constant(_to_channels_last(x))
    layer.build(xt.shape)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt, training=True)
    dx, dg, db = tape.gradient(out, [xt, layer.gamma, layer.beta],
                               output_gradients=tf.constant(_to_channels_last(dout)))
    back = (lambda a: a) if x.ndim == 2 else (lambda a: a.transpose(0, 3, 1, 2))
    return back(out.numpy()), back(dx.numpy()), dg.numpy(), db.numpy()


@pytest.mark.parametrize("shape", CASES, ids=str)
@pytest.mark.parametrize("gold", [_torch_grads, _keras_grads], ids=["torch", "keras"])
def test_numpy_forward_and_gradients_equal_autograd(gold, shape):
    args = _case(shape)
    ours, theirs = _numpy_grads(*args), gold(*args)
    for name, a, b in zip(("out", "dx", "dgamma", "dbeta"), ours, theirs):
        assert _rel(a, b) < RTOL, f"{name} differs for shape {shape}: {_rel(a, b):.2e}"


def _torch_layer(shape, dtype=torch.float64):
    cls = torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d
    return cls(shape[1], momentum=0.1, eps=1e-5, dtype=dtype)


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 3, 3)], ids=["1d", "2d"])
def test_numpy_layer_tracks_torch_batchnorm_for_25_training_steps(shape):
    ours, theirs = rnp.BatchNorm(shape[1]), _torch_layer(shape)
    rng = np.random.default_rng(7)
    for step in range(25):
        n = int(rng.integers(2, 9))  # batch sizes vary: the n/(n-1) factor changes each step
        x = 2.0 * rng.normal(size=(n, *shape[1:])) + rng.normal(size=shape[1])[
            (slice(None),) + (None,) * (len(shape) - 2)]
        out = ours.forward(x, training=True)
        assert _rel(out, theirs(torch.tensor(x)).detach().numpy()) < RTOL, step
    assert _rel(ours.running_mean, theirs.running_mean.numpy()) < RTOL
    assert _rel(ours.running_var, theirs.running_var.numpy()) < RTOL


def test_numpy_layer_evaluation_equals_torch_eval_mode():
    ours, theirs = rnp.BatchNorm(4), _torch_layer((1, 4))
    rng = np.random.default_rng(8)
    for _ in range(20):
        x = rng.normal(size=(6, 4)) * 2 + 1
        ours.forward(x, training=True)
        theirs(torch.tensor(x))
    theirs.eval()
    x = rng.normal(size=(3, 4))
    assert _rel(ours.forward(x, training=False), theirs(torch.tensor(x)).detach().numpy()) < RTOL


# --- the from-scratch torch module -----------------------------------------------------------

@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 3, 3)], ids=["1d", "2d"])
def test_torch_module_equals_nn_batchnorm_in_outputs_gradients_and_buffers(shape):
    ours = rtorch.BatchNorm(shape[1], dtype=torch.float64)
    theirs = _torch_layer(shape)
    rng = np.random.default_rng(9)
    gamma, beta = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    with torch.no_grad():
        ours.gamma.copy_(torch.tensor(gamma))
        ours.beta.copy_(torch.tensor(beta))
        theirs.weight.copy_(torch.tensor(gamma))
        theirs.bias.copy_(torch.tensor(beta))
    for _ in range(20):
        x = torch.tensor(rng.normal(size=shape) * 2 + 1)
        dout = torch.tensor(rng.normal(size=shape))
        outs = []
        for module, params in ((ours, (ours.gamma, ours.beta)),
                               (theirs, (theirs.weight, theirs.bias))):
            xt = x.clone().requires_grad_(True)
            out = module(xt)
            grads = torch.autograd.grad(out, [xt, *params], grad_outputs=dout)
            outs.append([out.detach().numpy()] + [g.numpy() for g in grads])
        for a, b in zip(*outs):
            assert _rel(a, b) < RTOL
    assert _rel(ours.running_mean, theirs.running_mean) < RTOL
    assert _rel(ours.running_var, theirs.running_var) < RTOL
    ours.eval()
    theirs.eval()
    x = torch.tensor(rng.normal(size=shape))
    assert _rel(ours(x).detach(), theirs(x).detach()) < RTOL


def test_torch_module_registers_its_state_and_defaults_to_float32():
    module = rtorch.BatchNorm(3)
    assert set(dict(module.named_parameters())) == {"gamma", "beta"}
    assert set(dict(module.named_buffers())) == {"running_mean", "running_var"}
    assert set(module.state_dict()) == {"gamma", "beta", "running_mean", "running_var"}
    assert module.running_var.dtype == torch.float32
    assert module.double().running_var.dtype == torch.float64


def test_torch_module_float32_matches_nn_batchnorm():
    ours, theirs = rtorch.BatchNorm(6), torch.nn.BatchNorm1d(6)
    x = torch.randn(32, 6, generator=torch.Generator().manual_seed(0)) * 3 + 2
    np.testing.assert_allclose(ours(x).detach(), theirs(x).detach(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.running_var, theirs.running_var, rtol=1e-6)


@pytest.mark.parametrize("x, match", [
    (torch.ones(1, 3), "more than 1 value per channel"),
    (torch.ones(4, 2), r"\(N, 3\)"),
    (torch.ones(4, 3, 2), r"\(N, 3\)"),
])
def test_torch_module_rejects_what_nn_batchnorm_rejects(x, match):
    module = rtorch.BatchNorm(3)
    with pytest.raises(ValueError, match=match):
        module(x)
    assert torch.all(module.running_mean == 0) and torch.all(module.running_var == 1)


def test_torch_module_rejects_bad_settings():
    with pytest.raises(ValueError, match="momentum"):
        rtorch.BatchNorm(3, momentum=2.0)
    with pytest.raises(ValueError, match="eps"):
        rtorch.BatchNorm(3, eps=0.0)


# --- the from-scratch Keras layer ------------------------------------------------------------

def _keras_pair(shape, dtype, momentum=0.99, epsilon=1e-3):
    ours = rtf.BatchNorm(momentum=momentum, epsilon=epsilon, dtype=dtype)
    theirs = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon, dtype=dtype)
    rng = np.random.default_rng(10)
    gamma, beta = rng.normal(size=shape[-1]), rng.normal(size=shape[-1])
    for layer in (ours, theirs):
        layer.build(shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
    return ours, theirs


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 3, 2)], ids=["2d", "4d"])
def test_keras_layer_equals_batchnormalization_in_outputs_gradients_and_moving_stats(shape):
    ours, theirs = _keras_pair(shape, "float64", momentum=0.9)
    rng = np.random.default_rng(11)
    for _ in range(20):
        x = tf.constant(rng.normal(size=shape) * 2 + 1)
        dout = tf.constant(rng.normal(size=shape))
        results = []
        for layer in (ours, theirs):
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = layer(x, training=True)
            grads = tape.gradient(out, [x, layer.gamma, layer.beta], output_gradients=dout)
            results.append([out] + grads)
        for a, b in zip(*results):
            assert _rel(a, b) < RTOL
    assert _rel(ours.moving_mean, theirs.moving_mean) < RTOL
    assert _rel(ours.moving_variance, theirs.moving_variance) < RTOL
    x = rng.normal(size=shape)
    assert _rel(ours(x), theirs(x)) < RTOL  # a bare call is inference


def test_keras_layer_float32_matches_and_keeps_weights_non_trainable():
    ours, theirs = _keras_pair((16, 4), "float32")
    x = np.random.default_rng(12).normal(size=(16, 4)).astype(np.float32) * 3
    np.testing.assert_allclose(ours(x, training=True), theirs(x, training=True), atol=1e-5)
    np.testing.assert_allclose(ours.moving_variance, theirs.moving_variance, rtol=1e-5)
    assert [w.name for w in ours.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in ours.non_trainable_weights] == ["moving_mean", "moving_variance"]
    assert ours(x).dtype == "float32"


def test_frozen_keras_layer_runs_in_inference_mode_like_keras():
    ours, theirs = _keras_pair((8, 3), "float64")
    x = np.random.default_rng(13).normal(size=(8, 3)) + 4.0
    for layer in (ours, theirs):
        layer.trainable = False
    assert _rel(ours(x, training=True), theirs(x, training=True)) < RTOL
    np.testing.assert_array_equal(ours.moving_mean, 0.0)


def test_keras_layer_trains_inside_model_fit_like_batchnormalization():
    rng = np.random.default_rng(14)
    X, y = rng.normal(size=(64, 4)), rng.integers(0, 3, size=64)
    weights = None
    results = []
    for make in (lambda: rtf.BatchNorm(momentum=0.9), lambda: keras.layers.BatchNormalization(
            momentum=0.9)):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5), make(),
                                  keras.layers.Dense(3)])
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.1),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(X, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(results[0][4], 0.0)  # the moving mean did move


def test_keras_layer_rejects_bad_settings():
    with pytest.raises(ValueError, match="momentum"):
        rtf.BatchNorm(momentum=-0.5)
    with pytest.raises(ValueError, match="epsilon"):
        rtf.BatchNorm(epsilon=0.0)
