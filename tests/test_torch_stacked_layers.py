"""The hand-written stacked PyTorch layers of fit_seeds against torch autograd, member by member.

Every check builds K ordinary float64 ``torch.nn`` members, stacks their parameters, runs the
stacked layer once for all K and compares its output and its gradients (for a random upstream
gradient, not all ones) with each member's own module differentiated by autograd.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import regbook.torch as rt  # noqa: E402
from regbook.torch import _stacked_layers as sl  # noqa: E402
from regbook.torch import stacked  # noqa: E402

nn = torch.nn
F = torch.nn.functional
DTYPE = torch.float64
#: Relative error bound (float64 on both sides).
TOL = 1e-10


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / max(1e-30, float(b.abs().max())))


def _assert_close(a, b, what: str) -> None:
    assert a.shape == b.shape, f"{what}: shape {tuple(a.shape)} != {tuple(b.shape)}"
    err = _rel_err(a, b)
    assert err <= TOL, f"{what}: relative error {err:.2e}"


def _stack(modules: list[nn.Module]) -> dict[str, torch.Tensor]:
    params, _ = torch.func.stack_module_state(modules)
    return params


# Conv1d cases: (C_in, C_out, k, stride, padding, L); the first ones take the im2col form
# (stride * C_in < 16), the others the grouped form; odd lengths, k < stride, k = stride,
# windows that leave input positions unread.
CONV_CASES = [
    (1, 4, 5, 2, 1, 40), (1, 3, 3, 1, 0, 9), (2, 5, 4, 3, 2, 17), (3, 2, 1, 1, 0, 7),
    (25, 25, 3, 2, 1, 19), (8, 6, 5, 2, 0, 23), (16, 4, 3, 1, 1, 11), (9, 7, 2, 3, 0, 14),
    (6, 5, 7, 3, 3, 20), (4, 3, 4, 4, 1, 13), (5, 4, 3, 5, 2, 21),
]


def _random_conv_cases(count: int) -> list[tuple[int, ...]]:
    """Random (C_in, C_out, k, stride, padding, L), both forms, every window inside the input."""
    rng = np.random.default_rng(13)
    cases = []
    while len(cases) < count:
        c_in, c_out = int(rng.integers(1, 20)), int(rng.integers(1, 9))
        k, s, p = int(rng.integers(1, 8)), int(rng.integers(1, 5)), int(rng.integers(0, 4))
        length = int(rng.integers(max(1, k - 2 * p), 30))
        if p < k and (length + 2 * p - k) >= 0:
            cases.append((c_in, c_out, k, s, p, length))
    return cases


@pytest.mark.parametrize("relu_input", [False, True], ids=["plain", "relu input"])
@pytest.mark.parametrize("case", CONV_CASES + _random_conv_cases(16),
                         ids=[str(c) for c in CONV_CASES + _random_conv_cases(16)])
def test_conv1d_forward_and_backward_match_autograd(case, relu_input):
    c_in, c_out, k, s, p, length = case
    n_models, n = 3, 4
    gen = torch.Generator().manual_seed(sum(case))
    members = [nn.Conv1d(c_in, c_out, k, stride=s, padding=p, dtype=DTYPE) for _ in range(3)]
    params = _stack(members)
    layer = sl._Conv1d(params["weight"], params["bias"], s, p)
    layer.relu_input = relu_input
    assert layer.grouped == (s * c_in >= sl._GROUPED_MIN_WIDTH)
    x = torch.randn(n_models, n, c_in, length, dtype=DTYPE, generator=gen, requires_grad=True)
    refs = [m(torch.relu(x[j]) if relu_input else x[j]) for j, m in enumerate(members)]
    dout = torch.randn((n_models,) + refs[0].shape, dtype=DTYPE, generator=gen)
    sum((r * d).sum() for r, d in zip(refs, dout)).backward()

    with torch.no_grad():                                  # as StackedNet runs its layers
        out = layer.forward(x.detach().transpose(2, 3), training=True)  # channels last
        dx = layer.backward(dout.transpose(2, 3).contiguous(), need_dx=True)
    _assert_close(out.transpose(2, 3), torch.stack([r.detach() for r in refs]), "output")
    _assert_close(dx.transpose(2, 3), x.grad, "input gradient")
    _assert_close(params["weight"].grad, torch.stack([m.weight.grad for m in members]),
                  "weight gradient")
    _assert_close(params["bias"].grad, torch.stack([m.bias.grad for m in members]),
                  "bias gradient")


def test_conv1d_reuses_its_buffers_without_stale_values():
    """A second forward/backward pass with other inputs gives the second pass's numbers."""
    members = [nn.Conv1d(8, 5, 3, stride=2, padding=1, dtype=DTYPE) for _ in range(2)]
    params = _stack(members)
    layer = sl._Conv1d(params["weight"], params["bias"], 2, 1)
    layer.relu_input = True
    for trial in range(2):
        x = torch.randn(2, 3, 8, 15, dtype=DTYPE) + trial
        with torch.no_grad():
            out = layer.forward(x.transpose(2, 3), training=True)
            ref = torch.stack([m(torch.relu(x[j])) for j, m in enumerate(members)])
            _assert_close(out.transpose(2, 3), ref, f"output, pass {trial}")
            layer.backward(torch.randn(out.shape, dtype=DTYPE), need_dx=True)


