"""regbook.np network toolkit: layers, loss, Sequential, optimizers and the training loop."""

import numpy as np
import pytest

import regbook
from regbook import data
from regbook import np as rnp

F64 = np.float64


def _randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _check_layer_grads(layer, x, dout, training=True, before_forward=lambda: None):
    """Finite-difference check of d(sum(out * dout)) w.r.t. x and every parameter."""
    def f(_):
        before_forward()
        return float(np.sum(layer.forward(x, training=training) * dout))

    before_forward()
    layer.forward(x, training=training)
    dx = layer.backward(dout)
    errors = {"x": rnp.rel_error(dx, rnp.numerical_gradient(f, x))}
    for name, p in layer.params.items():
        errors[name] = rnp.rel_error(layer.grads[name], rnp.numerical_gradient(f, p))
    return errors


# --- layers -----------------------------------------------------------------------------------

def test_linear_computes_x_w_plus_b():
    layer = rnp.Linear(4, 3, rng=np.random.default_rng(0), dtype=F64)
    x = _randn(5, 4)
    np.testing.assert_allclose(layer.forward(x, training=True),
                               x @ layer.params["W"] + layer.params["b"], rtol=1e-15)


def test_linear_init_is_torch_default_uniform_within_one_over_sqrt_fan_in():
    layer = rnp.Linear(400, 300, rng=np.random.default_rng(0))
    bound = 1 / np.sqrt(400)
    W = layer.params["W"]
    assert W.dtype == np.float32 and W.shape == (400, 300)
    assert np.abs(W).max() <= bound and np.abs(layer.params["b"]).max() <= bound
    assert abs(W.std() - bound / np.sqrt(3)) < 0.01 * bound      # std of U(-a, a) is a/sqrt(3)


def test_linear_init_is_reproducible_from_the_generator():
    a = rnp.Linear(5, 4, rng=np.random.default_rng(3))
    b = rnp.Linear(5, 4, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.params["W"], b.params["W"])


def test_linear_backward_matches_finite_differences():
    layer = rnp.Linear(6, 4, rng=np.random.default_rng(1), dtype=F64)
    errors = _check_layer_grads(layer, _randn(5, 6, seed=2), _randn(5, 4, seed=3))
    assert max(errors.values()) < 1e-7, errors


def test_relu_backward_matches_finite_differences_away_from_zero():
    x = _randn(7, 5, seed=4)
    x[np.abs(x) < 0.1] = 0.5                    # keep every point away from the kink
    errors = _check_layer_grads(rnp.ReLU(), x, _randn(7, 5, seed=5))
    assert errors["x"] < 1e-7


def test_dropout_layer_backward_matches_finite_differences_with_a_fixed_mask():
    layer = rnp.Dropout(0.4, rng=np.random.default_rng(0))

    def reseed():                               # the same mask at every forward pass
        layer.rng = np.random.default_rng(9)

    errors = _check_layer_grads(layer, _randn(6, 5, seed=6), _randn(6, 5, seed=7),
                                before_forward=reseed)
    assert errors["x"] < 1e-7
    assert 0 < layer.cache["mask"].sum() < 30   # the check did drop some units


def test_dropout_layer_draws_a_new_mask_each_training_pass_and_none_in_evaluation():
    layer = rnp.Dropout(0.5, rng=np.random.default_rng(0))
    x = np.ones((20, 20))
    assert not np.array_equal(layer.forward(x, training=True), layer.forward(x, training=True))
    np.testing.assert_array_equal(layer.forward(x, training=False), x)


def test_layers_without_parameters_have_empty_dicts():
    for layer in (rnp.ReLU(), rnp.Dropout(0.1, rng=np.random.default_rng(0))):
        assert layer.params == {} and layer.grads == {} and layer.buffers == {}


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="before forward"):
        rnp.Linear(2, 2, rng=np.random.default_rng(0)).backward(np.ones((1, 2)))


# --- loss -------------------------------------------------------------------------------------

def test_softmax_cross_entropy_gradient_matches_finite_differences():
    logits, y = _randn(8, 5, seed=8), np.array([0, 1, 2, 3, 4, 0, 1, 2])
    loss, dlogits = rnp.softmax_cross_entropy(logits, y)
    numeric = rnp.numerical_gradient(lambda z: rnp.softmax_cross_entropy(z, y)[0], logits)
    assert rnp.rel_error(dlogits, numeric) < 1e-7


def test_softmax_cross_entropy_is_log_k_for_equal_logits():
    loss, _ = rnp.softmax_cross_entropy(np.zeros((4, 10)), np.array([0, 3, 5, 9]))
    assert loss == pytest.approx(np.log(10), rel=1e-15)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]])
    loss, dlogits = rnp.softmax_cross_entropy(logits, np.array([1, 2]))
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert loss == pytest.approx((1e4 + np.log(2)) / 2, rel=1e-12)


