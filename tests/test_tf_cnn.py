"""regbook.tf.make_cnn and regbook.tf.LayerNorm: the MNIST-1D CNN in Keras, equal to PyTorch's."""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("tensorflow")
torch = pytest.importorskip("torch")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from torch import nn  # noqa: E402

import regbook.tf as rtf  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- LayerNorm: the layer against torch.nn.LayerNorm and keras.layers.LayerNormalization ----

def _keras_forward_backward(layer, x: np.ndarray, upstream: np.ndarray):
    """The output and the gradients of sum(out * upstream) w.r.t. x, gamma and beta."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x)
        objective = tf.reduce_sum(out * upstream)
    dx, dgamma, dbeta = tape.gradient(objective, [x, layer.gamma, layer.beta])
    return [t.numpy() for t in (out, dx, dgamma, dbeta)]


def _torch_forward_backward(x: np.ndarray, gamma, beta, upstream: np.ndarray, eps: float):
    layer = nn.LayerNorm(x.shape[-1], eps=eps).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
    xt = torch.tensor(x, requires_grad=True)
    out = layer(xt)
    out.backward(torch.from_numpy(upstream))
    return [t.detach().numpy() for t in (out, xt.grad, layer.weight.grad, layer.bias.grad)]


@pytest.mark.parametrize("shape", [(7, 5), (4, 9, 3), (2, 3, 4, 6), (6, 1), (3, 11, 25)])
@pytest.mark.parametrize("eps", [1e-5, 1e-3, 0.5])
def test_layernorm_equals_torch_and_keras_forward_and_gradients(shape, eps):
    rng = np.random.default_rng(sum(shape))
    d = shape[-1]
    x = rng.normal(size=shape) * rng.uniform(0.1, 3.0) + rng.normal()
    gamma, beta = rng.normal(size=d), rng.normal(size=d)
    upstream = rng.normal(size=shape)                      # random, never all ones
    ours = rtf.LayerNorm(d, eps=eps, dtype="float64")
    theirs = keras.layers.LayerNormalization(epsilon=eps, dtype="float64")
    for layer in (ours, theirs):
        layer.build(shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
    expected = _torch_forward_backward(x, gamma, beta, upstream, eps)
    for name, layer in (("regbook", ours), ("keras", theirs)):
        got = _keras_forward_backward(layer, x, upstream)
        for what, a, b in zip(("out", "dx", "dgamma", "dbeta"), got, expected, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{name} {what} {shape} eps={eps}")
    if d > 1:                                              # (D = 1: y = beta, dx = 0)
        assert np.abs(expected[1]).max() > 1e-3            # the check on dx is not vacuous


def test_layernorm_default_eps_is_pytorchs_not_keras():
    layer = rtf.LayerNorm(4, dtype="float64")
    assert layer.eps == 1e-5 == nn.LayerNorm(4).eps
    assert keras.layers.LayerNormalization().epsilon == 1e-3
    x = np.random.default_rng(0).normal(size=(3, 4)) * 0.05   # small variance: eps matters
    ours = layer(x).numpy()
    keras_default = keras.layers.LayerNormalization(dtype="float64")(x).numpy()
    torch_default = nn.LayerNorm(4).double()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours, torch_default, rtol=1e-12, atol=1e-12)
    assert np.abs(ours - keras_default).max() > 0.1


def test_layernorm_is_the_same_in_training_and_inference_and_has_gamma_beta():
    layer = rtf.LayerNorm(3, dtype="float64")
    x = np.random.default_rng(1).normal(size=(5, 2, 3))
    np.testing.assert_array_equal(layer(x, training=True).numpy(), layer(x).numpy())
    assert [v.name for v in layer.trainable_variables] == ["gamma", "beta"]
    assert not layer.non_trainable_variables
    np.testing.assert_array_equal(layer.gamma.numpy(), np.ones(3))
    np.testing.assert_array_equal(layer.beta.numpy(), np.zeros(3))
    assert layer.get_config()["num_features"] == 3 and layer.get_config()["eps"] == 1e-5


@pytest.mark.parametrize("make, error, match", [
    (lambda: rtf.LayerNorm(0), ValueError, "num_features"),
    (lambda: rtf.LayerNorm(2.0), TypeError, "num_features"),
    (lambda: rtf.LayerNorm(3, eps=0.0), ValueError, "eps"),
    (lambda: rtf.LayerNorm(3)(np.ones((2, 4), np.float32)), ValueError, "num_features=3"),
    (lambda: rtf.LayerNorm(3)(np.ones((2, 3, 4), np.float32)), ValueError, "num_features=3"),
])
def test_layernorm_rejects_bad_input(make, error, match):
    with pytest.raises(error, match=match):
        make()


# --- the PyTorch reference CNN, built by hand -------------------------------------------------

class ChannelLayerNorm(nn.Module):
    """nn.LayerNorm(C) over the channels of (N, C, L): on the (N, L, C) transpose."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x):
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


