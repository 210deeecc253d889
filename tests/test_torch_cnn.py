"""regbook.torch's LayerNorm and make_cnn: the layer vs nn.LayerNorm, the network, its checks."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from regbook import data

torch = pytest.importorskip("torch")
rtorch = pytest.importorskip("regbook.torch")
nn = torch.nn
from regbook.torch.layernorm import ChannelLayerNorm  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: The MNIST-1D paper's ConvBase (github.com/greydanus/mnist1d, models.py) has this many
#: parameters: conv 1 -> 25 (kernel 5), two convs 25 -> 25 (kernel 3), Linear(125, 10).
CONVBASE_PARAMETERS = 25 * 1 * 5 + 25 + 2 * (25 * 25 * 3 + 25) + 125 * 10 + 10


def _kinds(model):
    return [type(m).__name__ for m in model]


def _conv_linear_weights(model):
    return [t.detach().clone() for m in model if isinstance(m, (nn.Conv1d, nn.Linear))
            for t in (m.weight, m.bias)]


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


# --- LayerNorm ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(7, 5), (3, 6, 4), (2, 3, 4, 9), (4, 2)])
def test_layernorm_equals_torch_layernorm_forward_and_backward(shape):
    g = torch.Generator().manual_seed(sum(shape))
    d = shape[-1]
    x = (3 * torch.randn(shape, generator=g, dtype=torch.float64) + 1).requires_grad_()
    dout = torch.randn(shape, generator=g, dtype=torch.float64)  # random upstream gradient
    gamma = torch.randn(d, generator=g, dtype=torch.float64)
    beta = torch.randn(d, generator=g, dtype=torch.float64)
    ours = rtorch.LayerNorm(d, eps=1e-3, dtype=torch.float64)
    gold = nn.LayerNorm(d, eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        ours.gamma.copy_(gamma), ours.beta.copy_(beta)
        gold.weight.copy_(gamma), gold.bias.copy_(beta)
    results = []
    for layer, (w, b) in ((ours, (ours.gamma, ours.beta)), (gold, (gold.weight, gold.bias))):
        out = layer(x)
        grads = torch.autograd.grad(out, (x, w, b), dout)
        results.append((out.detach(), *grads))
    for name, a, b in zip(("out", "dx", "dgamma", "dbeta"), *results, strict=True):
        assert a.shape == b.shape, name
        assert _rel(a, b) <= 1e-12, (shape, name, _rel(a, b))


def test_layernorm_of_one_feature_outputs_beta():
    x = torch.randn(4, 1, dtype=torch.float64, requires_grad=True)
    layer = rtorch.LayerNorm(1, dtype=torch.float64)
    with torch.no_grad():
        layer.beta.fill_(0.7)
    out = layer(x)
    assert torch.equal(out.detach(), torch.full((4, 1), 0.7, dtype=torch.float64))
    (dx,) = torch.autograd.grad(out, x, torch.randn(4, 1, dtype=torch.float64))
    assert torch.equal(dx, torch.zeros_like(dx))


def test_layernorm_is_the_same_in_training_and_evaluation_mode():
    x = torch.randn(4, 6, dtype=torch.float64)
    layer = rtorch.LayerNorm(6, dtype=torch.float64)
    train_out = layer(x)
    layer.eval()
    assert torch.equal(layer(x), train_out)


def test_layernorm_parameters_and_default_dtype():
    layer = rtorch.LayerNorm(3)
    assert [name for name, _ in layer.named_parameters()] == ["gamma", "beta"]
    assert torch.equal(layer.gamma, torch.ones(3)) and torch.equal(layer.beta, torch.zeros(3))
    assert layer.gamma.dtype == torch.float32
    assert "eps" in repr(layer)


def test_layernorm_refuses_a_numpy_array():
    with pytest.raises(TypeError, match="torch.from_numpy"):
        rtorch.LayerNorm(3)(np.ones((2, 3), dtype=np.float32))


def test_layernorm_refuses_a_wrong_last_axis():
    with pytest.raises(ValueError, match="last axis has 3 features"):
        rtorch.LayerNorm(3)(torch.ones(2, 4))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_features=0), ValueError, "num_features"),
    (dict(num_features=2.0), TypeError, "num_features"),
    (dict(num_features=2, eps=0.0), ValueError, "eps"),
    (dict(num_features=2, eps="1e-5"), TypeError, "eps"),
])
def test_layernorm_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        rtorch.LayerNorm(**kwargs)


def test_channel_layernorm_normalises_the_channels_at_each_position():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 5, 7, generator=g, dtype=torch.float64, requires_grad=True)
    dout = torch.randn(3, 5, 7, generator=g, dtype=torch.float64)
    ours = ChannelLayerNorm(5, dtype=torch.float64)
    gold = nn.LayerNorm(5, dtype=torch.float64)
    with torch.no_grad():
        ours.norm.gamma.normal_(generator=g)
        ours.norm.beta.normal_(generator=g)
        gold.weight.copy_(ours.norm.gamma)
        gold.bias.copy_(ours.norm.beta)
    out = ours(x)
    want = gold(x.transpose(1, 2)).transpose(1, 2)
    assert _rel(out.detach(), want.detach()) <= 1e-12
    (dx,) = torch.autograd.grad(out, x, dout)
    (dx_gold,) = torch.autograd.grad(want, x, dout)
    assert _rel(dx, dx_gold) <= 1e-12
    with pytest.raises(ValueError, match=r"\(N, 5, L\)"):
        ours(torch.ones(3, 7, 5, dtype=torch.float64))


# --- make_cnn: the architecture -----------------------------------------------------------

class _ConvBase(nn.Module):
    """The paper's model as its repository writes it (mnist1d/models.py, ConvBase)."""

    def __init__(self, output_size=10, channels=25, linear_in=125):
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.linear = nn.Linear(linear_in, output_size)

    def forward(self, x):
        x = x.view(-1, 1, x.shape[-1])
        h = self.conv3(self.conv2(self.conv1(x).relu()).relu()).relu()
        return self.linear(h.view(h.shape[0], -1))