def test_softmax_cross_entropy_equals_the_definition():
    logits, y = _randn(6, 4, seed=9), np.array([3, 2, 1, 0, 1, 2])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loss, _ = rnp.softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(-np.log(probs[np.arange(6), y]).mean(), rel=1e-12)


@pytest.mark.parametrize("y, error, match", [
    (np.array([0, 5]), ValueError, r"labels in \[0, 4\]"),
    (np.array([0, -1]), ValueError, r"labels in \[0, 4\]"),
    (np.array([0, 1, 2]), ValueError, "y must have shape"),
    (np.array([0.0, 1.0]), TypeError, "integer class labels"),
])
def test_softmax_cross_entropy_rejects_bad_labels(y, error, match):
    with pytest.raises(error, match=match):
        rnp.softmax_cross_entropy(np.zeros((2, 5)), y)


def test_softmax_cross_entropy_rejects_non_finite_logits():
    with pytest.raises(ValueError, match="logits must contain only finite"):
        rnp.softmax_cross_entropy(np.array([[0.0, np.nan]]), np.array([0]))


# --- Sequential -------------------------------------------------------------------------------

def _net(with_dropout=True, with_batchnorm=False, seed=0):
    rng = np.random.default_rng(seed)
    layers = [rnp.Linear(5, 8, rng=rng, dtype=F64)]
    if with_batchnorm:
        layers.append(rnp.BatchNorm(8))
    layers += [rnp.ReLU()]
    if with_dropout:
        layers.append(rnp.Dropout(0.3, rng=rng))
    layers += [rnp.Linear(8, 3, rng=rng, dtype=F64)]
    return rnp.Sequential(layers)


@pytest.mark.parametrize("with_batchnorm", [False, True])
def test_whole_network_gradient_matches_finite_differences(with_batchnorm):
    net = _net(with_batchnorm=with_batchnorm)
    drop = next(layer for layer in net.layers if isinstance(layer, rnp.Dropout))
    x, y = _randn(6, 5, seed=10), np.array([0, 1, 2, 0, 1, 2])

    def loss_fn(_):
        drop.rng = np.random.default_rng(4)     # fixed mask
        return rnp.softmax_cross_entropy(net.forward(x, training=True), y)[0]

    drop.rng = np.random.default_rng(4)
    _, dlogits = rnp.softmax_cross_entropy(net.forward(x, training=True), y)
    dx = net.backward(dlogits)
    grads = dict(net.grads)                     # before the checks run more passes
    assert rnp.rel_error(dx, rnp.numerical_gradient(loss_fn, x)) < 1e-7
    for name, p in net.params.items():
        assert rnp.rel_error(grads[name], rnp.numerical_gradient(loss_fn, p)) < 1e-7, name


def test_sequential_params_are_the_layers_own_arrays():
    net = _net()
    assert list(net.params) == ["0.W", "0.b", "3.W", "3.b"]
    assert net.params["0.W"] is net.layers[0].params["W"]


def test_get_weights_returns_copies_of_params_and_buffers_in_layer_order():
    net = _net(with_batchnorm=True)
    weights = net.get_weights()
    expected = ["W", "b", "gamma", "beta", "running_mean", "running_var", "W", "b"]
    layer_arrays = [net.layers[0].params["W"], net.layers[0].params["b"],
                    net.layers[1].gamma, net.layers[1].beta, net.layers[1].running_mean,
                    net.layers[1].running_var, net.layers[4].params["W"],
                    net.layers[4].params["b"]]
    assert len(weights) == len(expected)
    for w, a in zip(weights, layer_arrays):
        np.testing.assert_array_equal(w, a)
        assert w is not a


def test_set_weights_restores_values_in_place():
    net = _net(with_batchnorm=True)
    saved = net.get_weights()
    arrays = [net.layers[0].params["W"], net.layers[1].running_mean]
    net.forward(_randn(6, 5), training=True)    # moves the running statistics
    for p in net.params.values():
        p += 1.0
    net.set_weights(saved)
    for now, then in zip(net.get_weights(), saved):
        np.testing.assert_array_equal(now, then)
    assert net.layers[0].params["W"] is arrays[0] and net.layers[1].running_mean is arrays[1]


def test_set_weights_with_a_bad_list_changes_nothing():
    net = _net()
    before = net.get_weights()
    bad = [w + 1 for w in before]
    bad[-1] = np.zeros(7)
    with pytest.raises(ValueError, match=r"weights\[3\] must have shape"):
        net.set_weights(bad)
    with pytest.raises(ValueError, match="weights must hold 4 arrays"):
        net.set_weights(before[:2])
    for now, then in zip(net.get_weights(), before):
        np.testing.assert_array_equal(now, then)


def test_evaluation_mode_is_deterministic_and_training_mode_is_not():
    net, x = _net(), _randn(10, 5)
    np.testing.assert_array_equal(net.forward(x, training=False), net.forward(x, training=False))
    assert not np.array_equal(net.forward(x, training=True), net.forward(x, training=True))


