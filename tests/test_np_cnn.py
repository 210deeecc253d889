"""regbook.np's CNN: the convolutional layer classes, LayerNorm, He initialisation, make_cnn.

Gold model: a PyTorch CNN built by hand here (``nn.Unflatten``, ``nn.Conv1d``, ``nn.ReLU``,
``nn.BatchNorm1d`` or ``nn.LayerNorm`` over the channels, ``nn.Flatten``, ``nn.Linear``) in
float64. Its weights are copied into ``regbook.np.make_cnn(..., dtype="float64")``; logits,
the gradient of every parameter (a random upstream gradient, never all ones) and whole training
steps of ``regbook.np.fit_classifier`` (SGD with momentum and the book's L2 penalty) must agree
to 1e-10 relative. Layers are also checked against finite differences; bad input must name the
argument.
"""

import numpy as np
import pytest

import regbook
from regbook import np as rnp

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RTOL = 1e-10          # float64, relative to the largest entry
F64 = np.float64
NORMS = [None, "batchnorm", "layernorm"]


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=F64), np.asarray(b, dtype=F64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --- the gold model, built by hand ----------------------------------------------------------

class _ChannelLayerNorm(nn.Module):
    """``nn.LayerNorm(C)`` at every position of an ``(N, C, L)`` feature map."""

    def __init__(self, c):
        super().__init__()
        self.ln = nn.LayerNorm(c, dtype=torch.float64)

    def forward(self, x):
        return self.ln(x.transpose(1, 2)).transpose(1, 2)


def _torch_cnn(norm=None, *, n_inputs=40, channels=(25, 25, 25), kernels=(5, 3, 3), stride=2,
               padding=1, n_classes=10, seed=0):
    """The MNIST-1D CNN in float64 PyTorch, norm parameters (and BN statistics) random."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers, c_in, length = [nn.Unflatten(1, (1, n_inputs))], 1, n_inputs
        for c, k in zip(channels, kernels):
            layers.append(nn.Conv1d(c_in, c, k, stride=stride, padding=padding,
                                    dtype=torch.float64))
            if norm == "batchnorm":
                layers.append(nn.BatchNorm1d(c, dtype=torch.float64))
            elif norm == "layernorm":
                layers.append(_ChannelLayerNorm(c))
            layers.append(nn.ReLU())
            c_in, length = c, (length + 2 * padding - k) // stride + 1
        layers += [nn.Flatten(), nn.Linear(c_in * length, n_classes, dtype=torch.float64)]
        model = nn.Sequential(*layers)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm)):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.5, 0.5)
                if isinstance(m, nn.BatchNorm1d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
    return model


def _torch_arrays(model):
    """The arrays of a torch CNN in the order of the NumPy model's ``get_weights()``."""
    arrays = []
    for m in model:
        if isinstance(m, nn.Linear):
            arrays += [m.weight.T, m.bias]
        else:
            arrays += [t for name, t in m.state_dict().items()
                       if not name.endswith("num_batches_tracked")]
    return [a.detach().numpy().copy() for a in arrays]


def _np_twin(torch_model, **kwargs):
    model = rnp.make_cnn(dtype="float64", **kwargs)
    model.set_weights(_torch_arrays(torch_model))
    return model


def _norm_kwargs(norm):
    return {"batchnorm": norm == "batchnorm", "layernorm": norm == "layernorm"}


def _param_grads_torch(model):
    """Gradients in the order of the NumPy model's ``params`` (Linear's transposed)."""
    grads = []
    for m in model:
        ps = list(m.parameters())
        if isinstance(m, nn.Linear):
            grads += [ps[0].grad.T, ps[1].grad]
        else:
            grads += [p.grad for p in ps]
    return [g.numpy() for g in grads]


# --- make_cnn: shapes, order, initialisation -------------------------------------------------

def test_default_cnn_is_the_mnist1d_convbase_with_lengths_40_19_10_5():
    model = rnp.make_cnn()
    convs = [layer for layer in model.layers if isinstance(layer, rnp.Conv1d)]
    assert [(c.c_in, c.c_out, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (1, 25, 5, 2, 1), (25, 25, 3, 2, 1), (25, 25, 3, 2, 1)]
    x = _randn(3, 40).astype(np.float32)
    lengths = []
    for layer in model.layers:
        x = layer.forward(x, training=False)
        if isinstance(layer, rnp.Conv1d):
            lengths.append(x.shape[2])
    assert lengths == [19, 10, 5]
    head = model.layers[-1]
    assert (head.n_in, head.n_out) == (125, 10) and x.shape == (3, 10)
    assert sum(p.size for p in model.params.values()) == 5210
    assert all(p.dtype == np.float32 for p in model.params.values())


@pytest.mark.parametrize("kwargs, kinds", [
    ({}, ["AddChannel", "Conv1d", "ReLU", "Conv1d", "ReLU", "Flatten", "Linear"]),
    ({"batchnorm": True, "dropout": 0.2},
     ["AddChannel", "Conv1d", "BatchNorm", "ReLU", "Dropout", "Conv1d", "BatchNorm", "ReLU",
      "Dropout", "Flatten", "Linear"]),
    ({"layernorm": True},
     ["AddChannel", "Conv1d", "ChannelsLast", "ReLU", "Conv1d", "ChannelsLast", "ReLU",
      "Flatten", "Linear"]),
])
def test_make_cnn_orders_the_layers_as_the_spec(kwargs, kinds):
    model = rnp.make_cnn(channels=(4, 6), kernel_size=3, **kwargs)
    assert [type(layer).__name__ for layer in model.layers] == kinds
    if kwargs.get("layernorm"):
        assert isinstance(model.layers[2].layer, rnp.LayerNorm)


@pytest.mark.parametrize("norm", NORMS)
def test_the_np_layers_line_up_with_the_torch_modules(norm):
    kinds = {nn.Unflatten: rnp.AddChannel, nn.Conv1d: rnp.Conv1d, nn.BatchNorm1d: rnp.BatchNorm,
             _ChannelLayerNorm: rnp.ChannelsLast, nn.ReLU: rnp.ReLU, nn.Flatten: rnp.Flatten,
             nn.Linear: rnp.Linear}
    ours = rnp.make_cnn(**_norm_kwargs(norm)).layers
    theirs = list(_torch_cnn(norm))
    assert [type(layer) for layer in ours] == [kinds[type(m)] for m in theirs]


def test_same_seed_same_weights_whatever_the_normalization_and_dropout():
    def weights(**kw):
        model = rnp.make_cnn(seed=3, **kw)
        return [model.params[k] for k in model.params if k.rsplit(".", 1)[-1] in ("w", "b", "W")]

    base = weights()
    for kw in ({"dropout": 0.3}, {"batchnorm": True}, {"layernorm": True, "dropout": 0.1}):
        for a, b in zip(base, weights(**kw), strict=True):
            np.testing.assert_array_equal(a, b)
    other = rnp.make_cnn(seed=4).params["1.w"]
    assert not np.array_equal(base[0], other)


def test_make_cnn_draws_pytorch_default_bounds_from_one_generator():
    model = rnp.make_cnn(seed=0, dtype="float64")
    rng = np.random.default_rng(0)
    for name, fan_in in (("1.w", 5), ("3.w", 75), ("5.w", 75)):
        bound = 1 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=model.params[name].shape)
        b = rng.uniform(-bound, bound, size=model.params[name[:-1] + "b"].shape)
        np.testing.assert_array_equal(model.params[name], w)
        np.testing.assert_array_equal(model.params[name[:-1] + "b"], b)
    bound = 1 / np.sqrt(125)
    np.testing.assert_array_equal(model.params["8.W"], rng.uniform(-bound, bound, (125, 10)))


def test_make_cnn_takes_an_int_kernel_size_for_every_block():
    model = rnp.make_cnn(channels=(3, 4, 5, 6), kernel_size=3, stride=1, padding=0)
    convs = [layer for layer in model.layers if isinstance(layer, rnp.Conv1d)]
    assert [c.kernel_size for c in convs] == [3, 3, 3, 3]
    assert model.layers[-1].n_in == 6 * (40 - 4 * 2)


def test_make_cnn_leaves_the_global_generators_alone():
    import random

    np_state, py_state = np.random.get_state(), random.getstate()
    torch_state = torch.random.get_rng_state()
    model = rnp.make_cnn(dropout=0.5)
    model.forward(_randn(4, 40), training=True)
    for a, b in zip(np_state, np.random.get_state(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert random.getstate() == py_state
    assert torch.equal(torch.random.get_rng_state(), torch_state)


def test_cnn_dropout_layers_have_generators_of_their_own_and_evaluation_ignores_them():
    model = rnp.make_cnn(dropout=0.5, seed=0)
    plain = rnp.make_cnn(seed=0)
    drops = [layer for layer in model.layers if isinstance(layer, rnp.Dropout)]
    assert len({id(d.rng) for d in drops}) == 3
    x = _randn(5, 40)
    np.testing.assert_array_equal(model.forward(x, training=False),
                                  plain.forward(x, training=False))
    a, b = model.forward(x, training=True), rnp.make_cnn(dropout=0.5, seed=0).forward(x, True)
    np.testing.assert_array_equal(a, b)                 # masks reproducible from the seed
    assert not np.array_equal(a, plain.forward(x, training=True))


# --- against the hand-built PyTorch CNN ------------------------------------------------------

@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("training", [True, False])
def test_logits_and_every_gradient_equal_the_torch_cnn(norm, training):
    theirs = _torch_cnn(norm, seed=1)
    ours = _np_twin(theirs, **_norm_kwargs(norm))
    theirs.train(training)
    X, G = _randn(16, 40, seed=2), _randn(16, 10, seed=3)
    Xt = torch.tensor(X, requires_grad=True)
    out_t = theirs(Xt)
    out_t.backward(torch.tensor(G))
    out = ours.forward(X, training=training)
    dx = ours.backward(G)
    assert _rel(out, out_t.detach().numpy()) < RTOL
    assert _rel(dx, Xt.grad.numpy()) < RTOL
    grads = ours.grads
    for name, g in zip(ours.params, _param_grads_torch(theirs), strict=True):
        if np.max(np.abs(g)) < 1e-12:      # a conv bias before training-mode BN: exactly 0
            assert norm == "batchnorm" and training and name.endswith(".b"), name
            assert np.max(np.abs(grads[name])) < 1e-12, name
        else:
            assert _rel(grads[name], g) < RTOL, name
    for name, b in zip(ours.buffers, [t for m in theirs if isinstance(m, nn.BatchNorm1d)
                                      for t in (m.running_mean, m.running_var)], strict=True):
        assert _rel(ours.buffers[name], b.numpy()) < RTOL, name


def test_a_cnn_of_other_shapes_equals_its_torch_twin():
    kw = dict(n_inputs=23, channels=(3, 5), kernels=(4, 2), stride=3, padding=2, n_classes=4)
    theirs = _torch_cnn("layernorm", seed=5, **kw)
    ours = rnp.make_cnn(23, 4, channels=(3, 5), kernel_size=(4, 2), stride=3, padding=2,
                        layernorm=True, dtype="float64")
    ours.set_weights(_torch_arrays(theirs))
    X, G = _randn(7, 23, seed=6), _randn(7, 4, seed=7)
    out_t = theirs(torch.tensor(X))
    out_t.backward(torch.tensor(G))
    assert _rel(ours.forward(X, training=True), out_t.detach().numpy()) < RTOL
    ours.backward(G)
    for name, g in zip(ours.params, _param_grads_torch(theirs), strict=True):
        assert _rel(ours.grads[name], g) < RTOL, name


def _torch_training(model, X, y, *, epochs, lr=0.1, momentum=0.9, lam2=1e-3):
    """What fit_classifier(optimizer="sgd", batch_size=len(X)) does, by hand: one step per
    epoch on cross-entropy + lam2/2 * (sum of squared conv kernels and Linear weight)."""
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    kernels = [m.weight for m in model if isinstance(m, (nn.Conv1d, nn.Linear))]
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(epochs):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(Xt), yt)
        loss = loss + lam2 / 2 * sum((w ** 2).sum() for w in kernels)
        loss.backward()
        opt.step()
    return _torch_arrays(model)


def _classification_data(n=64, seed=8):
    rng = np.random.default_rng(seed)
    # fit_classifier passes float32 features: draw values float32 holds exactly
    X = rng.standard_normal((n, 40)).astype(np.float32).astype(F64)
    return X, rng.integers(0, 10, n)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("epochs", [1, 3])
def test_fit_classifier_sgd_steps_equal_torch_sgd_by_hand(norm, epochs):
    X, y = _classification_data()
    theirs = _torch_cnn(norm, seed=9)
    ours = _np_twin(theirs, **_norm_kwargs(norm))
    rnp.fit_classifier(ours, X, y, optimizer="sgd", lr=0.1, momentum=0.9, lam2=1e-3,
                       epochs=epochs, batch_size=len(X), seed=0)
    expected = _torch_training(theirs, X, y, epochs=epochs)
    for i, (a, b) in enumerate(zip(ours.get_weights(), expected, strict=True)):
        assert _rel(a, b) < RTOL, i
    assert _rel(ours.get_weights()[0], _torch_arrays(_torch_cnn(norm, seed=9))[0]) > 1e-4


def _regbook_torch_make_cnn():
    import regbook.torch as rtorch
    import regbook.torch.models

    make = getattr(rtorch, "make_cnn", None) or getattr(regbook.torch.models, "make_cnn", None)
    if make is None:
        pytest.skip("regbook.torch.make_cnn does not exist yet")
    return rtorch, make


@pytest.mark.parametrize("norm", NORMS)
def test_a_training_step_equals_regbook_torch_from_the_same_weights(norm):
    rtorch, make_torch_cnn = _regbook_torch_make_cnn()
    X, y = _classification_data(seed=10)
    theirs = make_torch_cnn(dtype="float64", seed=2, **_norm_kwargs(norm))
    ours = _np_twin(theirs, **_norm_kwargs(norm))
    theirs.eval()
    assert _rel(rnp.predict_logits(ours, X), rtorch.predict_logits(theirs, X)) < RTOL
    kw = dict(optimizer="sgd", lr=0.1, momentum=0.9, lam2=1e-3, epochs=1, batch_size=len(X),
              seed=0)
    h_np = rnp.fit_classifier(ours, X, y, **kw)
    h_torch = rtorch.fit_classifier(theirs, X, y, **kw)
    for i, (a, b) in enumerate(zip(ours.get_weights(), _torch_arrays(theirs), strict=True)):
        assert _rel(a, b) < RTOL, i
    assert h_np["loss"][0] == pytest.approx(h_torch["loss"][0], rel=1e-10)


# --- the toolkit's training functions accept the CNN unchanged --------------------------------

def test_split_decay_params_counts_conv_kernels_as_weights():
    model = rnp.make_cnn(layernorm=True)
    decay, no_decay = rnp.split_decay_params(model)
    assert decay == ["1.w", "4.w", "7.w", "11.W"]
    assert no_decay == ["1.b", "2.gamma", "2.beta", "4.b", "5.gamma", "5.beta", "7.b",
                        "8.gamma", "8.beta", "11.b"]
    params = model.params
    expected = 0.5 * 0.3 * sum(float(np.sum(params[k].astype(F64) ** 2)) for k in decay)
    assert rnp.l2_penalty(model, 0.3) == pytest.approx(expected, rel=1e-6)
    l1 = 0.2 * sum(float(np.sum(np.abs(params[k].astype(F64)))) for k in decay)
    assert rnp.l1_penalty(model, 0.2) == pytest.approx(l1, rel=1e-6)


def test_batchnorm_cnn_decays_kernels_not_gamma_or_beta():
    decay, no_decay = rnp.split_decay_params(rnp.make_cnn(batchnorm=True))
    assert all(k.endswith((".w", ".W")) for k in decay) and len(decay) == 4
    assert sum(k.endswith((".gamma", ".beta")) for k in no_decay) == 6


def test_the_default_cnn_learns_a_simple_pattern_in_float32():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    X = rng.normal(0, 0.3, (200, 40)).astype(np.float32)
    X[y == 1, 10:20] += 1.0                        # class 1 has a bump
    model = rnp.make_cnn(n_classes=2)
    history = rnp.fit_classifier(model, X, y, lr=3e-3, epochs=15, batch_size=32, seed=0)
    loss, acc = rnp.evaluate_classifier(model, X, y)
    assert acc > 0.95 and history["accuracy"][-1] == pytest.approx(acc)
    assert rnp.predict_logits(model, X).shape == (200, 2)
    assert rnp.predict_logits(model, X).dtype == np.float32


def test_fit_classifier_refuses_rows_of_the_wrong_length_before_any_step():
    model = rnp.make_cnn()
    before = model.get_weights()
    X, y = _randn(10, 39), np.zeros(10, dtype=int)
    with pytest.raises(ValueError, match="X_train has 39 features .* n_in=40"):
        rnp.fit_classifier(model, X, y, epochs=1)
    with pytest.raises(ValueError, match="X has 39 features"):
        rnp.predict_logits(model, X)
    with pytest.raises(ValueError, match="y_train must hold class labels in \\[0, 9\\]"):
        rnp.fit_classifier(model, _randn(10, 40), np.full(10, 10), epochs=1)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_cnn_forward_refuses_rows_of_the_wrong_length():
    with pytest.raises(ValueError, match="x has 41 features but AddChannel expects n_in=40"):
        rnp.make_cnn().forward(_randn(2, 41), training=False)


# --- make_cnn's bad arguments ----------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    ({"batchnorm": True, "layernorm": True}, ValueError, "batchnorm and layernorm"),
    ({"channels": (8, 8), "kernel_size": (3, 3, 3)}, ValueError,
     "channels and kernel_size must have the same length"),
    ({"channels": ()}, ValueError, "channels must name at least one"),
    ({"channels": 25}, TypeError, "channels must be a sequence"),
    ({"channels": (25, 0)}, ValueError, "channels\\[1\\] must be >= 1"),
    ({"kernel_size": (5, 3.0, 3)}, TypeError, "kernel_size\\[1\\] must be an integer"),
    ({"kernel_size": True}, TypeError, "kernel_size must be a sequence"),
    ({"kernel_size": 0}, ValueError, "kernel_size must be >= 1"),
    ({"batchnorm": "True"}, TypeError, "batchnorm must be a bool"),
    ({"batchnorm": np.float64(1.0)}, TypeError, "batchnorm must be a bool"),
    ({"layernorm": np.str_("False")}, TypeError, "layernorm must be a bool"),
    ({"layernorm": 1}, TypeError, "layernorm must be a bool"),
    ({"stride": 0}, ValueError, "stride must be >= 1"),
    ({"padding": -1}, ValueError, "padding must be >= 0"),
    ({"dropout": 1.0}, ValueError, "dropout must be in"),
    ({"n_inputs": 2}, ValueError, "n_inputs=2 is too short"),
    ({"n_classes": 1}, ValueError, "n_classes must be >= 2"),
    ({"seed": -1}, ValueError, "seed must be >= 0"),
    ({"dtype": "int32"}, TypeError, "dtype must be a floating dtype"),
    ({"dtype": "np.float32"}, TypeError, "dtype must be a floating dtype"),
])
def test_make_cnn_rejects_bad_arguments_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        rnp.make_cnn(**kwargs)


