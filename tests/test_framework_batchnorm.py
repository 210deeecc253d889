"""Batch normalization against the gold models: the NumPy version equals PyTorch autograd and
tf.GradientTape, the NumPy layer tracks nn.BatchNorm1d/2d step for step, the from-scratch torch
module and regbook.tf.BatchNorm equal nn.BatchNorm1d/2d (PyTorch's convention in every
backend), and regbook.tf.KerasBatchNorm equals keras.layers.BatchNormalization."""

import numpy as np
import pytest

from regbook import np as rnp

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

import regbook.tf as rtf  # noqa: E402
import regbook.torch as rtorch  # noqa: E402
from regbook import convert  # noqa: E402

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


def test_torch_module_refuses_a_numpy_array_with_a_clear_message():
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor; convert with "
                                        r"torch.from_numpy"):
        rtorch.BatchNorm(3)(np.ones((4, 3)))


def test_torch_module_rejects_bad_settings():
    with pytest.raises(ValueError, match="momentum"):
        rtorch.BatchNorm(3, momentum=2.0)
    with pytest.raises(ValueError, match="eps"):
        rtorch.BatchNorm(3, eps=0.0)


# --- regbook.tf.BatchNorm: PyTorch's convention in Keras --------------------------------------

def _tf_torch_pair(shape, momentum=0.1, eps=1e-5):
    """regbook.tf.BatchNorm (channels last) and nn.BatchNorm1d/2d, float64, same gamma/beta."""
    c = shape[-1]
    ours = rtf.BatchNorm(c, momentum=momentum, eps=eps, dtype="float64")
    theirs = _torch_layer((1, c) if len(shape) == 2 else (1, c, 1, 1))
    theirs.momentum, theirs.eps = momentum, eps
    rng = np.random.default_rng(20)
    gamma, beta = rng.normal(size=c), rng.normal(size=c)
    ours.build(shape)
    ours.gamma.assign(gamma)
    ours.beta.assign(beta)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(gamma))
        theirs.bias.copy_(torch.tensor(beta))
    return ours, theirs


def _channels_first(a):
    a = np.asarray(a)
    return a if a.ndim == 2 else a.transpose(0, 3, 1, 2)


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 3, 2)], ids=["1d", "2d"])
@pytest.mark.parametrize("momentum, eps", [(0.1, 1e-5), (0.35, 1e-3)])
def test_tf_batchnorm_equals_torch_in_outputs_gradients_and_running_stats(shape, momentum, eps):
    ours, theirs = _tf_torch_pair(shape, momentum, eps)
    rng = np.random.default_rng(21)
    for step in range(15):
        n = int(rng.integers(2, 9))   # the n/(n-1) factor changes from step to step
        x = rng.normal(size=(n, *shape[1:])) * 2 + rng.normal(size=shape[-1])
        dout = rng.normal(size=x.shape)
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            out = ours(xt, training=True)
        grads = tape.gradient(out, [xt, ours.gamma, ours.beta],
                              output_gradients=tf.constant(dout))
        xg = torch.tensor(_channels_first(x), requires_grad=True)
        gold = theirs(xg)
        gold_grads = torch.autograd.grad(gold, [xg, theirs.weight, theirs.bias],
                                         grad_outputs=torch.tensor(_channels_first(dout)))
        pairs = [("out", _channels_first(out), gold.detach()),
                 ("dx", _channels_first(grads[0]), gold_grads[0]),
                 ("dgamma", grads[1], gold_grads[1]), ("dbeta", grads[2], gold_grads[2])]
        for name, a, b in pairs:
            assert _rel(a, b) < RTOL, f"{name} differs at step {step}: {_rel(a, b):.2e}"
    assert _rel(ours.running_mean, theirs.running_mean) < RTOL
    assert _rel(ours.running_var, theirs.running_var) < RTOL
    theirs.eval()
    x = rng.normal(size=shape)
    assert _rel(_channels_first(ours(x)), theirs(torch.tensor(_channels_first(x))).detach()) \
        < RTOL   # a bare call is inference, with the running buffers


def test_tf_batchnorm_equals_keras_batchnormalization_up_to_bessel():
    m, eps, n = 0.2, 1e-4, 12
    ours = rtf.BatchNorm(4, momentum=m, eps=eps, dtype="float64")
    theirs = keras.layers.BatchNormalization(dtype="float64", moving_variance_initializer="zeros",
                                             **convert.keras_bn_kwargs_from_torch(m, eps))
    for layer in (ours, theirs):
        layer.build((n, 4))
    ours.running_var.assign(np.zeros(4))   # both start at 0: the ratio is exactly n/(n-1)
    rng = np.random.default_rng(22)
    for _ in range(10):
        x = rng.normal(size=(n, 4)) * 3 + 1
        assert _rel(ours(x, training=True), theirs(x, training=True)) < RTOL
    assert _rel(ours.running_mean, theirs.moving_mean) < RTOL
    assert _rel(ours.running_var, convert.unbiased_variance(theirs.moving_variance.numpy(), n)) \
        < RTOL
    assert _rel(ours.running_var, theirs.moving_variance) > 0.05


