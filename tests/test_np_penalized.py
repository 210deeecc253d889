"""regbook.np.fit_penalized / fit_linear / make_linear: the NumPy twin of regbook.torch's."""

import numpy as np
import pytest

from regbook import np as rnp

# (optimizer settings, penalties): every optimizer with both penalties and weight decay
CASES = [
    dict(optimizer="sgd", lr=0.1),
    dict(optimizer="sgd", lr=0.05, momentum=0.9, lam1=0.02, lam2=0.3, weight_decay=0.1),
    dict(optimizer="adam", lr=0.05, lam1=0.02, lam2=0.3, weight_decay=0.1),
    dict(optimizer="adamw", lr=0.05, lam1=0.02, lam2=0.3, weight_decay=0.1, eps=1e-6),
]


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 5))
    y = X @ np.array([1.5, -2.0, 0.0, 0.5, 0.0]) + 0.3 + 0.1 * rng.standard_normal(30)
    return X, y, rng.standard_normal(5)


@pytest.mark.parametrize("kwargs", CASES, ids=lambda k: k["optimizer"] + str(len(k)))
@pytest.mark.parametrize("batching", [dict(), dict(batch_size=7, shuffle=True, seed=3)],
                         ids=["full-batch", "mini-batch"])
def test_fit_linear_equals_torch_in_float64(kwargs, batching, regression):
    rtorch = pytest.importorskip("regbook.torch")
    X, y, coef0 = regression
    args = dict(coef_init=coef0, intercept_init=0.3, epochs=15, **kwargs, **batching)
    _, ours = rnp.fit_linear(X, y, **args)
    _, theirs = rtorch.fit_linear(X, y, **args)
    assert ours.coefs.shape == theirs.coefs.shape
    np.testing.assert_allclose(ours.coefs, theirs.coefs, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ours.intercepts, theirs.intercepts, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ours.losses, theirs.losses, rtol=1e-12)
    assert ours.lr == theirs.lr


@pytest.mark.parametrize("kwargs", CASES[1:], ids=lambda k: k["optimizer"])
def test_fit_penalized_trains_an_mlp_classifier_like_torch_in_float64(kwargs):
    torch = pytest.importorskip("torch")
    rtorch = pytest.importorskip("regbook.torch")
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((40, 4)), rng.integers(0, 3, 40)
    ours = rnp.make_mlp(4, (6,), 3, seed=0, dtype="float64")
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(),
                                 torch.nn.Linear(6, 3)).double()
    with torch.no_grad():
        for t, n in ((theirs[0], ours.layers[0]), (theirs[2], ours.layers[2])):
            t.weight.copy_(torch.from_numpy(n.params["W"].T))
            t.bias.copy_(torch.from_numpy(n.params["b"]))
    args = dict(loss="cross_entropy", epochs=5, batch_size=8, shuffle=True, seed=2,
                record_weights=True, **kwargs)
    h_ours = rnp.fit_penalized(ours, X, y, **args)
    h_theirs = rtorch.fit_penalized(theirs, X, y, **args)
    np.testing.assert_allclose(h_ours["objective"], h_theirs["objective"], rtol=1e-12)
    assert len(h_ours["weights"]) == len(h_theirs["weights"]) == 1 + 5 * 5
    for step, (a, b) in enumerate(zip(h_ours["weights"], h_theirs["weights"])):
        for p, q in zip(a, b, strict=True):       # torch's weight is our W transposed
            np.testing.assert_allclose(p, q.T if p.ndim == 2 else q, rtol=1e-11, atol=1e-13,
                                       err_msg=f"step {step}")


def test_sgd_lam2_is_gradient_descent_on_the_ridge_objective(regression):
    X, y, coef0 = regression
    _, path = rnp.fit_linear(X, y, coef_init=coef0, lam2=0.4, lr=0.2, epochs=30)
    reference = rnp.gradient_descent(X, y, lam2=0.4, lr=0.2, n_steps=30, w0=coef0)
    np.testing.assert_allclose(path.coefs[1:], reference.coefs[1:], rtol=1e-12)
    assert np.all(np.diff(path.losses) < 0)


def test_lam2_and_sgd_weight_decay_give_the_same_path(regression):
    X, y, _ = regression
    for momentum in (0.0, 0.5):
        _, penalty = rnp.fit_linear(X, y, lam2=0.5, lr=0.125, momentum=momentum, epochs=20)
        _, decay = rnp.fit_linear(X, y, weight_decay=0.5, lr=0.125, momentum=momentum,
                                  epochs=20)
        np.testing.assert_allclose(penalty.coefs, decay.coefs, rtol=1e-14)
        # the penalty is in the recorded objective, the optimizer's decay is not
        assert np.all(penalty.losses >= decay.losses)