@pytest.mark.parametrize("dtype", ["float64", np.float64, np.dtype("float64")])
def test_make_cnn_accepts_dtype_names_and_numpy_dtypes(dtype):
    model = rnp.make_cnn(layernorm=True, dtype=dtype)
    assert all(p.dtype == np.float64 for p in model.params.values())


# --- the layers: finite differences, PyTorch, protocol ---------------------------------------

def _check_layer_grads(layer, x, dout, training=True):
    """Finite-difference check of d(sum(out * dout)) w.r.t. x and every parameter."""
    def f(_):
        return float(np.sum(layer.forward(x, training=training) * dout))

    layer.forward(x, training=training)
    dx = layer.backward(dout)
    grads = dict(layer.grads)
    errors = {"x": rnp.rel_error(dx, rnp.numerical_gradient(f, x))}
    for name, p in layer.params.items():
        errors[name] = rnp.rel_error(grads[name], rnp.numerical_gradient(f, p))
    return errors


@pytest.mark.parametrize("init", ["torch", "he"])
def test_conv1d_layer_matches_finite_differences(init):
    layer = rnp.Conv1d(3, 4, 3, stride=2, padding=1, rng=np.random.default_rng(0), init=init,
                       dtype=F64)
    layer.params["b"][...] = _randn(4, seed=9)          # He's zero biases: test b too
    errors = _check_layer_grads(layer, _randn(2, 3, 9, seed=1), _randn(2, 4, 5, seed=2))
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 5)])
def test_layernorm_layer_matches_finite_differences(shape):
    layer = rnp.LayerNorm(5, dtype=F64)
    layer.gamma = 1 + 0.5 * _randn(5, seed=3)
    layer.beta = _randn(5, seed=4)
    errors = _check_layer_grads(layer, _randn(*shape, seed=5), _randn(*shape, seed=6))
    assert max(errors.values()) < 1e-7, errors


