"""regbook.tf penalties and regularizers against the NumPy penalties; Keras vs PyTorch training."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

import regbook.tf as rtf  # noqa: E402
from regbook import convert  # noqa: E402
from regbook import np as rnp  # noqa: E402


def _net():
    init = keras.initializers.GlorotUniform
    return keras.Sequential([
        keras.Input(shape=(4,), dtype="float64"),
        keras.layers.Dense(5, dtype="float64", kernel_initializer=init(seed=0)),
        keras.layers.BatchNormalization(dtype="float64"),
        keras.layers.Dense(3, dtype="float64", kernel_initializer=init(seed=1)),
        keras.layers.LayerNormalization(dtype="float64"),
    ])


class _Block(keras.layers.Layer):
    """A custom layer that keeps its sublayers as attributes (no ``layers`` list)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4, kernel_initializer=keras.initializers.Ones())
        self.norms = [rtf.KerasBatchNorm(), keras.layers.GroupNormalization(2)]

    def call(self, x, training=False):
        x = self.dense(x)
        for norm in self.norms:
            x = norm(x, training=training)
        return x


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 5))
    y = X @ np.array([1.5, -2.0, 0.0, 0.7, 0.0]) + 0.5 + 0.2 * rng.standard_normal(40)
    return X, y


# 0 or a strength in float32's normal range (Keras computes its factor in float32).
LAMS = st.one_of(st.just(0.0), st.floats(1e-6, 10.0))


def _f32(x):
    """Keras rounds regularization factors to float32 before casting to float64."""
    return float(np.float32(x))


def _value_and_grad(fn, w):
    v = tf.Variable(w, dtype=tf.float64)
    with tf.GradientTape() as tape:
        value = fn(v)
    return float(value), tape.gradient(value, v).numpy()


# --- Keras regularizers = the book's penalties after conversion -------------------------------

def test_keras_l2_has_no_half_as_the_conventions_say():
    assert float(keras.regularizers.l2(0.1)(tf.constant([1.0, -2.0, 3.0]))) == pytest.approx(1.4)
    assert float(rtf.l2_regularizer(0.2)(tf.constant([1.0, -2.0, 3.0]))) == pytest.approx(1.4)


@settings(max_examples=25)
@given(lam=LAMS, seed=st.integers(0, 2**16),
       shape=st.sampled_from([(3,), (4, 2), (2, 3, 2)]))
def test_l2_regularizer_value_and_gradient_equal_the_numpy_penalty(lam, seed, shape):
    w = np.random.default_rng(seed).standard_normal(shape)
    value, grad = _value_and_grad(rtf.l2_regularizer(lam), w)
    lam_keras = convert.lam_from_keras_l2(_f32(convert.keras_l2(lam)))   # what Keras applies
    assert value == pytest.approx(rnp.l2_penalty(w, lam_keras), rel=1e-12, abs=1e-300)
    np.testing.assert_allclose(grad, rnp.l2_grad(w, lam_keras), rtol=1e-12, atol=0)
    assert value == pytest.approx(rnp.l2_penalty(w, lam), rel=1e-7, abs=1e-300)
    np.testing.assert_allclose(grad, rnp.l2_grad(w, lam), rtol=1e-7, atol=0)
    # ... and that is keras.regularizers.L2 with the converted factor c = lam / 2.
    keras_value, _ = _value_and_grad(keras.regularizers.L2(convert.keras_l2(lam)), w)
    assert keras_value == value


@settings(max_examples=25)
@given(lam=LAMS, seed=st.integers(0, 2**16))
def test_l1_regularizer_value_and_gradient_equal_the_numpy_penalty(lam, seed):
    w = np.random.default_rng(seed).standard_normal((4, 3))   # no exact zeros
    value, grad = _value_and_grad(rtf.l1_regularizer(lam), w)
    lam_keras = convert.lam_from_keras_l1(_f32(convert.keras_l1(lam)))
    assert value == pytest.approx(rnp.l1_penalty(w, lam_keras), rel=1e-12, abs=1e-300)
    np.testing.assert_allclose(grad, rnp.l1_grad(w, lam_keras), rtol=1e-12, atol=0)
    assert value == pytest.approx(rnp.l1_penalty(w, lam), rel=1e-7, abs=1e-300)


def test_our_tf_penalties_are_exact_in_float64():
    w = np.random.default_rng(5).standard_normal((4, 3))
    for ours, theirs in ((rtf.l1_penalty, rnp.l1_penalty), (rtf.l2_penalty, rnp.l2_penalty)):
        value, _ = _value_and_grad(lambda v, f=ours: f(v, 0.1), w)
        assert value == pytest.approx(theirs(w, 0.1), rel=1e-14)


def test_l1_l2_regularizer_is_the_sum_with_converted_factors():
    w = np.array([[0.5, -1.5], [2.0, -0.25]])
    value, grad = _value_and_grad(rtf.l1_l2_regularizer(0.375, 0.75), w)   # exact in float32
    assert value == pytest.approx(rnp.l1_penalty(w, 0.375) + rnp.l2_penalty(w, 0.75), rel=1e-15)
    np.testing.assert_allclose(grad, rnp.l1_grad(w, 0.375) + rnp.l2_grad(w, 0.75), rtol=1e-15)
    reg = rtf.l1_l2_regularizer(0.3, 0.8)
    assert (reg.l1, reg.l2) == pytest.approx((0.3, 0.4))