def test_tf_batchnorm_in_a_graph_with_unknown_batch_size_equals_eager():
    eager, graph = rtf.BatchNorm(3, dtype="float64"), rtf.BatchNorm(3, dtype="float64")
    step = tf.function(lambda x: graph(x, training=True),
                       input_signature=[tf.TensorSpec((None, 3), tf.float64)])
    rng = np.random.default_rng(23)
    for n in (5, 2, 7):
        x = rng.normal(size=(n, 3))
        assert _rel(step(tf.constant(x)), eager(x, training=True)) < RTOL
    assert _rel(graph.running_var, eager.running_var) < RTOL
    with pytest.raises(tf.errors.InvalidArgumentError, match="more than 1 value per channel"):
        step(tf.constant(np.ones((1, 3))))


def test_tf_batchnorm_running_stats_follow_torch_inside_model_fit():
    rng = np.random.default_rng(24)
    # model.fit casts float data to floatx (float32): give both sides float32-exact values
    X = (rng.normal(size=(48, 4)) * 2 + 3).astype(np.float32).astype(np.float64)
    model = keras.Sequential([keras.Input((4,), dtype="float64"),
                              rtf.BatchNorm(4, momentum=0.3, dtype="float64")])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    model.fit(X, np.zeros_like(X), batch_size=16, epochs=1, shuffle=False, verbose=0)
    gold = torch.nn.BatchNorm1d(4, momentum=0.3, dtype=torch.float64)
    for i in range(0, 48, 16):
        gold(torch.tensor(X[i:i + 16]))
    bn = model.layers[0]
    assert _rel(bn.running_mean, gold.running_mean) < RTOL
    assert _rel(bn.running_var, gold.running_var) < RTOL


@pytest.mark.parametrize("shape", [(1, 3), (1, 1, 1, 3)])
def test_tf_batchnorm_refuses_one_value_per_channel_in_training_like_torch(shape):
    layer = rtf.BatchNorm(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        layer(np.ones(shape, dtype=np.float32), training=True)
    np.testing.assert_array_equal(layer.running_mean, 0.0)
    np.testing.assert_array_equal(layer.running_var, 1.0)
    np.testing.assert_allclose(layer(np.ones(shape, dtype=np.float32)), 1.0 / np.sqrt(1 + 1e-5),
                               rtol=1e-6)   # inference mode is fine


def test_tf_batchnorm_names_its_state_like_torch_and_defaults_to_float32():
    layer = rtf.BatchNorm(3)
    layer.build((None, 3))
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in layer.non_trainable_weights] == ["running_mean", "running_var"]
    assert layer.running_var.dtype == "float32"
    assert rtf.BatchNorm(3, dtype="float64")(np.ones((2, 3))).dtype == "float64"
    clone = rtf.BatchNorm.from_config(rtf.BatchNorm(3, momentum=0.2, eps=1e-3).get_config())
    assert (clone.num_features, clone.momentum, clone.eps) == (3, 0.2, 1e-3)


@pytest.mark.parametrize("shape", [(4, 2), (4, 2, 2, 2), (4,)])
def test_tf_batchnorm_checks_num_features_against_the_last_axis(shape):
    with pytest.raises(ValueError, match="num_features=3"):
        rtf.BatchNorm(3)(np.ones(shape, dtype=np.float32), training=True)
    layer = rtf.BatchNorm(3)
    layer(np.ones((4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="num_features=3"):
        layer(np.ones((4, 5), dtype=np.float32))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_features=0), ValueError, "num_features"),
    (dict(num_features=2.5), TypeError, "num_features"),
    (dict(num_features=3, momentum=2.0), ValueError, "momentum"),
    (dict(num_features=3, eps=0.0), ValueError, "eps"),
])
def test_tf_batchnorm_rejects_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        rtf.BatchNorm(**kwargs)


# --- regbook.tf.KerasBatchNorm: Keras's own convention, on purpose ---------------------------

def _keras_pair(shape, dtype, momentum=0.99, epsilon=1e-3):
    ours = rtf.KerasBatchNorm(momentum=momentum, epsilon=epsilon, dtype=dtype)
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
    for make in (lambda: rtf.KerasBatchNorm(momentum=0.9),
                 lambda: keras.layers.BatchNormalization(momentum=0.9)):
        init = keras.initializers.GlorotUniform
        model = keras.Sequential([keras.Input((4,)),
                                  keras.layers.Dense(5, kernel_initializer=init(seed=0)), make(),
                                  keras.layers.Dense(3, kernel_initializer=init(seed=1))])
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
        rtf.KerasBatchNorm(momentum=-0.5)
    with pytest.raises(ValueError, match="epsilon"):
        rtf.KerasBatchNorm(epsilon=0.0)