def test_make_cnn_defaults_are_the_papers_convbase():
    model = rtorch.make_cnn()
    assert sum(p.numel() for p in model.parameters()) == CONVBASE_PARAMETERS == 5210
    convs = [m for m in model if isinstance(m, nn.Conv1d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding)
            for m in convs] == [(1, 25, (5,), (2,), (1,)), (25, 25, (3,), (2,), (1,)),
                                (25, 25, (3,), (2,), (1,))]
    assert (model[-1].in_features, model[-1].out_features) == (125, 10)


def test_make_cnn_draws_the_same_weights_and_logits_as_convbase_from_a_seed():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        gold = _ConvBase()
    model = rtorch.make_cnn(seed=5)
    gold_weights = [t for m in (gold.conv1, gold.conv2, gold.conv3, gold.linear)
                    for t in (m.weight, m.bias)]
    for a, b in zip(_conv_linear_weights(model), gold_weights, strict=True):
        assert torch.equal(a, b)
    x = torch.randn(6, 40, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model(x), gold(x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("n_inputs, kwargs, lengths", [
    (40, {}, [19, 10, 5]),
    (41, dict(channels=(4, 6), kernel_size=3, stride=1, padding=0), [39, 37]),
    (17, dict(channels=(3,), kernel_size=(4,), stride=3, padding=2), [6]),
])
def test_make_cnn_shapes(n_inputs, kwargs, lengths):
    model = rtorch.make_cnn(n_inputs, 7, **kwargs)
    x = torch.randn(5, n_inputs)
    h = x
    seen = []
    for layer in model:
        h = layer(h)
        if isinstance(layer, nn.Conv1d):
            seen.append(h.shape[2])
    assert seen == lengths
    assert model(x).shape == (5, 7)
    widths = kwargs.get("channels", (25, 25, 25))
    assert model[-1].in_features == widths[-1] * lengths[-1]


@pytest.mark.parametrize("kwargs, block", [
    ({}, ["Conv1d", "ReLU"]),
    (dict(dropout=0.2), ["Conv1d", "ReLU", "Dropout"]),
    (dict(batchnorm=True), ["Conv1d", "BatchNorm1d", "ReLU"]),
    (dict(layernorm=True), ["Conv1d", "ChannelLayerNorm", "ReLU"]),
    (dict(batchnorm=True, dropout=0.2), ["Conv1d", "BatchNorm1d", "ReLU", "Dropout"]),
    (dict(layernorm=True, dropout=0.2), ["Conv1d", "ChannelLayerNorm", "ReLU", "Dropout"]),
])
def test_make_cnn_layer_order(kwargs, block):
    model = rtorch.make_cnn(40, 10, channels=(4, 6), kernel_size=(5, 3), **kwargs)
    assert _kinds(model) == ["Unflatten"] + 2 * block + ["Flatten", "Linear"]
    assert tuple(model[0].unflattened_size) == (1, 40)
    assert all(m.p == 0.2 for m in model if isinstance(m, nn.Dropout))
    norms = [m for m in model if isinstance(m, (nn.BatchNorm1d, ChannelLayerNorm))]
    sizes = [m.num_features if isinstance(m, nn.BatchNorm1d) else m.norm.num_features
             for m in norms]
    assert sizes == ([4, 6] if norms else [])
    assert all(isinstance(m.norm, rtorch.LayerNorm) for m in norms
               if isinstance(m, ChannelLayerNorm))


def test_make_cnn_float64_and_torch_dtype():
    for dtype in ("float64", torch.float64, np.float64):
        model = rtorch.make_cnn(dtype=dtype, layernorm=True)
        assert {p.dtype for p in model.parameters()} == {torch.float64}
    bn = rtorch.make_cnn(dtype="float64", batchnorm=True)
    assert {b.dtype for b in bn.buffers() if b.is_floating_point()} == {torch.float64}


def test_make_cnn_leaves_the_global_generator_untouched():
    state = torch.random.get_rng_state()
    rtorch.make_cnn(seed=3, dropout=0.1, layernorm=True)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_make_cnn_same_seed_same_weights_other_seed_other_weights():
    a = _conv_linear_weights(rtorch.make_cnn(seed=11))
    b = _conv_linear_weights(rtorch.make_cnn(seed=11))
    c = _conv_linear_weights(rtorch.make_cnn(seed=12))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not any(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_make_cnn_weights_do_not_depend_on_dropout_or_normalization():
    plain = _conv_linear_weights(rtorch.make_cnn(seed=7))
    for kwargs in (dict(dropout=0.5), dict(batchnorm=True), dict(layernorm=True),
                   dict(dropout=0.2, batchnorm=True), dict(dropout=0.2, layernorm=True)):
        other = _conv_linear_weights(rtorch.make_cnn(seed=7, **kwargs))
        for a, b in zip(plain, other, strict=True):
            assert torch.equal(a, b), kwargs


def test_make_cnn_decay_split_penalises_kernels_only():
    model = rtorch.make_cnn(channels=(4, 6), kernel_size=(5, 3), layernorm=True)
    decay, no_decay = rtorch.split_decay_params(model)
    kernels = [m.weight for m in model if isinstance(m, (nn.Conv1d, nn.Linear))]
    assert [id(p) for p in decay] == [id(p) for p in kernels]
    norm_params = [p for m in model if isinstance(m, ChannelLayerNorm)
                   for p in (m.norm.gamma, m.norm.beta)]
    assert {id(p) for p in norm_params} <= {id(p) for p in no_decay}
    assert len(decay) + len(no_decay) == len(list(model.parameters()))
    want = 0.5 * 0.3 * sum(k.pow(2).sum() for k in kernels)
    torch.testing.assert_close(rtorch.l2_penalty(model, 0.3), want)


# --- make_cnn: bad input ------------------------------------------------------------------

@pytest.mark.parametrize("args, kwargs, error, match", [
    ((2,), {}, ValueError, r"n_inputs=2 is too short .* block 0"),
    ((6,), dict(channels=(3, 3), kernel_size=(3, 5), padding=0), ValueError,
     r"n_inputs=6 is too short .* block 1 gets length 2"),
    ((0,), {}, ValueError, "n_inputs"),
    ((40.0,), {}, TypeError, "n_inputs"),
    ((40, 1), {}, ValueError, "n_classes"),
    ((), dict(channels=(25, 25)), ValueError, "channels and kernel_size"),
    ((), dict(kernel_size=(5, 3)), ValueError, "channels and kernel_size"),
    ((), dict(channels=25), TypeError, r"channels must be a sequence"),
    ((), dict(channels="25"), TypeError, r"channels must be a sequence"),
    ((), dict(channels=()), ValueError, "channels"),
    ((), dict(channels=(25, 0, 25)), ValueError, r"channels\[1\]"),
    ((), dict(kernel_size=(5, 3.0, 3)), TypeError, r"kernel_size\[1\]"),
    ((), dict(kernel_size="5"), TypeError, "kernel_size must be a sequence"),
    ((), dict(kernel_size=0), ValueError, "kernel_size"),
    ((), dict(kernel_size=True), TypeError, "kernel_size"),
    ((), dict(stride=0), ValueError, "stride"),
    ((), dict(stride=(2, 2, 2)), TypeError, "stride"),
    ((), dict(padding=-1), ValueError, "padding"),
    ((), dict(dropout=1.0), ValueError, "dropout"),
    ((), dict(batchnorm=1), TypeError, "batchnorm"),
    ((), dict(layernorm="yes"), TypeError, "layernorm"),
    ((), dict(batchnorm=True, layernorm=True), ValueError, "batchnorm and layernorm"),
    ((), dict(seed=-1), ValueError, "seed"),
    ((), dict(dtype="float16"), ValueError, "dtype"),
])
def test_make_cnn_rejects_bad_arguments(args, kwargs, error, match):
    state = torch.random.get_rng_state()
    with pytest.raises(error, match=match):
        rtorch.make_cnn(*args, **kwargs)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_make_cnn_accepts_an_int_kernel_size_for_every_block():
    model = rtorch.make_cnn(kernel_size=3)
    assert [m.kernel_size for m in model if isinstance(m, nn.Conv1d)] == [(3,)] * 3


# --- make_cnn with the shared training loop -----------------------------------------------

@pytest.fixture(scope="module")
def mnist1d_500():
    split = data.mnist1d()
    return split.X_train[:500].astype(np.float32), split.y_train[:500]


def test_fit_classifier_trains_the_cnn_on_mnist1d(mnist1d_500):
    X, y = mnist1d_500
    model = rtorch.make_cnn(seed=0)
    before = rtorch.evaluate_classifier(model, X, y)[1]
    history = rtorch.fit_classifier(model, X, y, lr=1e-2, batch_size=100, epochs=10, seed=0)
    loss, acc = rtorch.evaluate_classifier(model, X, y)
    assert before < 0.2
    assert acc > 0.5, history["accuracy"]  # chance is 0.1
    assert acc == pytest.approx(history["accuracy"][-1])
    assert loss == pytest.approx(history["loss"][-1], rel=1e-6)
    logits = rtorch.predict_logits(model, X)
    assert logits.shape == (500, 10) and logits.dtype == np.float32
    assert np.mean(logits.argmax(1) == y) == pytest.approx(acc)


def test_fit_classifier_one_sgd_step_on_a_cnn_equals_the_hand_written_step():
    """lam2 reaches the conv and linear kernels only; biases and norm gamma/beta are free."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 20)), rng.integers(0, 4, 12)
    for kwargs in ({}, dict(batchnorm=True), dict(layernorm=True)):
        model = rtorch.make_cnn(20, 4, channels=(3, 5), kernel_size=(4, 3), seed=1,
                                dtype="float64", **kwargs)
        with torch.no_grad():  # move gamma/beta off 1/0 so a wrong penalty would show
            for m in model.modules():
                if isinstance(m, (nn.BatchNorm1d, rtorch.LayerNorm)):
                    for p in m.parameters():
                        p.add_(0.1 * torch.randn(p.shape, dtype=p.dtype))
        twin = copy.deepcopy(model)
        rtorch.fit_classifier(model, X, y, optimizer="sgd", lr=0.1, momentum=0.9, lam2=0.05,
                              epochs=1, batch_size=len(X), seed=0)
        kernels = [m.weight for m in twin if isinstance(m, (nn.Conv1d, nn.Linear))]
        logits = twin(torch.from_numpy(X))
        loss = nn.functional.cross_entropy(logits, torch.from_numpy(y))
        loss = loss + 0.05 / 2 * sum(k.pow(2).sum() for k in kernels)
        names, params = zip(*twin.named_parameters())
        grads = torch.autograd.grad(loss, params)
        for name, p, start, g in zip(names, model.parameters(), params, grads, strict=True):
            # the first momentum step is a plain gradient step
            assert _rel(p.detach(), start.detach() - 0.1 * g) <= 1e-12, (kwargs, name)


def test_fit_classifier_names_x_train_for_a_cnn_with_the_wrong_length(mnist1d_500):
    X, y = mnist1d_500
    model = rtorch.make_cnn()
    with pytest.raises(ValueError, match=r"X_train has 30 features but the model expects 40"):
        rtorch.fit_classifier(model, X[:, :30], y, epochs=1)
    with pytest.raises(ValueError, match=r"X has 39 features but the model expects 40"):
        rtorch.predict_logits(model, X[:, :39])


def test_split_decay_params_leaves_layernorm_parameters_undecayed():
    model = nn.Sequential(nn.Linear(3, 4), rtorch.LayerNorm(4), nn.Linear(4, 2))
    decay, no_decay = rtorch.split_decay_params(model)
    assert [id(p) for p in decay] == [id(model[0].weight), id(model[2].weight)]
    assert [id(p) for p in no_decay] == [id(p) for p in (model[0].bias, model[1].gamma,
                                                         model[1].beta, model[2].bias)]


def test_fit_classifier_names_x_train_for_a_wrapped_cnn_with_the_wrong_length(mnist1d_500):
    class Wrapped(nn.Module):  # not a Sequential: the one-example forward finds the mismatch
        def __init__(self):
            super().__init__()
            self.net = rtorch.make_cnn()

        def forward(self, x):
            return self.net(x)

    X, y = mnist1d_500
    with pytest.raises(ValueError, match="X_train has 30 features, which the model cannot take"):
        rtorch.fit_classifier(Wrapped(), X[:, :30], y, epochs=1)