def test_channels_last_layernorm_matches_finite_differences():
    layer = rnp.ChannelsLast(rnp.LayerNorm(4, dtype=F64))
    layer.layer.gamma = 1 + 0.5 * _randn(4, seed=7)
    errors = _check_layer_grads(layer, _randn(3, 4, 7, seed=8), _randn(3, 4, 7, seed=9))
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("layer", [rnp.AddChannel(6), rnp.Flatten(), rnp.GlobalAvgPool1d(),
                                   rnp.MaxPool1d(3, stride=2)])
def test_shape_layers_match_finite_differences(layer):
    x = _randn(3, 6, seed=10) if isinstance(layer, rnp.AddChannel) else _randn(3, 2, 7, seed=10)
    out = layer.forward(x, training=True)
    errors = _check_layer_grads(layer, x, _randn(*out.shape, seed=11))
    assert errors["x"] < 1e-7


def test_conv1d_layer_equals_torch_conv1d():
    layer = rnp.Conv1d(3, 5, 4, stride=3, padding=2, rng=np.random.default_rng(1), dtype=F64)
    conv = nn.Conv1d(3, 5, 4, stride=3, padding=2, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(layer.params["w"]))
        conv.bias.copy_(torch.tensor(layer.params["b"]))
    x, g = _randn(4, 3, 17, seed=12), _randn(4, 5, 6, seed=13)
    xt = torch.tensor(x, requires_grad=True)
    out = conv(xt)
    out.backward(torch.tensor(g))
    assert _rel(layer.forward(x, training=True), out.detach().numpy()) < RTOL
    assert _rel(layer.backward(g), xt.grad.numpy()) < RTOL
    assert _rel(layer.grads["w"], conv.weight.grad.numpy()) < RTOL
    assert _rel(layer.grads["b"], conv.bias.grad.numpy()) < RTOL