@pytest.mark.parametrize("relu_input", [False, True], ids=["plain", "relu input"])
def test_flatten_and_linear_match_autograd(relu_input):
    n_models, n, c, length, n_out = 3, 5, 4, 7, 6
    gen = torch.Generator().manual_seed(1)
    members = [nn.Linear(c * length, n_out, dtype=DTYPE) for _ in range(n_models)]
    params = _stack(members)
    flatten, linear = sl._Flatten(), sl._Linear(params["weight"], params["bias"])
    flatten.relu_input = relu_input
    x = torch.randn(n_models, n, c, length, dtype=DTYPE, generator=gen, requires_grad=True)
    refs = [m((torch.relu(x[j]) if relu_input else x[j]).flatten(1))
            for j, m in enumerate(members)]
    dout = torch.randn(n_models, n, n_out, dtype=DTYPE, generator=gen)
    sum((r * d).sum() for r, d in zip(refs, dout)).backward()

    with torch.no_grad():
        out = linear.forward(flatten.forward(x.detach().transpose(2, 3), True), True)
        dx = flatten.backward(linear.backward(dout, need_dx=True), need_dx=True)
    _assert_close(out, torch.stack([r.detach() for r in refs]), "output")
    _assert_close(dx.transpose(2, 3), x.grad, "input gradient")
    _assert_close(params["weight"].grad, torch.stack([m.weight.grad for m in members]),
                  "weight gradient")
    _assert_close(params["bias"].grad, torch.stack([m.bias.grad for m in members]),
                  "bias gradient")


NETS = {
    "default cnn": dict(),
    "cnn, odd length, stride 1": dict(n_inputs=23, channels=(6, 9), kernel_size=(4, 3),
                                      stride=1, padding=2),
    "cnn, stride 3, no padding": dict(n_inputs=61, channels=(7, 8, 5), kernel_size=(5, 4, 3),
                                      stride=3, padding=0),
}


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("settings", NETS.values(), ids=NETS.keys())
def test_stacked_net_matches_each_members_autograd(settings, label_smoothing):
    n_models, n = 3, 6
    members = [rt.make_cnn(seed=s, dtype="float64", **settings) for s in range(n_models)]
    params, buffers = torch.func.stack_module_state(members)
    net = sl.stacked_net(members[0], params, buffers)
    assert net is not None
    gen = torch.Generator().manual_seed(2)
    n_inputs = settings.get("n_inputs", 40)
    X = torch.randn(n_models, n, n_inputs, dtype=DTYPE, generator=gen)
    y = torch.randint(0, 10, (n_models, n), generator=gen)
    losses = [F.cross_entropy(m(X[j]), y[j], label_smoothing=label_smoothing)
              for j, m in enumerate(members)]
    sum(losses).backward()

    logits = net.forward(X, training=True)
    _assert_close(logits, torch.stack([m(X[j]).detach() for j, m in enumerate(members)]),
                  "logits")
    net.backward(sl.cross_entropy_grad(logits, y, label_smoothing))
    for name, p in params.items():
        ref = torch.stack([dict(m.named_parameters())[name].grad for m in members])
        _assert_close(p.grad, ref, f"gradient of {name}")
    scores = sl.loss_and_accuracy(net.forward(X[0].expand(n_models, -1, -1), False), y[0])
    for (loss, acc), m in zip(scores, members):
        z = m(X[0]).detach()
        assert loss == pytest.approx(F.cross_entropy(z, y[0]).item(), rel=TOL)
        assert acc == (z.argmax(dim=1) == y[0]).double().mean().item()


