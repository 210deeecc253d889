"""The NumPy update rules of regbook.np.optimizers against torch.optim and keras.optimizers.

Every framework optimizer is stepped on a float64 parameter with the gradient of the same
least-squares loss, and its whole trajectory is compared with the NumPy rule.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from regbook import np as rnp
from regbook.np import optimizers as optim

N_STEPS = 40


@pytest.fixture(scope="module")
def problem():
    """A least-squares loss 1/(2n)||Aw - b||^2, its gradient, and a start point."""
    rng = np.random.default_rng(0)
    A, b = rng.standard_normal((25, 6)), rng.standard_normal(25)
    return A, b, (lambda w: A.T @ (A @ w - b) / len(b)), rng.standard_normal(6)


# --- PyTorch ---------------------------------------------------------------------------------

def _torch_path(cls, problem, **kwargs):
    torch = pytest.importorskip("torch")
    A, b, _, w0 = problem
    p = torch.tensor(w0, requires_grad=True)
    opt = cls([p], **kwargs)
    At, bt = torch.from_numpy(A), torch.from_numpy(b)
    path = [w0]
    for _ in range(N_STEPS):
        opt.zero_grad()
        (0.5 * ((At @ p - bt) ** 2).mean()).backward()
        opt.step()
        path.append(p.detach().numpy().copy())
    return np.array(path)


@pytest.mark.parametrize("rule, kwargs", [
    ("sgd", dict(lr=0.1, weight_decay=0.3)),
    ("sgd_momentum", dict(lr=0.05, momentum=0.9, weight_decay=0.3)),
    ("adam", dict(lr=0.05, weight_decay=0.3)),
    ("adamw", dict(lr=0.05, weight_decay=0.3)),
])
def test_numpy_rules_reproduce_torch_optimizers(rule, kwargs, problem):
    torch = pytest.importorskip("torch")
    cls = {"sgd": torch.optim.SGD, "sgd_momentum": torch.optim.SGD, "adam": torch.optim.Adam,
           "adamw": torch.optim.AdamW}[rule]
    expected = _torch_path(cls, problem, **kwargs)
    ours = optim.optimizer_trajectory(problem[2], problem[3], rule=rule, n_steps=N_STEPS, **kwargs)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)


def test_adam_weight_decay_is_coupled_and_adamw_is_not(problem):
    """torch Adam(weight_decay=lam) follows Adam on loss + lam/2 ||w||^2; AdamW does not."""
    torch = pytest.importorskip("torch")
    grad_fn, w0, lam = problem[2], problem[3], 0.3
    coupled = _torch_path(torch.optim.Adam, problem, lr=0.05, weight_decay=lam)
    decoupled = _torch_path(torch.optim.AdamW, problem, lr=0.05, weight_decay=lam)
    l2_loss_adam = optim.optimizer_trajectory(lambda w: grad_fn(w) + rnp.l2_grad(w, lam), w0,
                                              rule="adam", n_steps=N_STEPS, lr=0.05)
    np.testing.assert_allclose(coupled, l2_loss_adam, rtol=0, atol=1e-12)
    assert np.abs(decoupled - coupled).max() > 1e-3


def test_torch_sgd_weight_decay_equals_gradient_descent_on_the_l2_objective(problem):
    torch = pytest.importorskip("torch")
    grad_fn, w0, lam, lr = problem[2], problem[3], 0.3, 0.1
    torch_path = _torch_path(torch.optim.SGD, problem, lr=lr, weight_decay=lam)
    w = w0.copy()
    for t in range(1, N_STEPS + 1):
        w = w - lr * (grad_fn(w) + rnp.l2_grad(w, lam))   # gradient descent, L2 gradient
        np.testing.assert_allclose(w, torch_path[t], rtol=0, atol=1e-13)


# --- Keras -----------------------------------------------------------------------------------
# Keras keeps the learning rate and the factors (1 - beta) as float32 even for float64
# variables; hyperparameters exactly representable in float32 (dyadic numbers) make the
# float64 comparison exact. With the defaults (beta_1=0.9, beta_2=0.999) the float32 rounding
# leaves differences around 1e-6 relative.

def _keras_path(optimizer, problem):
    tf = pytest.importorskip("tensorflow")
    import keras

    _, _, grad_fn, w0 = problem
    v = keras.Variable(w0.copy(), dtype="float64")
    path = [w0]
    for _ in range(N_STEPS):
        optimizer.apply_gradients([(tf.constant(grad_fn(v.numpy())), v)])
        path.append(v.numpy().copy())
    return np.array(path)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_numpy_rule_reproduces_keras_sgd_with_decoupled_weight_decay(momentum, problem):
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    opt = keras.optimizers.SGD(learning_rate=0.125, momentum=momentum, weight_decay=0.25)
    expected = _keras_path(opt, problem)
    ours = optim.optimizer_trajectory(problem[2], problem[3], rule="keras_sgd", n_steps=N_STEPS,
                                      lr=0.125, momentum=momentum, weight_decay=0.25)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_numpy_rule_reproduces_keras_adam_with_decoupled_weight_decay(name, problem):
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    beta1, beta2, eps = 0.875, 1 - 2**-10, 2**-20
    opt = getattr(keras.optimizers, name)(learning_rate=0.0625, weight_decay=0.25,
                                          beta_1=beta1, beta_2=beta2, epsilon=eps)
    expected = _keras_path(opt, problem)
    ours = optim.optimizer_trajectory(problem[2], problem[3], rule="keras_adam", n_steps=N_STEPS,
                                      lr=0.0625, weight_decay=0.25, beta1=beta1, beta2=beta2,
                                      eps=eps)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-14)


def test_keras_adam_defaults_match_up_to_float32_hyperparameters(problem):
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    expected = _keras_path(keras.optimizers.AdamW(learning_rate=0.05, weight_decay=0.3), problem)
    ours = optim.optimizer_trajectory(problem[2], problem[3], rule="keras_adam", n_steps=N_STEPS,
                                      lr=0.05, weight_decay=0.3)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)


def test_keras_weight_decay_is_decoupled_not_an_l2_gradient(problem):
    """Keras Adam(weight_decay) is AdamW, not Adam on the L2 loss; with momentum, SGD differs."""
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    grad_fn, w0, lam = problem[2], problem[3], 0.25
    keras_adam = _keras_path(keras.optimizers.Adam(learning_rate=0.0625, weight_decay=lam),
                             problem)
    coupled = optim.optimizer_trajectory(lambda w: grad_fn(w) + lam * w, w0, rule="keras_adam",
                                         n_steps=N_STEPS, lr=0.0625)
    assert np.abs(keras_adam - coupled).max() > 1e-3
    keras_sgd = _keras_path(
        keras.optimizers.SGD(learning_rate=0.125, momentum=0.5, weight_decay=lam), problem)
    torch_rule = optim.optimizer_trajectory(grad_fn, w0, rule="sgd_momentum", n_steps=N_STEPS,
                                            lr=0.125, momentum=0.5, weight_decay=lam)
    assert np.abs(keras_sgd - torch_rule).max() > 1e-3


# --- properties of the rules -----------------------------------------------------------------

def test_keras_epsilon_equals_torch_epsilon_rescaled_per_step(problem):
    """One step: Keras's eps_hat equals torch's eps = eps_hat / sqrt(1 - beta2^t)."""
    grad_fn, w0 = problem[2], problem[3]
    state = optim.adam_init(w0)
    w_k, s_k = optim.keras_adam_step(w0, grad_fn(w0), state, lr=0.01, eps=0.3)
    w_t, s_t = optim.adam_step(w0, grad_fn(w0), state, lr=0.01, eps=0.3 / np.sqrt(1 - 0.999))
    np.testing.assert_allclose(w_k, w_t, rtol=1e-13)
    np.testing.assert_allclose(s_k.m, s_t.m, rtol=1e-13)


@given(lr=st.floats(1e-3, 1.0), lam=st.floats(0.0, 0.9), seed=st.integers(0, 2**16))
def test_sgd_with_weight_decay_is_shrink_then_step(lr, lam, seed):
    rng = np.random.default_rng(seed)
    w, g = rng.standard_normal(5), rng.standard_normal(5)
    expected = (1 - lr * lam) * w - lr * g
    np.testing.assert_allclose(optim.sgd_step(w, g, lr=lr, weight_decay=lam), expected,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(optim.keras_sgd_step(w, g, lr=lr, weight_decay=lam)[0], expected,
                               rtol=1e-12, atol=1e-12)


def test_adamw_shrinks_every_weight_by_the_same_factor_when_the_gradient_is_zero():
    w = np.array([1e-3, 1.0, -50.0])
    state = optim.adam_init(w)
    new, _ = optim.adam_step(w, np.zeros(3), state, lr=0.1, weight_decay=0.5, decoupled=True)
    np.testing.assert_allclose(new, (1 - 0.1 * 0.5) * w)
    coupled, _ = optim.adam_step(w, np.zeros(3), state, lr=0.1, weight_decay=0.5)
    # Coupled: the decay gradient is normalised by Adam, every weight moves by ~lr.
    np.testing.assert_allclose(np.abs(w - coupled), 0.1, rtol=1e-4)


def test_steps_do_not_modify_their_inputs(problem):
    grad_fn, w0 = problem[2], problem[3]
    w, g = w0.copy(), grad_fn(w0)
    state = optim.adam_init(w)
    optim.adam_step(w, g, state, lr=0.1, weight_decay=0.1)
    optim.sgd_momentum_step(w, g, g.copy(), lr=0.1, momentum=0.9, weight_decay=0.1)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(state.m, 0.0)


# --- bad input -------------------------------------------------------------------------------

W = np.ones(3)


@pytest.mark.parametrize("call, error, match", [
    (lambda: optim.sgd_step(W, np.ones(4), lr=0.1), ValueError, "grad must have the shape"),
    (lambda: optim.sgd_step(W, W, lr=0.0), ValueError, "lr"),
    (lambda: optim.sgd_step(W, W, lr=0.1, weight_decay=-1.0), ValueError, "weight_decay"),
    (lambda: optim.sgd_step(W, W, lr=0.1, weight_decay=float("nan")), ValueError, "weight_decay"),
    (lambda: optim.sgd_step(np.array(["a"]), W, lr=0.1), TypeError, "w must hold real numbers"),
    (lambda: optim.sgd_step(np.array([]), np.array([]), lr=0.1), ValueError,
     "w must not be empty"),
    (lambda: optim.sgd_momentum_step(W, W, None, lr=0.1, momentum=1.0), ValueError, "momentum"),
    (lambda: optim.sgd_momentum_step(W, W, np.ones(2), lr=0.1, momentum=0.5), ValueError, "buf"),
    (lambda: optim.adam_step(W, W, (W, W, 0), lr=0.1), TypeError, "state must be an AdamState"),
    (lambda: optim.adam_step(W, W, optim.adam_init(np.ones(2)), lr=0.1), ValueError, "state.m"),
    (lambda: optim.adam_step(W, W, optim.adam_init(W), lr=0.1, beta1="0.9"), TypeError, "beta1"),
    (lambda: optim.adam_step(W, W, optim.adam_init(W), lr=0.1, beta2=1.0), ValueError, "beta2"),
    (lambda: optim.adam_step(W, W, optim.adam_init(W), lr=0.1, eps=0.0), ValueError, "eps"),
    (lambda: optim.adam_step(W, W, optim.adam_init(W), lr=0.1, decoupled=1), TypeError,
     "decoupled must be a bool"),
    (lambda: optim.adam_step(W, W, optim.AdamState(W, -W, 0), lr=0.1), ValueError, "state.v"),
    (lambda: optim.keras_sgd_step(W, W, np.ones(2), lr=0.1), ValueError, "velocity"),
    (lambda: optim.keras_adam_step(W, W, optim.adam_init(W), lr=0.1, beta1=-0.1), ValueError,
     "beta1"),
    (lambda: optim.keras_adam_step(W, W, optim.adam_init(W), lr=0.1, eps=-1.0), ValueError,
     "eps"),
    (lambda: optim.optimizer_trajectory(lambda w: w, W, rule="rmsprop", n_steps=2, lr=0.1),
     ValueError, "rule must be one of"),
    (lambda: optim.optimizer_trajectory(lambda w: w, W, rule="sgd", n_steps=-1, lr=0.1),
     ValueError, "n_steps"),
    (lambda: optim.optimizer_trajectory(None, W, rule="sgd", n_steps=1, lr=0.1), TypeError,
     "grad_fn"),
])
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()
