"""L1 / L2 penalties, their (sub)gradients and soft-thresholding (regbook.np.penalties)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from regbook import np as rnp

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False,
                   allow_subnormal=False)
weights = arrays(np.float64, st.integers(1, 12), elements=finite)
strengths = st.floats(min_value=0.0, max_value=1e2, allow_nan=False, allow_subnormal=False)


# --- values ------------------------------------------------------------------------------------

def test_l1_penalty_is_lam_times_sum_of_absolute_values():
    assert rnp.l1_penalty([1.0, -2.0, 3.0], 0.1) == pytest.approx(0.6)


def test_l2_penalty_has_the_one_half():
    # Book: (lam / 2) sum w^2, so lam = 0.2 on [1, -2, 3] gives 0.1 * 14 = 1.4.
    assert rnp.l2_penalty([1.0, -2.0, 3.0], 0.2) == pytest.approx(1.4)


def test_penalties_accept_weight_matrices():
    w = np.array([[1.0, -2.0], [0.5, 0.0]])
    assert rnp.l1_penalty(w, 2.0) == pytest.approx(7.0)
    assert rnp.l2_penalty(w, 2.0) == pytest.approx(5.25)
    assert rnp.l1_grad(w, 2.0).shape == w.shape


def test_l1_subgradient_is_zero_at_zero():
    np.testing.assert_array_equal(rnp.l1_grad([-3.0, 0.0, 0.5], 2.0), [-2.0, 0.0, 2.0])


def test_l2_gradient_is_lam_times_w():
    np.testing.assert_allclose(rnp.l2_grad([1.0, -2.0], 0.5), [0.5, -1.0])


def test_soft_threshold_values():
    np.testing.assert_array_equal(rnp.soft_threshold([-3.0, -1.0, 0.0, 0.5, 2.5], 1.0),
                                  [-2.0, 0.0, 0.0, 0.0, 1.5])


def test_soft_threshold_gives_exact_zeros_inside_the_threshold():
    x = np.linspace(-0.999, 0.999, 101)
    assert np.count_nonzero(rnp.soft_threshold(x, 1.0)) == 0


# --- properties --------------------------------------------------------------------------------

@given(weights, strengths)
def test_penalties_are_non_negative(w, lam):
    assert rnp.l1_penalty(w, lam) >= 0.0
    assert rnp.l2_penalty(w, lam) >= 0.0


@given(weights, strengths, st.floats(min_value=0.0, max_value=10.0, allow_subnormal=False))
def test_penalties_and_gradients_are_linear_in_lam(w, lam, k):
    for penalty in (rnp.l1_penalty, rnp.l2_penalty):
        assert penalty(w, k * lam) == pytest.approx(k * penalty(w, lam), rel=1e-12, abs=1e-300)
    for grad in (rnp.l1_grad, rnp.l2_grad):
        np.testing.assert_allclose(grad(w, k * lam), k * grad(w, lam), rtol=1e-12, atol=1e-300)


@given(arrays(np.float64, st.integers(1, 8), elements=finite), st.floats(0.0, 50.0),
       st.integers(0, 2**32 - 1))
def test_soft_threshold_is_the_prox_of_the_l1_norm(x, t, seed):
    # S_t(x) minimises 0.5||z - x||^2 + t||z||_1: no random candidate does better.
    def objective(z):
        return 0.5 * np.sum((z - x) ** 2, axis=-1) + t * np.sum(np.abs(z), axis=-1)

    best = objective(rnp.soft_threshold(x, t))
    rng = np.random.default_rng(seed)
    scale = 1.0 + np.abs(x).max()
    candidates = np.concatenate([
        x + scale * rng.standard_normal((200, x.size)),            # anywhere
        rnp.soft_threshold(x, t) + 1e-3 * rng.standard_normal((200, x.size)),  # nearby
        np.where(rng.random((50, x.size)) < 0.5, 0.0, x),          # other sparsity patterns
    ])
    assert np.all(objective(candidates) >= best - 1e-9 * (1.0 + abs(best)))


@given(arrays(np.float64, st.integers(1, 8),
              elements=st.floats(min_value=0.01, max_value=10.0)),
       st.lists(st.booleans(), min_size=8, max_size=8), st.floats(0.01, 10.0),
       st.integers(0, 2**32 - 1))
def test_l1_subgradient_matches_finite_differences_away_from_zero(magnitudes, signs, lam, seed):
    w = magnitudes * np.where(np.array(signs[: magnitudes.size]), 1.0, -1.0)
    rng = np.random.default_rng(seed)                  # random upstream, away from 0
    dout = rng.uniform(0.5, 2.0, w.shape) * rng.choice([-1.0, 1.0], w.shape)
    numeric = rnp.numerical_gradient(lambda v: dout @ np.abs(v) * lam, w.copy(), h=1e-5)
    assert rnp.rel_error(dout * rnp.l1_grad(w, lam), numeric) < 1e-7


def test_l2_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3))
    dout = rng.standard_normal((4, 3))
    numeric = rnp.numerical_gradient(lambda v: rnp.l2_penalty(np.sqrt(np.abs(dout)) * v, 0.7),
                                     w.copy())
    assert rnp.rel_error(np.abs(dout) * rnp.l2_grad(w, 0.7), numeric) < 1e-7


def test_inputs_are_not_modified():
    w = np.array([1.0, -2.0, 0.0])
    for f in (rnp.l1_grad, rnp.l2_grad, rnp.soft_threshold):
        f(w, 0.5)
    np.testing.assert_array_equal(w, [1.0, -2.0, 0.0])


# --- bad input ---------------------------------------------------------------------------------

FUNCTIONS = [rnp.l1_penalty, rnp.l1_grad, rnp.l2_penalty, rnp.l2_grad, rnp.soft_threshold]


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad, error, match", [
    (-0.1, ValueError, "[0, inf)"),
    (float("nan"), ValueError, "finite"),
    (float("inf"), ValueError, "finite"),
    ("0.1", TypeError, "real number"),
    (None, TypeError, "real number"),
    (True, TypeError, "real number"),
])
def test_bad_strength_is_rejected(f, bad, error, match):
    name = "t" if f is rnp.soft_threshold else "lam"
    with pytest.raises(error, match=f"{name} must") as info:
        f(np.ones(3), bad)
    assert match in str(info.value)


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad, error, match", [
    (np.array([]), ValueError, "empty"),
    (np.array([1.0, np.nan]), ValueError, "finite"),
    (np.array([1.0, np.inf]), ValueError, "finite"),
    (np.array(["a", "b"]), TypeError, "real numbers"),
    (np.array([True, False]), TypeError, "real numbers"),
    (np.array([1 + 2j]), TypeError, "real numbers"),
])
def test_bad_weights_are_rejected(f, bad, error, match):
    name = "x" if f is rnp.soft_threshold else "weights"
    with pytest.raises(error, match=f"{name} must") as info:
        f(bad, 0.1)
    assert match in str(info.value)


# --- models and lists of arrays ------------------------------------------------------------------

def _bn_mlp():
    return rnp.make_mlp(5, (4, 3), 2, batchnorm=True, dropout=0.1, seed=0, dtype="float64")


def test_split_decay_params_names_the_linear_kernels_only():
    model = _bn_mlp()   # 0 Linear, 1 BatchNorm, 2 ReLU, 3 Dropout, 4 Linear, 5 BN, ..., 8 Linear
    decay, no_decay = rnp.split_decay_params(model)
    assert decay == ["0.W", "4.W", "8.W"]
    assert no_decay == ["0.b", "1.gamma", "1.beta", "4.b", "5.gamma", "5.beta", "8.b"]
    assert sorted(decay + no_decay) == sorted(model.params)


def test_split_decay_params_of_a_single_linear_layer():
    assert rnp.split_decay_params(rnp.make_linear(3)) == (["W"], ["b"])


def test_split_decay_params_refuses_what_is_not_a_model():
    with pytest.raises(TypeError, match="model must follow the layer protocol"):
        rnp.split_decay_params(np.ones(3))


def test_penalties_of_a_model_sum_over_its_kernels_only():
    model = _bn_mlp()
    for p in model.params.values():
        p[...] = np.random.default_rng(0).standard_normal(p.shape)   # biases and BN non-zero
    kernels = [model.params[name] for name in rnp.split_decay_params(model)[0]]
    l1 = 0.3 * sum(np.abs(W).sum() for W in kernels)
    l2 = 0.35 * sum((W**2).sum() for W in kernels)
    assert rnp.l1_penalty(model, 0.3) == pytest.approx(l1, rel=1e-14)
    assert rnp.l2_penalty(model, 0.7) == pytest.approx(l2, rel=1e-14)
    assert rnp.l1_penalty(kernels, 0.3) == pytest.approx(l1, rel=1e-14)
    assert rnp.l2_penalty(kernels, 0.7) == pytest.approx(l2, rel=1e-14)


def test_a_list_of_arrays_of_different_shapes_is_summed():
    arrays = [np.array([1.0, -2.0]), np.array([[3.0], [-4.0]])]
    assert rnp.l1_penalty(arrays, 0.5) == pytest.approx(5.0)
    assert rnp.l2_penalty(arrays, 2.0) == pytest.approx(30.0)


def test_a_bad_array_in_a_list_is_named_by_its_index():
    with pytest.raises(ValueError, match=r"weights\[1\] must contain only finite"):
        rnp.l1_penalty([np.ones(2), np.array([np.nan])], 0.1)