def test_channels_last_layernorm_equals_torch_layernorm_on_the_transpose():
    layer = rnp.ChannelsLast(rnp.LayerNorm(6, eps=1e-3, dtype=F64))
    ln = nn.LayerNorm(6, eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-1, 1)
    layer.set_weights([ln.weight.detach().numpy(), ln.bias.detach().numpy()])
    x, g = _randn(5, 6, 9, seed=14), _randn(5, 6, 9, seed=15)
    xt = torch.tensor(x, requires_grad=True)
    out = ln(xt.transpose(1, 2)).transpose(1, 2)
    out.backward(torch.tensor(g))
    assert _rel(layer.forward(x, training=True), out.detach().numpy()) < RTOL
    assert _rel(layer.backward(g), xt.grad.numpy()) < RTOL
    assert _rel(layer.grads["gamma"], ln.weight.grad.numpy()) < RTOL
    assert _rel(layer.grads["beta"], ln.bias.grad.numpy()) < RTOL


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_on_sequences_equals_torch_batchnorm1d(training):
    layer = rnp.BatchNorm(4, dtype=F64)
    bn = nn.BatchNorm1d(4, dtype=torch.float64)
    with torch.no_grad():
        for t in (bn.weight, bn.bias, bn.running_mean):
            t.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    layer.gamma, layer.beta = bn.weight.detach().numpy(), bn.bias.detach().numpy()
    layer.running_mean, layer.running_var = bn.running_mean.numpy(), bn.running_var.numpy()
    bn.train(training)
    x, g = _randn(3, 4, 11, seed=16) * 2 + 1, _randn(3, 4, 11, seed=17)
    xt = torch.tensor(x, requires_grad=True)
    out = bn(xt)
    out.backward(torch.tensor(g))
    assert _rel(layer.forward(x, training=training), out.detach().numpy()) < RTOL
    assert _rel(layer.backward(g), xt.grad.numpy()) < RTOL
    assert _rel(layer.grads["gamma"], bn.weight.grad.numpy()) < RTOL
    assert _rel(layer.grads["beta"], bn.bias.grad.numpy()) < RTOL
    assert _rel(layer.running_mean, bn.running_mean.numpy()) < RTOL
    assert _rel(layer.running_var, bn.running_var.numpy()) < RTOL