def test_wrong_feature_count_is_rejected():
    with pytest.raises(ValueError, match="x has 4 features but Linear expects n_in=5"):
        _net().forward(np.ones((3, 4)), training=False)


def test_non_finite_input_is_rejected():
    with pytest.raises(ValueError, match="only finite values"):
        _net().forward(np.array([[1.0, np.inf, 0, 0, 0]]), training=False)


def test_sequential_rejects_objects_that_are_not_layers():
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        rnp.Sequential([rnp.ReLU(), "relu"])


@pytest.mark.parametrize("p", [-0.5, 1.0])
def test_dropout_layer_rejects_p_outside_zero_one(p):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        rnp.Dropout(p, rng=np.random.default_rng(0))


def test_make_mlp_adds_dropout_only_when_asked():
    plain = rnp.make_mlp(64, (32, 16), 10, seed=0)
    dropped = rnp.make_mlp(64, (32, 16), 10, dropout=0.2, seed=0)
    assert [type(x).__name__ for x in plain.layers] == ["Linear", "ReLU"] * 2 + ["Linear"]
    assert [type(x).__name__ for x in dropped.layers] == ["Linear", "ReLU", "Dropout"] * 2 + [
        "Linear"]
    assert all(x.p == 0.2 for x in dropped.layers if isinstance(x, rnp.Dropout))
    with pytest.raises(ValueError, match="dropout must be in"):
        rnp.make_mlp(64, dropout=1.0)


def test_make_mlp_with_batchnorm_and_dropout_orders_the_layers_as_the_other_backends():
    model = rnp.make_mlp(64, (32, 16), 10, dropout=0.2, batchnorm=True, seed=0)
    assert [type(x).__name__ for x in model.layers] == (
        ["Linear", "BatchNorm", "ReLU", "Dropout"] * 2 + ["Linear"])
    assert [x.num_features for x in model.layers if isinstance(x, rnp.BatchNorm)] == [32, 16]


def test_make_mlp_draws_the_same_linear_weights_for_a_seed_with_or_without_bn_and_dropout():
    def linear_weights(**kwargs):
        model = rnp.make_mlp(20, (16, 8), 5, seed=7, **kwargs)
        return [layer.params[k] for layer in model.layers if isinstance(layer, rnp.Linear)
                for k in ("W", "b")]

    plain = linear_weights()
    for kwargs in (dict(dropout=0.5), dict(batchnorm=True), dict(dropout=0.1, batchnorm=True)):
        for a, b in zip(plain, linear_weights(**kwargs), strict=True):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(plain[0], rnp.make_mlp(20, (16, 8), 5, seed=8).layers[0].params["W"])


def test_make_mlp_dropout_layers_have_generators_of_their_own():
    model = rnp.make_mlp(20, (16, 16), 5, dropout=0.5, seed=0)
    drops = [x for x in model.layers if isinstance(x, rnp.Dropout)]
    assert drops[0].rng is not drops[1].rng
    x = np.ones((30, 16))
    first, second = (d.forward(x, training=True) for d in drops)
    assert not np.array_equal(first, second)
    again = [x for x in rnp.make_mlp(20, (16, 16), 5, dropout=0.5, seed=0).layers
             if isinstance(x, rnp.Dropout)]
    np.testing.assert_array_equal(second, again[1].forward(x, training=True))


@pytest.mark.parametrize("dtype", ["float64", np.float64, np.dtype("float64")])
def test_make_mlp_accepts_dtype_names_and_numpy_dtypes(dtype):
    model = rnp.make_mlp(4, (3,), 2, batchnorm=True, dtype=dtype)
    assert {a.dtype for a in model.get_weights()} == {np.dtype(np.float64)}
    assert rnp.make_mlp(4, (3,), 2).layers[0].params["W"].dtype == np.float32


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(hidden=8), TypeError, "hidden must be a sequence of layer widths"),
    (dict(hidden="8"), TypeError, "hidden must be a sequence"),
    (dict(hidden=(8, 0)), ValueError, r"hidden\[1\] must be >= 1"),
    (dict(hidden=(8.0,)), TypeError, r"hidden\[0\] must be an integer"),
    (dict(batchnorm=1), TypeError, "batchnorm must be a bool"),
    (dict(dtype="int32"), TypeError, "dtype must be a floating dtype"),
    (dict(dtype="float"), None, None),
    (dict(seed=-1), ValueError, "seed must be >= 0"),
    (dict(n_classes=1), ValueError, "n_classes must be >= 2"),
])
def test_make_mlp_rejects_bad_arguments_by_name(kwargs, error, match):
    if error is None:
        rnp.make_mlp(4, **kwargs)
        return
    with pytest.raises(error, match=match):
        rnp.make_mlp(4, **kwargs)