# --- penalties over a model: kernels only ----------------------------------------------------

def test_split_keeps_only_kernels_for_decay():
    net = _net()
    decay, no_decay = rtf.split_decay_params(net)
    assert [v.path for v in decay] == [net.layers[0].kernel.path, net.layers[2].kernel.path]
    assert len(no_decay) == 6
    assert {v.name for v in no_decay} == {"bias", "gamma", "beta"}


def test_split_finds_norm_layers_in_nested_models_and_custom_layers():
    inner = keras.Sequential([keras.layers.Dense(6), rtf.BatchNorm(6)])
    net = keras.Sequential([keras.Input((3,)), inner, _Block(), keras.layers.Dense(2),
                            keras.layers.RMSNormalization()])
    decay, no_decay = rtf.split_decay_params(net)
    block = net.layers[1]
    kernels = [inner.layers[0].kernel, block.dense.kernel, net.layers[2].kernel]
    assert [id(v) for v in decay] == [id(k) for k in kernels]
    norms = [inner.layers[1], *block.norms, net.layers[3]]
    expected = [inner.layers[0].bias, block.dense.bias, net.layers[2].bias]
    expected += [v for layer in norms for v in layer.trainable_variables]
    assert {id(v) for v in no_decay} == {id(v) for v in expected}
    assert len(decay) + len(no_decay) == len(net.trainable_variables)


def test_split_uses_no_private_keras_api():
    import inspect

    from regbook.tf import penalties
    source = inspect.getsource(penalties)
    assert "_flatten_layers" not in source and "_trainable_variables" not in source


def test_model_penalties_and_gradients_equal_numpy_over_the_kernels():
    net = _net()
    kernels = [net.layers[0].kernel, net.layers[2].kernel]
    with tf.GradientTape() as tape:
        total = rtf.l1_penalty(net, 0.3) + rtf.l2_penalty(net, 0.7)   # not rounded to float32
    grads = tape.gradient(total, net.trainable_variables)
    expected = sum(rnp.l1_penalty(k.numpy(), 0.3) + rnp.l2_penalty(k.numpy(), 0.7)
                   for k in kernels)
    assert float(total) == pytest.approx(expected, rel=1e-14)
    for v, g in zip(net.trainable_variables, grads):
        if any(v is k for k in kernels):
            w = v.numpy()
            np.testing.assert_allclose(g.numpy(), rnp.l1_grad(w, 0.3) + rnp.l2_grad(w, 0.7),
                                       rtol=1e-14)
        else:
            assert g is None                     # biases, gamma, beta untouched


def test_a_dense_kernel_regularizer_touches_the_kernel_only():
    layer = keras.layers.Dense(3, kernel_regularizer=rtf.l2_regularizer(0.5), dtype="float64",
                               bias_initializer="ones")
    layer.build((None, 4))
    (penalty,) = layer.losses
    assert float(penalty) == pytest.approx(rnp.l2_penalty(layer.kernel.numpy(), 0.5), rel=1e-14)


def test_set_kernel_regularizers_puts_the_book_penalty_in_model_losses():
    net = _net()
    rtf.set_kernel_regularizers(net, lam1=0.375, lam2=0.75)   # exact in float32
    assert float(tf.add_n(net.losses)) == pytest.approx(
        float(rtf.l1_penalty(net, 0.375) + rtf.l2_penalty(net, 0.75)), rel=1e-14)
    rtf.set_kernel_regularizers(net)             # lam1 = lam2 = 0 removes them
    assert net.losses == []


def test_exclude_from_weight_decay_keeps_keras_decay_off_biases_and_norm_params():
    """One Keras SGD step with zero gradients: only the kernels shrink, by (1 - lr * wd)."""
    for exclude in (True, False):
        net = _net()
        before = [v.numpy().copy() for v in net.trainable_variables]
        opt = keras.optimizers.SGD(learning_rate=0.125, weight_decay=0.5)
        if exclude:
            rtf.exclude_from_weight_decay(opt, net)
        opt.apply_gradients([(tf.zeros_like(v), v) for v in net.trainable_variables])
        for v, b in zip(net.trainable_variables, before):
            shrinks = v.name == "kernel" or not exclude
            np.testing.assert_allclose(v.numpy(), (1 - 0.0625) * b if shrinks else b,
                                       rtol=0, atol=1e-15)


# --- the same book lam in Keras and PyTorch, the same trajectory -----------------------------
# Learning rates and penalty factors are dyadic (exact in float32, which Keras rounds them to),
# so the float64 trajectories can agree to rounding.