def test_batchnorm_refuses_a_training_sequence_batch_of_one_value_per_channel():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        rnp.BatchNorm(3).forward(np.ones((1, 3, 1)), training=True)


def test_he_init_draws_normal_weights_of_variance_two_over_fan_in_and_zero_biases():
    conv = rnp.Conv1d(20, 300, 10, rng=np.random.default_rng(0), init="he")
    lin = rnp.Linear(200, 300, rng=np.random.default_rng(0), init="he")
    for w, fan_in in ((conv.params["w"], 200), (lin.params["W"], 200)):
        assert abs(w.std() / np.sqrt(2 / fan_in) - 1) < 0.01
        assert abs(w.mean()) < 0.01 * np.sqrt(2 / fan_in)
    assert not conv.params["b"].any() and not lin.params["b"].any()
    assert conv.params["w"].dtype == np.float32 and lin.params["b"].dtype == np.float32


def test_linear_default_init_is_unchanged_by_the_init_option():
    a = rnp.Linear(7, 3, rng=np.random.default_rng(5))
    b = rnp.Linear(7, 3, rng=np.random.default_rng(5), init="torch")
    rng, bound = np.random.default_rng(5), 1 / np.sqrt(7)
    np.testing.assert_array_equal(a.params["W"], rng.uniform(-bound, bound, (7, 3))
                                  .astype(np.float32))
    np.testing.assert_array_equal(a.params["b"], rng.uniform(-bound, bound, 3).astype(np.float32))
    np.testing.assert_array_equal(a.params["W"], b.params["W"])