ARCHITECTURES = {
    "mnist1d": dict(n_inputs=40, channels=(25, 25, 25), kernel_size=(5, 3, 3), stride=2,
                    padding=1),
    "odd": dict(n_inputs=37, channels=(4, 6), kernel_size=(4, 3), stride=3, padding=2),
    "no-padding": dict(n_inputs=21, channels=(3, 5, 2), kernel_size=(2, 3, 2), stride=1,
                       padding=0),
}


def _lengths(n_inputs, kernel_size, stride, padding) -> list[int]:
    lengths = [n_inputs]
    for k in kernel_size:
        lengths.append((lengths[-1] + 2 * padding - k) // stride + 1)
    return lengths


def torch_cnn(n_inputs, channels, kernel_size, stride, padding, norm=None, n_classes=10):
    """The reference: Unflatten -> (Conv1d -> [norm] -> ReLU) per block -> Flatten -> Linear.

    float64, with random norm parameters and running statistics (so copying them is tested);
    built inside fork_rng so that the global torch generator is left alone.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        layers, c_in = [nn.Unflatten(1, (1, n_inputs))], 1
        for c, k in zip(channels, kernel_size, strict=True):
            layers.append(nn.Conv1d(c_in, c, k, stride=stride, padding=padding))
            if norm == "batchnorm":
                layers.append(nn.BatchNorm1d(c))
            elif norm == "layernorm":
                layers.append(ChannelLayerNorm(c))
            layers.append(nn.ReLU())
            c_in = c
        length = _lengths(n_inputs, kernel_size, stride, padding)[-1]
        layers += [nn.Flatten(), nn.Linear(channels[-1] * length, n_classes)]
        model = nn.Sequential(*layers).double()
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm)):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.5, 0.5)
                if isinstance(m, nn.BatchNorm1d):
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 2.0)
    return model


def _torch_weights_as_keras(torch_model) -> list[np.ndarray]:
    """Conv1d (C_out, C_in, K) -> Conv1D (K, C_in, C_out); Linear weight.T; norms as they are."""
    out = []
    for m in torch_model.modules():
        if isinstance(m, nn.Conv1d):
            out += [m.weight.detach().numpy().transpose(2, 1, 0), m.bias.detach().numpy()]
        elif isinstance(m, nn.Linear):
            out += [m.weight.detach().numpy().T, m.bias.detach().numpy()]
        elif isinstance(m, nn.BatchNorm1d):
            out += [m.weight.detach().numpy(), m.bias.detach().numpy(),
                    m.running_mean.numpy(), m.running_var.numpy()]
        elif isinstance(m, nn.LayerNorm):
            out += [m.weight.detach().numpy(), m.bias.detach().numpy()]
    return [np.array(w) for w in out]


def _twins(arch: str, norm):
    a = ARCHITECTURES[arch]
    torch_model = torch_cnn(a["n_inputs"], a["channels"], a["kernel_size"], a["stride"],
                            a["padding"], norm)
    keras_model = rtf.make_cnn(**a, batchnorm=norm == "batchnorm", layernorm=norm == "layernorm",
                               seed=0, dtype="float64")
    keras_model.set_weights(_torch_weights_as_keras(torch_model))
    return torch_model, keras_model


def _data(n_inputs: int, n: int = 24, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_inputs)), rng.integers(0, 10, size=n)


# --- make_cnn: logits and one training step equal PyTorch's -----------------------------------

@pytest.mark.parametrize("norm", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_logits_equal_the_pytorch_cnn_with_the_same_weights(arch, norm):
    torch_model, keras_model = _twins(arch, norm)
    X, _ = _data(ARCHITECTURES[arch]["n_inputs"])
    torch_model.eval()
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(X)).numpy()
    got = rtf.predict_logits(keras_model, X)
    assert got.dtype == np.float64 and got.shape == (len(X), 10)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def _torch_sgd_step(model, X, y, *, lr, momentum, lam2) -> float:
    """One step of cross-entropy + lam2/2 * sum of squares of conv kernels and linear weight."""
    model.train()
    weights = [m.weight for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y))
    loss = loss + lam2 / 2 * sum((w ** 2).sum() for w in weights)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


@pytest.mark.parametrize("norm", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("arch", ["mnist1d", "odd"])
def test_one_full_batch_sgd_step_equals_the_pytorch_step(arch, norm):
    torch_model, keras_model = _twins(arch, norm)
    X, y = _data(ARCHITECTURES[arch]["n_inputs"])
    start = keras_model.get_weights()
    history = rtf.fit_classifier(keras_model, X, y, optimizer="sgd", lr=0.1, momentum=0.9,
                                 lam2=1e-3, epochs=1, batch_size=len(X), seed=0)
    # fit_classifier trains a float64 model on float64 features; so does the reference.
    X64 = X.astype(np.float64)
    _torch_sgd_step(torch_model, X64, y, lr=0.1, momentum=0.9, lam2=1e-3)
    expected = _torch_weights_as_keras(torch_model)
    got = keras_model.get_weights()
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13, err_msg=f"weight {i}")
    moved = max(np.abs(a - b).max() for a, b in zip(got, start, strict=True))
    assert moved > 1e-3                                    # the step is far beyond the tolerance
    torch_model.eval()
    with torch.no_grad():
        logits = torch_model(torch.from_numpy(X64))
        loss = nn.functional.cross_entropy(logits, torch.from_numpy(y)).item()
    assert history["loss"][0] == pytest.approx(loss, rel=1e-10)


def test_the_l2_penalty_covers_the_conv_kernels_and_the_dense_kernel_only():
    model = rtf.make_cnn(layernorm=True, seed=0, dtype="float64")
    decay, no_decay = rtf.split_decay_params(model)
    kernels = [layer.kernel for layer in model.layers
               if isinstance(layer, (keras.layers.Conv1D, keras.layers.Dense))]
    assert [id(v) for v in decay] == [id(v) for v in kernels]
    assert [v.name for v in no_decay] == ["bias", "gamma", "beta"] * 3 + ["bias"]
    expected = 0.3 / 2 * sum(np.sum(k.numpy() ** 2) for k in kernels)
    assert float(rtf.l2_penalty(model, 0.3)) == pytest.approx(expected, rel=1e-14)
    bn = rtf.make_cnn(batchnorm=True, seed=0)
    assert len(rtf.split_decay_params(bn)[0]) == 4
    assert {v.name for v in rtf.split_decay_params(bn)[1]} == {"bias", "gamma", "beta"}


def test_split_decay_params_leaves_keras_layer_normalization_unpenalised():
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.Conv1D(3, 2),
                              keras.layers.LayerNormalization(), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    decay, no_decay = rtf.split_decay_params(model)
    assert [v.name for v in decay] == ["kernel", "kernel"]
    assert [v.name for v in no_decay] == ["bias", "gamma", "beta", "bias"]


# --- make_cnn: structure, seeds --------------------------------------------------------------

def _kinds(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_make_cnn_orders_pad_conv_norm_relu_dropout_then_permute_flatten_dense():
    block = ["ZeroPadding1D", "Conv1D", "ReLU"]
    assert _kinds(rtf.make_cnn()) == ["Reshape"] + block * 3 + ["Permute", "Flatten", "Dense"]
    model = rtf.make_cnn(batchnorm=True, dropout=0.2)
    block = ["ZeroPadding1D", "Conv1D", "BatchNorm", "ReLU", "Dropout"]
    assert _kinds(model) == ["Reshape"] + block * 3 + ["Permute", "Flatten", "Dense"]
    bn = model.layers[3]
    assert isinstance(bn, rtf.BatchNorm) and (bn.momentum, bn.eps) == (0.1, 1e-5)
    assert model.layers[5].rate == 0.2
    block = ["Conv1D", "LayerNorm", "ReLU"]
    model = rtf.make_cnn(21, 3, channels=(4, 4), kernel_size=3, padding=0, layernorm=True)
    assert _kinds(model) == ["Reshape"] + block * 2 + ["Permute", "Flatten", "Dense"]
    assert isinstance(model.layers[2], rtf.LayerNorm) and model.layers[2].eps == 1e-5


def test_the_default_is_the_mnist1d_convbase():
    model = rtf.make_cnn()
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv1D)]
    assert [layer.filters for layer in convs] == [25, 25, 25]
    assert [layer.kernel_size for layer in convs] == [(5,), (3,), (3,)]
    assert {layer.strides for layer in convs} == {(2,)}
    assert {layer.padding for layer in convs} == {"valid"}
    assert [layer.output.shape[1] for layer in convs] == [19, 10, 5]
    assert model.layers[-1].kernel.shape == (125, 10)
    reference = torch_cnn(40, (25, 25, 25), (5, 3, 3), 2, 1)   # the paper's ConvBase
    n_torch = sum(p.numel() for p in reference.parameters())
    assert model.count_params() == n_torch == 5210
    assert model.input_shape == (None, 40) and model.output_shape == (None, 10)


def test_an_int_kernel_size_means_every_block():
    model = rtf.make_cnn(30, 4, channels=(2, 3, 5), kernel_size=3, stride=1)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv1D)]
    assert [layer.kernel_size for layer in convs] == [(3,)] * 3
    assert rtf.predict_logits(model, np.ones((2, 30))).shape == (2, 4)


def _conv_dense_weights(model) -> list[np.ndarray]:
    return [w for layer in model.layers
            if isinstance(layer, (keras.layers.Conv1D, keras.layers.Dense))
            for w in layer.get_weights()]


def test_conv_and_dense_weights_of_a_seed_do_not_depend_on_dropout_or_normalization():
    plain = _conv_dense_weights(rtf.make_cnn(seed=7))
    for kwargs in (dict(dropout=0.5), dict(batchnorm=True), dict(layernorm=True, dropout=0.1)):
        other = _conv_dense_weights(rtf.make_cnn(seed=7, **kwargs))
        for a, b in zip(plain, other, strict=True):
            np.testing.assert_array_equal(a, b)
    again = _conv_dense_weights(rtf.make_cnn(seed=7))
    for a, b in zip(plain, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other_seed = _conv_dense_weights(rtf.make_cnn(seed=8))
    assert not np.array_equal(plain[0], other_seed[0])
    kernels = [w for w in plain if w.ndim == 3]
    assert not np.array_equal(kernels[1], kernels[2])      # each block has its own seed


def test_kernels_are_glorot_uniform_and_biases_zero():
    conv = rtf.make_cnn(seed=0).layers[5]                  # 25 -> 25 channels, kernel 3
    kernel, bias = conv.get_weights()
    limit = np.sqrt(6.0 / (3 * 25 + 3 * 25))
    assert kernel.shape == (3, 25, 25)
    assert limit >= np.abs(kernel).max() > 0.9 * limit
    np.testing.assert_array_equal(bias, 0.0)


def test_make_cnn_and_fit_classifier_leave_the_global_generators_alone():
    python_state, numpy_state = random.getstate(), np.random.get_state()
    X, y = _data(40, n=16)
    model = rtf.make_cnn(dropout=0.3, batchnorm=True, seed=0)
    rtf.fit_classifier(model, X, y, epochs=1, batch_size=8)
    assert random.getstate() == python_state
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]


def test_dropout_is_on_in_training_only_and_float64_is_float64():
    X, y = _data(40, n=16)
    plain = rtf.make_cnn(seed=0, dtype="float64")
    dropped = rtf.make_cnn(seed=0, dropout=0.5, dtype="float64")
    assert {v.dtype for v in dropped.weights} == {"float64"}
    np.testing.assert_array_equal(rtf.predict_logits(plain, X), rtf.predict_logits(dropped, X))
    assert not np.allclose(dropped(X, training=True).numpy(), plain(X, training=True).numpy())
    assert rtf.predict_logits(rtf.make_cnn(seed=0), X).dtype == np.float32
    loss, accuracy = rtf.evaluate_classifier(plain, X, y)
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_inputs=2), ValueError, "n_inputs=2 is too short"),
    (dict(n_inputs=9, kernel_size=(5, 3, 3), padding=0), ValueError, "n_inputs=9"),
    (dict(n_inputs=0), ValueError, "n_inputs"),
    (dict(kernel_size=(5, 3)), ValueError, "channels and kernel_size"),
    (dict(channels=(25, 25)), ValueError, "channels and kernel_size"),
    (dict(batchnorm=True, layernorm=True), ValueError, "batchnorm and layernorm"),
    (dict(channels=()), ValueError, "channels"),
    (dict(channels=25), TypeError, "channels"),
    (dict(channels=(25, 0, 25)), ValueError, r"channels\[1\]"),
    (dict(kernel_size="5"), TypeError, "kernel_size"),
    (dict(kernel_size=(5, 3, 0)), ValueError, r"kernel_size\[2\]"),
    (dict(kernel_size=0), ValueError, "kernel_size"),
    (dict(stride=0), ValueError, "stride"),
    (dict(padding=-1), ValueError, "padding"),
    (dict(padding=1.0), TypeError, "padding"),
    (dict(n_classes=1), ValueError, "n_classes"),
    (dict(dropout=1.0), ValueError, "dropout"),
    (dict(batchnorm=1), TypeError, "batchnorm"),
    (dict(layernorm="True"), TypeError, "layernorm"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(dtype="float16"), ValueError, "dtype"),
])
def test_make_cnn_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        rtf.make_cnn(**kwargs)


@pytest.mark.parametrize("call, match", [
    (lambda m, X, y: rtf.fit_classifier(m, X[:, :39], y, epochs=1), "X_train"),
    (lambda m, X, y: rtf.fit_classifier(m, X, y, X_val=X[:, :39], y_val=y, epochs=1), "X_val"),
    (lambda m, X, y: rtf.predict_logits(m, X[:, :30]), "X"),
    (lambda m, X, y: rtf.evaluate_classifier(m, X[:, :30], y), "X"),
    (lambda m, X, y: rtf.fit_classifier(m, X, y + 10, epochs=1), "y_train"),
])
def test_a_wrong_input_width_or_label_is_refused_before_any_step(call, match):
    model = rtf.make_cnn(batchnorm=True, seed=0)
    X, y = _data(40, n=16)
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        call(model, X, y)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