def test_make_mlp_leaves_the_global_generators_alone():
    import random

    np_state, py_state = np.random.get_state(), random.getstate()
    rnp.make_mlp(10, (8,), 3, dropout=0.5, batchnorm=True, seed=3)
    rnp.Dropout(0.5)
    _assert_same_np_state(np_state, np.random.get_state())
    assert random.getstate() == py_state


def _assert_same_np_state(a, b):
    assert a[0] == b[0] and a[2:] == b[2:]
    np.testing.assert_array_equal(a[1], b[1])


def test_dropout_layer_from_a_seed_is_reproducible():
    x = np.ones((10, 10))
    a = rnp.Dropout(0.5, seed=3).forward(x, training=True)
    np.testing.assert_array_equal(a, rnp.Dropout(0.5, seed=3).forward(x, training=True))
    np.testing.assert_array_equal(
        a, rnp.Dropout(0.5, rng=np.random.default_rng(3)).forward(x, training=True))
    assert not np.array_equal(a, rnp.Dropout(0.5, seed=4).forward(x, training=True))


def test_dropout_layer_without_seed_or_rng_is_unseeded():
    x = np.ones((20, 20))
    masks = [rnp.Dropout(0.5).forward(x, training=True) for _ in range(2)]
    assert not np.array_equal(*masks)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(seed=1, rng=np.random.default_rng(1)), ValueError, "give seed or rng, not both"),
    (dict(rng=np.random.RandomState(0)), TypeError, "rng must be a numpy.random.Generator"),
    (dict(seed=1.5), TypeError, "seed must be an integer"),
    (dict(scaling="both"), ValueError, "scaling must be one of"),
])
def test_dropout_layer_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        rnp.Dropout(0.5, **kwargs)


@pytest.mark.parametrize("layer", [
    rnp.Linear(5, 3, rng=np.random.default_rng(0)), rnp.ReLU(), rnp.Dropout(0.5, seed=0),
    rnp.BatchNorm(5), rnp.make_mlp(5, (4,), 2)], ids=lambda layer: type(layer).__name__)
@pytest.mark.parametrize("training", ["False", 0, None])
def test_forward_refuses_a_training_flag_that_is_not_a_bool(layer, training):
    with pytest.raises(TypeError, match="training must be a bool"):
        layer.forward(np.ones((4, 5)), training=training)


def test_a_failed_training_forward_changes_no_layer():
    rng = np.random.default_rng(0)
    net = rnp.Sequential([rnp.Linear(5, 4, rng=rng, dtype=F64), rnp.ReLU(),
                          rnp.Dropout(0.5, seed=1), rnp.Linear(4, 3, rng=rng, dtype=F64),
                          rnp.BatchNorm(3)])
    net.forward(_randn(6, 5), training=True)
    caches = [layer.cache if hasattr(layer, "cache") else layer._cache for layer in net.layers]
    rng_state, buffers = net.layers[2].rng.bit_generator.state, net.get_weights()
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        net.forward(_randn(1, 5), training=True)     # the dropout layer drew a mask first
    assert net.layers[2].rng.bit_generator.state == rng_state
    now = [layer.cache if hasattr(layer, "cache") else layer._cache for layer in net.layers]
    assert all(a is b for a, b in zip(caches, now))
    for a, b in zip(net.get_weights(), buffers, strict=True):
        np.testing.assert_array_equal(a, b)


def test_sequential_checks_the_feature_count_before_any_layer_runs():
    net = _net()
    with pytest.raises(ValueError, match="x has 4 features but Linear expects n_in=5"):
        net.forward(np.ones((3, 4)), training=True)
    assert net.layers[0].cache is None


@pytest.mark.parametrize("bad, error, match", [
    (np.full((5, 8), np.nan), ValueError, r"weights\[0\] must contain only finite values"),
    (np.ones((5, 8), complex), TypeError, r"weights\[0\] must hold real numbers"),
    (np.array([["a"] * 8] * 5), TypeError, r"weights\[0\] must hold real numbers"),
])
def test_set_weights_checks_every_array_before_writing_any(bad, error, match):
    net = _net()
    before = net.get_weights()
    new = [w + 1 for w in before]
    new[0] = bad
    with pytest.raises(error, match=match):
        net.set_weights(new)
    for now, then in zip(net.get_weights(), before):
        np.testing.assert_array_equal(now, then)


def test_set_weights_refuses_a_dtype_that_does_not_cast():
    net = rnp.make_mlp(3, (2,), 2)
    weights = net.get_weights()
    weights[-1] = weights[-1].astype(np.float64)   # float64 into float32 is fine
    net.set_weights(weights)
    with pytest.raises(TypeError, match="must be a list of arrays"):
        net.set_weights(np.zeros(3))


# --- optimizers against torch.optim -----------------------------------------------------------

def _run_ours(opt, w0, grads):
    class One:                                   # a one-parameter "layer"
        params = {"w": w0.copy()}
        grads = {}
    model = One()
    for g in grads:
        model.grads = {"w": g}
        opt.step(model)
    return model.params["w"]