@pytest.mark.parametrize("kwargs", [
    dict(lam2=0.5, lr=0.125, epochs=40),
    dict(lam1=0.0625, lam2=0.25, lr=0.25, epochs=8, batch_size=16, shuffle=True),
    dict(weight_decay=0.5, lr=0.125, epochs=40),
])
def test_keras_and_pytorch_linear_models_follow_the_same_trajectory(kwargs, regression):
    rtorch = pytest.importorskip("regbook.torch")
    X, y = regression
    coef0 = np.linspace(-1.0, 1.0, 5)
    _, keras_path = rtf.fit_linear(X, y, coef_init=coef0, intercept_init=0.3, **kwargs)
    _, torch_path = rtorch.fit_linear(X, y, coef_init=coef0, intercept_init=0.3, **kwargs)
    np.testing.assert_allclose(keras_path.coefs, torch_path.coefs, rtol=0, atol=1e-13)
    np.testing.assert_allclose(keras_path.intercepts, torch_path.intercepts, rtol=0,
                               atol=1e-13)
    np.testing.assert_allclose(keras_path.losses, torch_path.losses, rtol=1e-13)


def test_keras_l2_penalty_and_decoupled_sgd_weight_decay_agree_without_momentum(regression):
    X, y = regression
    _, penalty = rtf.fit_linear(X, y, lam2=0.5, lr=0.125, epochs=20)
    _, decay = rtf.fit_linear(X, y, weight_decay=0.5, lr=0.125, epochs=20)
    _, decay_momentum = rtf.fit_linear(X, y, weight_decay=0.5, lr=0.125, momentum=0.5,
                                       epochs=20)
    _, penalty_momentum = rtf.fit_linear(X, y, lam2=0.5, lr=0.125, momentum=0.5, epochs=20)
    np.testing.assert_allclose(penalty.coefs, decay.coefs, rtol=0, atol=1e-14)
    assert np.abs(decay_momentum.coefs - penalty_momentum.coefs).max() > 1e-3


def test_keras_sgd_reaches_the_ridge_solution(regression):
    X, y = regression
    model, path = rtf.fit_linear(X, y, lam2=0.4, lr=0.5, epochs=150)
    coef, _ = rnp.ridge(X, y, 0.4)
    np.testing.assert_allclose(path.coefs[-1], coef, atol=1e-8)
    np.testing.assert_allclose(model.layers[0].kernel.numpy().ravel(), coef, atol=1e-8)


def test_fit_penalized_trains_a_keras_mlp_classifier_and_is_repeatable():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((48, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    runs = []
    for _ in range(2):
        model = rtf.make_mlp(4, hidden=(8,), n_classes=2, seed=0)
        runs.append(rtf.fit_penalized(model, X, y, loss="cross_entropy", optimizer="adamw",
                                      lr=0.05, weight_decay=0.01, lam2=1e-3, epochs=8,
                                      batch_size=16, shuffle=True, seed=3))
    assert runs[0] == runs[1]
    assert runs[0]["objective"][-1] < 0.6 * runs[0]["objective"][0]


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, match", [
    (lambda: rtf.l2_regularizer(-1.0), ValueError, "lam"),
    (lambda: rtf.l1_regularizer(float("nan")), ValueError, "lam"),
    (lambda: rtf.l1_l2_regularizer(0.1, -0.2), ValueError, "lam2"),
    (lambda: rtf.l2_penalty(_net(), -0.5), ValueError, "lam"),
    (lambda: rtf.l1_penalty("kernel", 0.5), TypeError, "weights must be"),
    (lambda: rtf.l1_penalty(np.ones(3), 0.5), TypeError,
     "weights must be TensorFlow tensors or Keras variables, got a numpy.ndarray"),
    (lambda: rtf.l2_penalty([tf.ones(2), np.ones(2)], 0.5), TypeError,
     r"weights\[1\] must be a tensor or variable"),
    (lambda: rtf.l2_penalty([], 0.5), ValueError, "weights must not be empty"),
    (lambda: rtf.split_decay_params(np.ones(2)), TypeError, "model"),
    (lambda: rtf.set_kernel_regularizers(_net(), lam1=-1.0), ValueError, "lam1"),
    (lambda: rtf.exclude_from_weight_decay("sgd", _net()), TypeError, "optimizer"),
    (lambda: rtf.make_linear(3, coef=np.ones(4)), ValueError, "coef"),
])
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_exclude_from_weight_decay_rejects_a_built_optimizer():
    net = _net()
    opt = keras.optimizers.SGD(learning_rate=0.1, weight_decay=0.1)
    opt.build(net.trainable_variables)
    with pytest.raises(ValueError, match="already built"):
        rtf.exclude_from_weight_decay(opt, net)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(optimizer="rmsprop"), ValueError, "optimizer"),
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(lam2=-1.0), ValueError, "lam2"),
    (dict(momentum=1.0), ValueError, "momentum"),
    (dict(batch_size=0), ValueError, "batch_size"),
])
def test_fit_penalized_rejects_bad_arguments(kwargs, error, match, regression):
    X, y = regression
    model = rtf.make_linear(5)
    with pytest.raises(error, match=match):
        rtf.fit_penalized(model, X, y, **kwargs)
    with pytest.raises(TypeError, match="keras.Model"):
        rtf.fit_penalized("model", X, y)
