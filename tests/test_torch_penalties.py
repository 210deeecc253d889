"""regbook.torch penalties, parameter groups and penalised training, against the NumPy versions."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import regbook.torch as rtorch  # noqa: E402
from regbook import convert  # noqa: E402
from regbook import np as rnp  # noqa: E402
from regbook.np.linear import lasso_objective, ridge  # noqa: E402


def _net():
    with torch.random.fork_rng(devices=[]):   # the global generator is restored afterwards
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3),
                             nn.LayerNorm(3)).double()


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 5))
    y = X @ np.array([1.5, -2.0, 0.0, 0.7, 0.0]) + 0.5 + 0.2 * rng.standard_normal(40)
    return X, y


# --- which parameters are penalised ----------------------------------------------------------

def test_split_keeps_only_linear_weights_for_decay():
    net = _net()
    decay, no_decay = rtorch.split_decay_params(net)
    assert [p is q for p, q in zip(decay, (net[0].weight, net[3].weight))] == [True, True]
    assert len(decay) == 2
    expected = {id(p) for p in (net[0].bias, net[1].weight, net[1].bias, net[3].bias,
                                net[4].weight, net[4].bias)}
    assert {id(p) for p in no_decay} == expected


def test_split_puts_every_normalization_layers_params_in_no_decay():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.GroupNorm(2, 4),
                            nn.InstanceNorm2d(4, affine=True), nn.Flatten(), nn.Linear(4, 6),
                            rtorch.BatchNorm(6), nn.Linear(6, 2, bias=False),
                            nn.Unflatten(1, (2, 1, 1)), nn.BatchNorm3d(2), nn.Flatten(),
                            nn.RMSNorm(2))
    decay, no_decay = rtorch.split_decay_params(net)
    assert [id(p) for p in decay] == [id(net[i].weight) for i in (0, 5, 7)]
    norms = [net[i] for i in (1, 2, 3, 9, 11)]
    expected = [net[0].bias, net[5].bias, net[6].gamma, net[6].beta]
    expected += [p for m in norms for p in m.parameters()]
    assert {id(p) for p in no_decay} == {id(p) for p in expected}
    assert len(no_decay) == len(expected)


def test_norm_layers_are_public_classes_only():
    from regbook.torch.penalties import NORM_LAYERS
    for cls in NORM_LAYERS:
        assert getattr(nn, cls.__name__, None) is cls or getattr(rtorch, cls.__name__) is cls


def test_param_groups_really_exclude_biases_and_norm_params_from_weight_decay():
    """One SGD step with zero gradients: only the weights shrink, by (1 - lr * wd)."""
    net = _net()
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    opt = torch.optim.SGD(rtorch.param_groups(net, 0.5), lr=0.1)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for name, p in net.named_parameters():
        factor = 0.95 if name in ("0.weight", "3.weight") else 1.0
        torch.testing.assert_close(p.detach(), factor * before[name], rtol=0, atol=1e-15)


def test_plain_weight_decay_would_touch_biases_too():
    net = _net()
    bias = net[0].bias.detach().clone()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, weight_decay=0.5)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    torch.testing.assert_close(net[0].bias.detach(), 0.95 * bias)


def test_param_groups_drop_an_empty_group():
    groups = rtorch.param_groups(nn.Linear(3, 2, bias=False), 0.1)
    assert len(groups) == 1 and groups[0]["weight_decay"] == 0.1


# --- penalties equal the NumPy ones ----------------------------------------------------------

@pytest.mark.parametrize("lam", [0.0, 0.3, 2.0])
def test_penalties_over_a_model_equal_numpy_over_its_weights(lam):
    net = _net()
    weights = [net[0].weight.detach().numpy(), net[3].weight.detach().numpy()]
    l1 = rtorch.l1_penalty(net, lam)
    l2 = rtorch.l2_penalty(net, lam)
    assert l1.item() == pytest.approx(sum(rnp.l1_penalty(w, lam) for w in weights), rel=1e-14)
    assert l2.item() == pytest.approx(sum(rnp.l2_penalty(w, lam) for w in weights), rel=1e-14)


def test_penalty_gradients_are_the_numpy_gradients_and_spare_the_bias():
    net = _net()
    lam1, lam2 = 0.3, 0.7
    (rtorch.l1_penalty(net, lam1) + rtorch.l2_penalty(net, lam2)).backward()
    for layer in (net[0], net[3]):
        w = layer.weight.detach().numpy()
        np.testing.assert_allclose(layer.weight.grad.numpy(),
                                   rnp.l1_grad(w, lam1) + rnp.l2_grad(w, lam2), rtol=1e-14)
        assert layer.bias.grad is None
    assert net[1].weight.grad is None


def test_penalty_accepts_a_tensor_or_a_list_of_tensors():
    w = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    assert rtorch.l2_penalty(w, 0.2).item() == pytest.approx(rnp.l2_penalty(w.numpy(), 0.2))
    assert rtorch.l1_penalty([w, w], 0.5).item() == pytest.approx(6.0)
    assert rtorch.l1_penalty(weights=(t for t in [w]), lam=0.5).item() == pytest.approx(3.0)
    assert rtorch.l1_penalty(nn.ReLU(), 1.0).item() == 0.0


# --- training: SGD weight decay = gradient descent on the L2 objective -----------------------

def test_one_sgd_step_with_weight_decay_equals_one_numpy_gradient_step(regression):
    X, y = regression
    lam, lr = 0.4, 0.1
    coef0 = np.linspace(-1, 1, 5)
    _, path = rtorch.fit_linear(X, y, coef_init=coef0, intercept_init=0.2, lr=lr, epochs=1,
                                weight_decay=convert.torch_weight_decay(lam))
    r = X @ coef0 + 0.2 - y
    coef1 = coef0 - lr * (X.T @ r / len(y) + rnp.l2_grad(coef0, lam))
    np.testing.assert_allclose(path.coefs[1], coef1, rtol=0, atol=1e-14)
    assert path.intercepts[1] == pytest.approx(0.2 - lr * r.mean(), abs=1e-14)


def test_many_sgd_steps_with_weight_decay_equal_numpy_gradient_descent_and_reach_ridge(regression):
    X, y = regression
    lam, lr, steps = 0.4, 0.2, 300
    _, path = rtorch.fit_linear(X, y, lr=lr, epochs=steps, weight_decay=lam)
    coef, b = np.zeros(5), 0.0
    for t in range(1, steps + 1):
        r = X @ coef + b - y
        coef, b = coef - lr * (X.T @ r / len(y) + rnp.l2_grad(coef, lam)), b - lr * r.mean()
        if t in (1, 10, steps):
            np.testing.assert_allclose(path.coefs[t], coef, rtol=0, atol=1e-12)
    ridge_coef, ridge_b = ridge(X, y, lam)
    np.testing.assert_allclose(path.coefs[-1], ridge_coef, atol=1e-8)
    assert path.intercepts[-1] == pytest.approx(ridge_b, abs=1e-8)


def test_sgd_weight_decay_path_equals_the_numpy_gradient_descent_fitter(regression):
    X, y = regression
    numpy_path = rnp.gradient_descent(X, y, lam2=0.3, lr=0.15, n_steps=60)
    _, torch_path = rtorch.fit_linear(X, y, lr=0.15, epochs=60,
                                      weight_decay=convert.torch_weight_decay(0.3))
    np.testing.assert_allclose(torch_path.coefs, numpy_path.coefs, rtol=0, atol=1e-13)
    np.testing.assert_allclose(torch_path.intercepts, numpy_path.intercepts, rtol=0, atol=1e-13)
    # weight_decay is the optimizer's knob, so the recorded objective has no penalty term.
    penalty = np.array([rnp.l2_penalty(c, 0.3) for c in torch_path.coefs])
    np.testing.assert_allclose(torch_path.losses + penalty, numpy_path.losses, rtol=1e-13)


def test_l2_penalty_and_sgd_weight_decay_give_the_same_trajectory(regression):
    X, y = regression
    _, penalty = rtorch.fit_linear(X, y, lr=0.1, epochs=30, lam2=0.5, batch_size=16,
                                   shuffle=True)
    _, decay = rtorch.fit_linear(X, y, lr=0.1, epochs=30, weight_decay=0.5, batch_size=16,
                                 shuffle=True)
    np.testing.assert_allclose(penalty.coefs, decay.coefs, rtol=0, atol=1e-14)


def test_adam_l2_penalty_and_adam_weight_decay_agree_but_adamw_differs(regression):
    X, y = regression
    kw = dict(optimizer="adam", lr=0.05, epochs=40)
    _, penalty = rtorch.fit_linear(X, y, lam2=0.5, **kw)
    _, coupled = rtorch.fit_linear(X, y, weight_decay=0.5, **kw)
    _, adamw = rtorch.fit_linear(X, y, **dict(kw, optimizer="adamw"), weight_decay=0.5)
    np.testing.assert_allclose(penalty.coefs, coupled.coefs, rtol=0, atol=1e-12)
    assert np.abs(adamw.coefs - coupled.coefs).max() > 1e-2


def test_recorded_objective_is_the_book_objective_and_decreases(regression):
    X, y = regression
    model, path = rtorch.fit_linear(X, y, lr=0.1, epochs=50, lam1=0.05, lam2=0.2)
    coef = model.weight.detach().numpy().ravel()
    b = float(model.bias.detach())
    assert path.losses[-1] == pytest.approx(lasso_objective(X, y, coef, b, 0.05, 0.2),
                                                  rel=1e-12)
    assert np.all(np.diff(path.losses) < 0)


def test_fit_penalized_trains_an_mlp_classifier_and_is_repeatable():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    runs, threads = [], torch.get_num_threads()
    torch.set_num_threads(1)            # tiny model: one thread is faster on a busy machine
    try:
        for _ in range(2):
            model = rtorch.make_mlp(4, hidden=(8,), n_classes=2, seed=0)
            runs.append(rtorch.fit_penalized(model, X, y, loss="cross_entropy",
                                             optimizer="adamw", lr=0.05, weight_decay=0.01,
                                             lam2=1e-3, epochs=20, batch_size=16, shuffle=True,
                                             seed=3))
    finally:
        torch.set_num_threads(threads)
    assert runs[0] == runs[1]
    assert runs[0]["objective"][-1] < 0.5 * runs[0]["objective"][0]


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, match", [
    (lambda: rtorch.l2_penalty(_net(), -0.1), ValueError, "lam"),
    (lambda: rtorch.l1_penalty(_net(), float("inf")), ValueError, "lam"),
    (lambda: rtorch.l1_penalty("weights", 0.1), TypeError, "weights must be"),
    (lambda: rtorch.l1_penalty(np.ones(3), 0.1), TypeError,
     "weights must be torch tensors, got a numpy.ndarray; convert with torch.from_numpy"),
    (lambda: rtorch.l2_penalty([torch.ones(2), np.ones(2)], 0.1), TypeError,
     r"weights\[1\] must be a torch.Tensor"),
    (lambda: rtorch.l2_penalty([], 0.1), ValueError, "weights must not be empty"),
    (lambda: rtorch.split_decay_params(np.ones(3)), TypeError, "model"),
    (lambda: rtorch.param_groups(_net(), -1.0), ValueError, "weight_decay"),
    (lambda: rtorch.make_linear(0), ValueError, "n_features"),
    (lambda: rtorch.make_linear(3, coef=np.ones(2)), ValueError, "coef"),
])
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(optimizer="rmsprop"), ValueError, "optimizer"),
    (dict(loss="hinge"), ValueError, "loss"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(lam1=-1.0), ValueError, "lam1"),
    (dict(lam2=float("nan")), ValueError, "lam2"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay"),
    (dict(momentum=0.5, optimizer="adam"), ValueError, "momentum"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(eps=0.0, optimizer="adam"), ValueError, "eps"),
    (dict(shuffle=1), TypeError, "shuffle"),
    (dict(y=np.ones(3)), ValueError, "lengths differ"),
    (dict(X=np.ones(5)), ValueError, "X must be 2-dimensional"),
    (dict(record_weights="yes"), TypeError, "record_weights"),
])
def test_fit_penalized_rejects_bad_arguments(kwargs, error, match, regression):
    X, y = regression
    args = dict(X=X, y=y)
    args.update({k: kwargs.pop(k) for k in ("X", "y") if k in kwargs})
    model = rtorch.make_linear(5)
    before = model.weight.detach().clone()
    with pytest.raises(error, match=match):
        rtorch.fit_penalized(model, args["X"], args["y"], **kwargs)
    assert torch.equal(model.weight.detach(), before)   # nothing half-updated