def _run_torch(make_opt, w0, grads):
    torch = pytest.importorskip("torch")
    w = torch.tensor(w0, requires_grad=True)
    opt = make_opt([w])
    for g in grads:
        w.grad = torch.tensor(g)
        opt.step()
    return w.detach().numpy()


@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.5, 0.01)])
def test_sgd_steps_equal_torch_sgd(momentum, weight_decay):
    torch = pytest.importorskip("torch")
    w0, grads = _randn(4, 3), [_randn(4, 3, seed=s) for s in range(1, 8)]
    ours = _run_ours(rnp.SGD(0.1, momentum, weight_decay=weight_decay), w0, grads)
    theirs = _run_torch(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=momentum,
                                                   weight_decay=weight_decay), w0, grads)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adam_steps_equal_torch_adam(weight_decay):
    torch = pytest.importorskip("torch")
    w0, grads = _randn(4, 3), [_randn(4, 3, seed=s) for s in range(1, 12)]
    ours = _run_ours(rnp.Adam(0.01, 0.8, 0.99, 1e-6, weight_decay=weight_decay), w0, grads)
    theirs = _run_torch(lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6,
                                                    weight_decay=weight_decay), w0, grads)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_adamw_steps_equal_torch_adamw_at_every_step():
    torch = pytest.importorskip("torch")
    w0, grads = _randn(4, 3), [_randn(4, 3, seed=s) for s in range(1, 12)]
    ours = rnp.AdamW(0.01, 0.8, 0.99, 1e-6, weight_decay=0.3)
    theirs_w = torch.tensor(w0, requires_grad=True)
    theirs = torch.optim.AdamW([theirs_w], lr=0.01, betas=(0.8, 0.99), eps=1e-6,
                               weight_decay=0.3)

    class One:
        params = {"w": w0.copy()}

    for t, g in enumerate(grads, 1):
        One.grads = {"w": g}
        ours.step(One)
        theirs_w.grad = torch.tensor(g)
        theirs.step()
        np.testing.assert_allclose(One.params["w"], theirs_w.detach().numpy(), rtol=1e-12,
                                   atol=1e-14, err_msg=f"step {t}")
    assert np.abs(One.params["w"] - _run_ours(rnp.Adam(0.01, 0.8, 0.99, 1e-6,
                                                       weight_decay=0.3), w0, grads)).max() > 1e-3


def test_adamw_default_weight_decay_is_zero_and_it_is_then_adam():
    w0, grads = _randn(3, 2), [_randn(3, 2, seed=s) for s in range(1, 5)]
    assert rnp.AdamW().weight_decay == 0.0
    np.testing.assert_array_equal(_run_ours(rnp.AdamW(0.01), w0, grads),
                                  _run_ours(rnp.Adam(0.01), w0, grads))


@pytest.mark.parametrize("make", [lambda: rnp.SGD(0.1, 0.9, weight_decay=0.5),
                                  lambda: rnp.Adam(0.1, weight_decay=0.5),
                                  lambda: rnp.AdamW(0.1, weight_decay=0.5)])
def test_decay_restricts_weight_decay_to_the_named_parameters(make):
    grads = {"a": _randn(3, seed=1), "b": _randn(3, seed=2)}

    class Two:
        params = {"a": _randn(3, seed=3), "b": _randn(3, seed=4)}

    twin = type("Twin", (), {"params": {k: v.copy() for k, v in Two.params.items()},
                             "grads": grads})
    Two.grads = grads
    make().step(Two, decay={"a"})
    no_decay = make()
    no_decay.weight_decay = 0.0
    no_decay.step(twin)
    assert not np.allclose(Two.params["a"], twin.params["a"])
    np.testing.assert_array_equal(Two.params["b"], twin.params["b"])


def test_decay_must_name_parameters_of_the_model():
    net = _net()
    net.forward(_randn(4, 5), training=True)
    net.backward(np.ones((4, 3)))
    with pytest.raises(ValueError, match="decay names parameters the model does not have"):
        rnp.SGD(0.1).step(net, decay=["0.W", "9.W"])
    with pytest.raises(TypeError, match="decay must be a collection"):
        rnp.SGD(0.1).step(net, decay="0.W")


def test_optimizer_step_before_backward_is_an_error():
    with pytest.raises(RuntimeError, match="call model.backward before step"):
        rnp.SGD(0.1).step(_net())


@pytest.mark.parametrize("make, match", [
    (lambda: rnp.SGD(0.0), "lr"),
    (lambda: rnp.SGD(0.1, momentum=1.0), "momentum"),
    (lambda: rnp.Adam(beta2=1.5), "beta2"),
    (lambda: rnp.Adam(eps=0.0), "eps"),
    (lambda: rnp.AdamW(beta1=1.0), "beta1"),
    (lambda: rnp.AdamW(weight_decay=-1.0), "weight_decay"),
])
def test_optimizers_reject_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# --- training loop ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    return data.digits_split()