def test_conv1d_default_init_is_torch_uniform_within_one_over_sqrt_fan_in():
    conv = rnp.Conv1d(10, 400, 5, rng=np.random.default_rng(0))
    bound = 1 / np.sqrt(50)
    w = conv.params["w"]
    assert w.shape == (400, 10, 5) and conv.params["b"].shape == (400,)
    assert np.abs(w).max() <= bound and np.abs(conv.params["b"]).max() <= bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound


def test_layers_follow_the_protocol():
    layers = [rnp.Conv1d(2, 3, 3, rng=np.random.default_rng(0)), rnp.LayerNorm(3),
              rnp.ChannelsLast(rnp.LayerNorm(3)), rnp.MaxPool1d(2), rnp.GlobalAvgPool1d(),
              rnp.Flatten(), rnp.AddChannel()]
    for layer in layers:
        assert {"params", "grads", "buffers"} <= set(dir(layer))
        assert layer.buffers == {}
    assert set(layers[0].params) == {"w", "b"} and set(layers[1].params) == {"gamma", "beta"}
    assert layers[2].params is layers[2].layer.params
    for layer in layers[3:]:
        assert layer.params == {}


def test_a_float64_layer_computes_in_float64_from_float32_input():
    x = _randn(2, 3, 8).astype(np.float32)
    conv = rnp.Conv1d(3, 2, 3, rng=np.random.default_rng(0), dtype=F64)
    ln = rnp.ChannelsLast(rnp.LayerNorm(3, dtype=F64))
    assert conv.forward(x, training=True).dtype == F64
    assert ln.forward(x, training=True).dtype == F64
    assert rnp.Conv1d(3, 2, 3, rng=np.random.default_rng(0)).forward(x, True).dtype == np.float32