def test_mlp_is_stacked_and_matches_autograd():
    members = [rt.make_mlp(12, (7, 5), 4, seed=s, dtype="float64") for s in range(2)]
    params, buffers = torch.func.stack_module_state(members)
    net = sl.stacked_net(members[0], params, buffers)
    X = torch.randn(2, 9, 12, dtype=DTYPE)
    y = torch.randint(0, 4, (2, 9))
    sum(F.cross_entropy(m(X[j]), y[j]) for j, m in enumerate(members)).backward()
    net.backward(sl.cross_entropy_grad(net.forward(X, True), y))
    for name, p in params.items():
        ref = torch.stack([dict(m.named_parameters())[name].grad for m in members])
        _assert_close(p.grad, ref, f"gradient of {name}")


@pytest.mark.parametrize("model", [
    lambda: rt.make_cnn(dropout=0.2), lambda: rt.make_cnn(batchnorm=True),
    lambda: rt.make_cnn(layernorm=True), lambda: rt.make_mlp(40, (8,), 10, dropout=0.5),
    lambda: nn.Sequential(nn.Linear(40, 10), nn.Tanh(), nn.Linear(10, 10)),
    lambda: nn.Sequential(nn.Unflatten(1, (1, 40)), nn.Conv1d(1, 2, 3, dilation=2),
                          nn.Flatten(), nn.Linear(72, 10)),
    lambda: nn.Linear(40, 10),
], ids=["dropout", "batchnorm", "layernorm", "mlp dropout", "tanh", "dilation", "bare Linear"])
def test_unsupported_models_are_not_stacked(model):
    m = model()
    params, buffers = torch.func.stack_module_state([m])
    assert sl.stacked_net(m, params, buffers) is None


@pytest.fixture
def paths(monkeypatch):
    """Which training path fit_seeds took: the names of the functions called."""
    calls: list[str] = []
    for name in ("_train_stacked", "_train"):
        original = getattr(stacked, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(stacked, name, spy)
    return calls


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((33, 40)), rng.integers(0, 10, 33)


def test_fit_seeds_takes_the_fast_path_for_the_default_cnn(paths, data):
    rt.fit_seeds(lambda s: rt.make_cnn(seed=s), *data, seeds=[0, 1], epochs=1, batch_size=16)
    assert paths == ["_train_stacked"]


def test_fit_seeds_falls_back_to_vmap_for_dropout(paths, data):
    rt.fit_seeds(lambda s: rt.make_cnn(dropout=0.2, seed=s), *data, seeds=[0, 1], epochs=1,
                 batch_size=16)
    assert paths == ["_train"]


def test_fast_path_gives_the_same_numbers_twice_and_leaves_the_generator(data):
    state = torch.random.get_rng_state()
    runs = [rt.fit_seeds(lambda s: rt.make_cnn(seed=s, dtype="float64"), *data, seeds=[4, 5],
                         epochs=2, batch_size=8, lam1=1e-3) for _ in range(2)]
    assert torch.equal(torch.random.get_rng_state(), state)
    (models, histories), (again, again_histories) = runs
    for a, b, h, g in zip(models, again, histories, again_histories):
        for (name, t), u in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(t, u), name
        assert h.loss == g.loss and h.accuracy == g.accuracy