def test_mlp_learns_digits_to_high_test_accuracy(digits):
    model = rnp.make_mlp(64, (128,), 10, dropout=0.2, seed=0)
    history = rnp.fit_classifier(model, digits.X_train, digits.y_train, X_val=digits.X_val,
                                 y_val=digits.y_val, optimizer="adam", lr=1e-3, epochs=20)
    assert isinstance(history, regbook.History)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 20 for v in history.values())
    assert history["loss"][-1] < 0.3 * history["loss"][0]
    _, test_acc = rnp.evaluate_classifier(model, digits.X_test, digits.y_test)
    assert test_acc > 0.9


def test_sgd_momentum_also_trains(digits):
    model = rnp.make_mlp(64, (64,), 10, seed=1)
    history = rnp.fit_classifier(model, digits.X_train, digits.y_train, optimizer="sgd",
                                 lr=0.05, momentum=0.9, epochs=5, batch_size=64)
    assert history["accuracy"][-1] > 0.9


def test_recorded_accuracy_matches_the_model(digits):
    model = rnp.make_mlp(64, (16,), 10, seed=2)
    history = rnp.fit_classifier(model, digits.X_train, digits.y_train, X_val=digits.X_val,
                                 y_val=digits.y_val, lr=1e-2, epochs=2)
    logits = rnp.predict_logits(model, digits.X_val)
    assert history["val_accuracy"][-1] == np.mean(logits.argmax(axis=1) == digits.y_val)


def test_same_seed_same_history_and_another_seed_differs(digits):
    def run(seed):
        model = rnp.make_mlp(64, (16,), 10, dropout=0.3, seed=seed)
        return rnp.fit_classifier(model, digits.X_train[:200], digits.y_train[:200], lr=1e-2,
                                  epochs=3, seed=seed)
    assert run(3) == run(3)
    assert run(3) != run(4)


def test_training_runs_in_float32_by_default(digits):
    model = rnp.make_mlp(64, (8,), 10, seed=0)
    rnp.fit_classifier(model, digits.X_train[:64], digits.y_train[:64], optimizer="sgd", lr=0.1,
                       epochs=1)
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert rnp.predict_logits(model, digits.X_val).dtype == np.float32


class _StopAfter(regbook.EarlyStopping):
    """An EarlyStopping that stops after `n` updates and keeps update `best`'s weights."""

    def __init__(self, n, best, restore_best_weights=True):
        super().__init__(restore_best_weights=restore_best_weights)
        self.n, self.best_at = n, best

    def reset(self):
        super().reset()
        self.calls, self.values = 0, []

    def update(self, value, weights=None):
        self.calls += 1
        self.values.append(value)
        if self.calls == self.best_at:
            self.best_weights, self.best_epoch = weights, self.calls - 1
        return self.calls >= self.n


def test_early_stopping_stops_training_and_restores_the_best_weights(digits):
    model = rnp.make_mlp(64, (16,), 10, seed=0)
    stopper = _StopAfter(n=4, best=2)
    history = rnp.fit_classifier(model, digits.X_train, digits.y_train, X_val=digits.X_val,
                                 y_val=digits.y_val, lr=1e-2, epochs=50,
                                 early_stopping=stopper, monitor="val_accuracy")
    assert len(history["loss"]) == 4
    assert history.stopped_epoch == 3 and history.best_epoch == 1 and history.restored
    assert stopper.values == history["val_accuracy"]
    for now, best in zip(model.get_weights(), stopper.best_weights):
        np.testing.assert_array_equal(now, best)


def test_regbook_early_stopping_plugs_into_the_loop(digits):
    model = rnp.make_mlp(64, (16,), 10, seed=0)
    stopper = regbook.EarlyStopping(patience=0, restore_best_weights=True)
    # lr=2 makes the validation loss rise quickly, so patience 0 stops early
    history = rnp.fit_classifier(model, digits.X_train, digits.y_train, X_val=digits.X_val,
                                 y_val=digits.y_val, optimizer="sgd", lr=2.0, epochs=30,
                                 early_stopping=stopper)
    assert len(history["val_loss"]) < 30
    assert stopper.best == min(history["val_loss"])
    best_loss, _ = rnp.evaluate_classifier(model, digits.X_val, digits.y_val)
    assert best_loss == pytest.approx(stopper.best, rel=1e-6)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(epochs=0), ValueError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(monitor="val_f1"), ValueError, "monitor must be one of"),
    (dict(early_stopping=_StopAfter(1, 1)), ValueError, "needs X_val and y_val"),
    (dict(X_val=np.zeros((2, 64))), ValueError, "X_val and y_val"),
])
def test_fit_rejects_bad_arguments(kwargs, error, match, digits):
    model = rnp.make_mlp(64, (4,), 10, seed=0)
    with pytest.raises(error, match=match):
        rnp.fit_classifier(model, digits.X_train, digits.y_train, **kwargs)