def test_a_failed_forward_restores_the_layernorm_inside_channels_last():
    rng = np.random.default_rng(0)
    norm = rnp.LayerNorm(3, dtype=F64)
    model = rnp.Sequential([rnp.AddChannel(), rnp.Conv1d(1, 3, 3, rng=rng, dtype=F64),
                            rnp.ChannelsLast(norm), rnp.Flatten(),
                            rnp.Linear(3 * 8, 2, rng=rng, dtype=F64)])
    model.forward(_randn(4, 10), training=True)
    cache = norm.cache
    with pytest.raises(ValueError, match="n_in=24"):    # rows of 11 reach the head as 27
        model.forward(_randn(4, 11), training=True)
    assert norm.cache is cache


@pytest.mark.parametrize("make, x, error, match", [
    (lambda: rnp.Conv1d(2, 3, 3, rng=np.random.default_rng(0)), np.ones((2, 4, 5)),
     ValueError, "x has 4 channels .* c_in=2"),
    (lambda: rnp.Conv1d(2, 3, 3, rng=np.random.default_rng(0)), np.ones((2, 5)),
     ValueError, "x must be 3-dimensional"),
    (lambda: rnp.Conv1d(2, 3, 7, rng=np.random.default_rng(0)), np.ones((2, 2, 5)),
     ValueError, "kernel"),
    (lambda: rnp.LayerNorm(4), np.ones((2, 5)), ValueError, "\\(N, ..., 4\\)"),
    (lambda: rnp.LayerNorm(4), np.ones(4), ValueError, "\\(N, ..., 4\\)"),
    (lambda: rnp.ChannelsLast(rnp.LayerNorm(4)), np.ones((2, 4)), ValueError, "\\(N, C, L"),
    (lambda: rnp.AddChannel(5), np.ones((2, 6)), ValueError, "n_in=5"),
    (lambda: rnp.AddChannel(), np.ones((2, 1, 6)), ValueError, "2-dimensional"),
    (lambda: rnp.MaxPool1d(4), np.ones((2, 1, 3)), ValueError, "kernel_size=4"),
    (lambda: rnp.LayerNorm(4), np.full((2, 4), np.nan), ValueError, "finite"),
])
def test_layers_refuse_bad_input_and_keep_their_cache(make, x, error, match):
    layer = make()
    with pytest.raises(error, match=match):
        layer.forward(x, training=True)
    assert layer.cache is None