def test_the_intercept_is_never_penalised(regression):
    X, y, coef0 = regression
    _, plain = rnp.fit_linear(X, y, coef_init=coef0, intercept_init=2.0, lr=0.1, epochs=1)
    _, shrunk = rnp.fit_linear(X, y, coef_init=coef0, intercept_init=2.0, lr=0.1, epochs=1,
                               lam1=0.5, lam2=5.0, weight_decay=1.0)
    assert plain.intercepts[1] == shrunk.intercepts[1]     # the first step: same gradient
    assert np.all(np.abs(shrunk.coefs[1]) < np.abs(plain.coefs[1]))


def test_fit_penalized_records_the_objective_and_every_step(regression):
    X, y, coef0 = regression
    model = rnp.make_linear(5, coef=coef0, intercept=0.3)
    history = rnp.fit_penalized(model, X, y, lam1=0.1, lr=0.1, epochs=4, batch_size=10,
                                record_weights=True)
    assert len(history["objective"]) == 5 and len(history["weights"]) == 1 + 4 * 3
    np.testing.assert_array_equal(history["weights"][-1][0], model.params["W"])
    w, b = history["weights"][-1]
    expected = rnp.lasso_objective(X, y, w.ravel(), b[0], 0.1)
    assert history["objective"][-1] == pytest.approx(expected, rel=1e-12)


def test_make_linear_holds_the_given_weights_in_float64():
    model = rnp.make_linear(3, coef=[1.0, -2.0, 0.5], intercept=0.25)
    assert model.params["W"].shape == (3, 1) and model.params["W"].dtype == np.float64
    np.testing.assert_array_equal(model.params["W"].ravel(), [1.0, -2.0, 0.5])
    assert model.params["b"][0] == 0.25
    np.testing.assert_array_equal(rnp.make_linear(2).params["W"], 0.0)
    out = model.forward(np.array([[1.0, 1.0, 2.0]]), training=False)
    assert out[0, 0] == pytest.approx(1.0 - 2.0 + 1.0 + 0.25)


@pytest.mark.parametrize("call, error, match", [
    (lambda: rnp.make_linear(0), ValueError, "n_features must be >= 1"),
    (lambda: rnp.make_linear(3, coef=[1.0, 2.0]), ValueError, r"coef must have shape \(3,\)"),
    (lambda: rnp.make_linear(3, intercept="0"), TypeError, "intercept must be a real number"),
])
def test_make_linear_rejects_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(optimizer="rmsprop"), ValueError, "optimizer must be one of"),
    (dict(loss="hinge"), ValueError, "loss must be one of"),
    (dict(momentum=0.5, optimizer="adam"), ValueError, "momentum applies to optimizer='sgd'"),
    (dict(lr=0.0), ValueError, "lr must be in"),
    (dict(lam1=-1.0), ValueError, "lam1"),
    (dict(epochs=0), ValueError, "epochs must be >= 1"),
    (dict(record_weights="yes"), TypeError, "record_weights must be a bool"),
    (dict(shuffle=1), TypeError, "shuffle must be a bool"),
])
def test_fit_penalized_rejects_bad_arguments(kwargs, error, match, regression):
    X, y, _ = regression
    model = rnp.make_linear(5)
    before = model.get_weights()
    with pytest.raises(error, match=match):
        rnp.fit_penalized(model, X, y, **kwargs)
    for now, then in zip(model.get_weights(), before):
        np.testing.assert_array_equal(now, then)


def test_fit_penalized_checks_the_model_against_the_data(regression):
    X, y, _ = regression
    with pytest.raises(ValueError, match="X has 5 features but the model's first layer"):
        rnp.fit_penalized(rnp.make_linear(4), X, y)
    with pytest.raises(ValueError, match="needs a model with one output"):
        rnp.fit_penalized(rnp.make_mlp(5, (3,), 2), X, y)
    with pytest.raises(ValueError, match=r"y must hold class labels in \[0, 1\]"):
        rnp.fit_penalized(rnp.make_mlp(5, (3,), 2), X, np.arange(30) % 3,
                          loss="cross_entropy")
    with pytest.raises(TypeError, match="model must follow the layer protocol"):
        rnp.fit_penalized(object(), X, y)
    with pytest.raises(TypeError, match="fit_linear sets loss"):
        rnp.fit_linear(X, y, loss="cross_entropy")