def test_fit_rejects_data_with_the_wrong_feature_count(digits):
    model = rnp.make_mlp(32, (4,), 10, seed=0)
    with pytest.raises(ValueError, match="X_train has 64 features but the model's first layer "
                                         "expects n_in=32"):
        rnp.fit_classifier(model, digits.X_train, digits.y_train, epochs=1)


def test_fit_rejects_non_finite_data(digits):
    X = digits.X_train.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="X_train must contain only finite values"):
        rnp.fit_classifier(rnp.make_mlp(64, (4,), seed=0), X, digits.y_train)


def test_fit_classifier_skips_a_final_batch_of_one_so_batch_norm_trains():
    from regbook import data
    from regbook import np as rnp

    split = data.digits_split(n_train=65)  # 65 = 2 * 32 + 1
    rng = np.random.default_rng(0)
    model = rnp.Sequential([rnp.Linear(64, 16, rng=rng), rnp.BatchNorm(16), rnp.ReLU(),
                            rnp.Linear(16, 10, rng=rng)])
    history = rnp.fit_classifier(model, split.X_train, split.y_train, optimizer="sgd", lr=0.1,
                                 epochs=2, batch_size=32)
    assert len(history["loss"]) == 2


def test_fit_classifier_resets_a_reused_early_stopping():
    import regbook
    from regbook import data
    from regbook import np as rnp

    split = data.digits_split(n_train=60)
    stopper = regbook.EarlyStopping(patience=100)
    for _ in range(2):
        model = rnp.make_mlp(64, (8,), 10, seed=0)
        rnp.fit_classifier(model, split.X_train, split.y_train, X_val=split.X_val,
                           y_val=split.y_val, lr=1e-2, epochs=3, early_stopping=stopper)
        assert stopper.epochs_seen == 3


# --- fit_classifier: penalties, weight decay, optimizers, state ---------------------------------

def _tiny(seed=0, n=12):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    return X, rng.integers(0, 3, n)


def _one_step(model, X, y, **kwargs):
    """fit_classifier for one full-batch epoch (a single step)."""
    return rnp.fit_classifier(model, X, y, epochs=1, batch_size=len(X), **kwargs)