@pytest.mark.parametrize("make, error, match", [
    (lambda: rnp.Conv1d(0, 3, 3, rng=np.random.default_rng(0)), ValueError, "c_in must be"),
    (lambda: rnp.Conv1d(2, 3, True, rng=np.random.default_rng(0)), TypeError, "kernel_size"),
    (lambda: rnp.Conv1d(2, 3, 3, stride=0, rng=np.random.default_rng(0)), ValueError,
     "stride"),
    (lambda: rnp.Conv1d(2, 3, 3, rng=np.random.default_rng(0), init="xavier"), ValueError,
     "init must be one of"),
    (lambda: rnp.Conv1d(2, 3, 3, rng=0), TypeError, "rng must be a numpy.random.Generator"),
    (lambda: rnp.Linear(2, 3, rng=np.random.default_rng(0), init="He"), ValueError,
     "init must be one of"),
    (lambda: rnp.LayerNorm(0), ValueError, "num_features must be >= 1"),
    (lambda: rnp.LayerNorm(3, eps=0.0), ValueError, "eps must be in"),
    (lambda: rnp.LayerNorm(3, dtype="int8"), TypeError, "dtype must be a floating dtype"),
    (lambda: rnp.MaxPool1d(2, stride=0), ValueError, "stride must be >= 1"),
    (lambda: rnp.AddChannel(0), ValueError, "n_in must be >= 1"),
    (lambda: rnp.ChannelsLast("LayerNorm"), TypeError, "layer \\(str\\) lacks"),
])
def test_layer_constructors_reject_bad_arguments_by_name(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("layer", [
    rnp.Conv1d(1, 1, 1, rng=np.random.default_rng(0)), rnp.LayerNorm(2), rnp.Flatten(),
    rnp.ChannelsLast(rnp.LayerNorm(2)), rnp.MaxPool1d(1), rnp.GlobalAvgPool1d(),
    rnp.AddChannel()])
def test_forward_refuses_a_training_flag_that_is_not_a_bool(layer):
    with pytest.raises(TypeError, match="training must be a bool"):
        layer.forward(np.ones((2, 1, 2)), training="False")


@pytest.mark.parametrize("layer", [rnp.Conv1d(1, 1, 1, rng=np.random.default_rng(0)),
                                   rnp.LayerNorm(2), rnp.ChannelsLast(rnp.LayerNorm(2)),
                                   rnp.Flatten(), rnp.AddChannel()])
def test_backward_before_forward_is_an_error(layer):
    with pytest.raises((RuntimeError, TypeError), match="before forward|cache"):
        layer.backward(np.ones((2, 1, 2)))


def test_new_names_are_exported():
    for name in ("make_cnn", "Conv1d", "MaxPool1d", "GlobalAvgPool1d", "Flatten", "LayerNorm",
                 "AddChannel", "ChannelsLast"):
        assert name in rnp.__all__ and hasattr(rnp, name)
    from regbook.np.layers import make_mlp  # noqa: F401  (still importable from there)

    assert regbook.np.models.make_mlp is rnp.make_mlp