def test_one_step_with_lam1_and_lam2_equals_the_hand_computed_gradient_step():
    X, y = _tiny()
    model = rnp.make_mlp(4, (), 3, seed=0, dtype="float64")      # one Linear layer
    W0, b0 = (model.params[k].copy() for k in ("0.W", "0.b"))
    _one_step(model, X, y, optimizer="sgd", lr=0.5, lam1=0.01, lam2=0.2)
    Xd = X.astype(np.float64)
    logits = Xd @ W0 + b0
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    dlogits = (P - np.eye(3)[y]) / len(y)
    gW = Xd.T @ dlogits + 0.01 * np.sign(W0) + 0.2 * W0
    np.testing.assert_allclose(model.params["0.W"], W0 - 0.5 * gW, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(model.params["0.b"], b0 - 0.5 * dlogits.sum(axis=0),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_lam2_equals_sgd_weight_decay(momentum):
    X, y = _tiny(n=40)
    a, b = (rnp.make_mlp(4, (6,), 3, batchnorm=True, seed=1, dtype="float64") for _ in "ab")
    kwargs = dict(optimizer="sgd", lr=0.1, momentum=momentum, epochs=3, batch_size=8)
    rnp.fit_classifier(a, X, y, lam2=0.3, **kwargs)
    rnp.fit_classifier(b, X, y, weight_decay=0.3, **kwargs)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("kwargs", [dict(lam2=0.5), dict(lam1=0.1),
                                    dict(optimizer="adamw", weight_decay=0.5),
                                    dict(optimizer="sgd", weight_decay=0.5)])
def test_decay_scope_weights_leaves_biases_and_batchnorm_to_the_data_loss(kwargs):
    X, y = _tiny(n=16)
    base = dict(optimizer="sgd", lr=0.1) | kwargs
    penalised = rnp.make_mlp(4, (5,), 3, batchnorm=True, seed=2, dtype="float64")
    plain = rnp.make_mlp(4, (5,), 3, batchnorm=True, seed=2, dtype="float64")
    every = rnp.make_mlp(4, (5,), 3, batchnorm=True, seed=2, dtype="float64")
    _one_step(penalised, X, y, **base)
    _one_step(plain, X, y, **{k: v for k, v in base.items() if k in ("optimizer", "lr")})
    _one_step(every, X, y, decay_scope="all", **base)
    decay, no_decay = rnp.split_decay_params(penalised)
    for name in no_decay:            # one step: their gradient does not see the penalty
        np.testing.assert_array_equal(penalised.params[name], plain.params[name], err_msg=name)
    assert all(not np.allclose(penalised.params[n], plain.params[n]) for n in decay)
    assert any(not np.allclose(every.params[n], plain.params[n]) for n in ("0.b", "1.gamma"))


@pytest.mark.parametrize("name, make", [
    ("sgd", lambda: rnp.SGD(0.05, 0.9, weight_decay=0.01)),
    ("adam", lambda: rnp.Adam(0.01, weight_decay=0.01)),
    ("adamw", lambda: rnp.AdamW(0.01, weight_decay=0.01)),
])
def test_an_optimizer_by_name_and_the_same_optimizer_object_train_alike(name, make):
    X, y = _tiny(n=30)
    by_name, by_object = (rnp.make_mlp(4, (6,), 3, dropout=0.2, seed=4) for _ in "ab")
    opt = make()
    h1 = rnp.fit_classifier(by_name, X, y, optimizer=name, lr=opt.lr,
                            momentum=getattr(opt, "momentum", 0.0), weight_decay=0.01,
                            epochs=3, batch_size=8)
    h2 = rnp.fit_classifier(by_object, X, y, optimizer=opt, epochs=3, batch_size=8)
    assert h1 == h2
    for a, b in zip(by_name.get_weights(), by_object.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_an_optimizer_object_with_settings_given_twice_is_refused():
    X, y = _tiny()
    with pytest.raises(ValueError, match="lr, weight_decay must be left at their defaults"):
        rnp.fit_classifier(rnp.make_mlp(4, (3,), 3), X, y, optimizer=rnp.SGD(0.1), lr=0.1,
                           weight_decay=0.1)
    with pytest.raises(ValueError, match="momentum must be left at their defaults"):
        rnp.fit_classifier(rnp.make_mlp(4, (3,), 3), X, y, optimizer=rnp.SGD(0.1), momentum=0.9)
    with pytest.raises(TypeError, match="optimizer must be one of"):
        rnp.fit_classifier(rnp.make_mlp(4, (3,), 3), X, y, optimizer=object())


@pytest.mark.parametrize("where", ["y_train", "y_val"])
def test_a_label_beyond_the_model_outputs_is_refused_before_any_step(where):
    import copy

    X, y = _tiny()
    bad = y.copy()
    bad[3] = 3                                          # the model has 3 outputs: 0, 1, 2
    model = rnp.make_mlp(4, (5,), 3, batchnorm=True, dropout=0.5, seed=0)
    before = copy.deepcopy(model.get_weights())
    data = dict(y_train=bad, y_val=y) if where == "y_train" else dict(y_train=y, y_val=bad)
    with pytest.raises(ValueError, match=rf"{where} must hold class labels in \[0, 2\]"):
        rnp.fit_classifier(model, X, data["y_train"], X_val=X, y_val=data["y_val"])
    for now, then in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(now, then)


def test_fit_classifier_leaves_the_global_generators_alone():
    import random

    X, y = _tiny(n=30)
    np_state, py_state = np.random.get_state(), random.getstate()
    model = rnp.make_mlp(4, (6,), 3, dropout=0.5, batchnorm=True, seed=0)
    rnp.fit_classifier(model, X, y, X_val=X, y_val=y, epochs=2, batch_size=8,
                       early_stopping=regbook.EarlyStopping(patience=0))
    _assert_same_np_state(np_state, np.random.get_state())
    assert random.getstate() == py_state


def test_history_records_the_early_stopping_epochs(digits):
    model = rnp.make_mlp(64, (16,), 10, seed=0)
    stopper = regbook.EarlyStopping(patience=0, restore_best_weights=True)
    history = rnp.fit_classifier(model, digits.X_train, digits.y_train, X_val=digits.X_val,
                                 y_val=digits.y_val, optimizer="sgd", lr=2.0, epochs=30,
                                 early_stopping=stopper)
    assert isinstance(history, regbook.History)
    assert history.stopped_epoch == len(history.val_loss) - 1 < 29
    assert history.best_epoch == stopper.best_epoch == int(np.argmin(history.val_loss))
    assert history.restored
    plain = rnp.fit_classifier(rnp.make_mlp(64, (4,), 10), digits.X_train[:50],
                               digits.y_train[:50], epochs=2)
    assert plain.stopped_epoch is None and plain.best_epoch is None and not plain.restored


def test_evaluate_classifier_returns_python_floats(digits):
    model = rnp.make_mlp(64, (4,), 10, seed=0)
    loss, acc = rnp.evaluate_classifier(model, digits.X_val, digits.y_val)
    assert type(loss) is float and type(acc) is float
    with pytest.raises(ValueError, match=r"y must hold class labels in \[0, 9\]"):
        rnp.evaluate_classifier(model, digits.X_val[:2], np.array([0, 10]))


def test_predict_logits_runs_in_batches_with_the_same_result(digits):
    model = rnp.make_mlp(64, (8,), 10, batchnorm=True, dropout=0.5, seed=0)
    np.testing.assert_array_equal(rnp.predict_logits(model, digits.X_val),
                                  rnp.predict_logits(model, digits.X_val, batch_size=7))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        rnp.predict_logits(model, digits.X_val, batch_size=0)
