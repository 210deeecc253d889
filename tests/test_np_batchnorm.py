"""Batch normalization in NumPy: the forward/backward pair and the BatchNorm layer.

Framework comparisons live in test_framework_batchnorm.py; this file needs only NumPy.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from regbook import np as rnp
from regbook.np.gradcheck import numerical_gradient, rel_error

SHAPES = [(6, 4), (3, 2, 4, 5), (1, 3, 2, 2)]


def _data(shape, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = 2.0 * rng.normal(size=shape) + 1.0
    return x, rng.normal(size=c), rng.normal(size=c), rng.normal(size=shape)


def _columns(a):
    """(N, C) or (N, C, H, W) -> (values, C): one column per feature."""
    return a if a.ndim == 2 else a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])


def _trained_layer(n_steps=3, shape=(10, 3), momentum=0.1):
    layer = rnp.BatchNorm(shape[1], momentum=momentum)
    rng = np.random.default_rng(1)
    for _ in range(n_steps):
        layer.forward(3.0 * rng.normal(size=shape) - 2.0, training=True)
    return layer


# --- forward ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_forward_is_gamma_times_standardised_x_plus_beta(shape):
    x, gamma, beta, _ = _data(shape)
    out, _ = rnp.batchnorm_forward(x, gamma, beta, eps=1e-5)
    cols = _columns(x)
    expected = gamma * (cols - cols.mean(0)) / np.sqrt(cols.var(0) + 1e-5) + beta
    np.testing.assert_allclose(_columns(out), expected, rtol=1e-12, atol=1e-12)


# Big enough that the elementwise work runs on rows of several examples (see _row_layout).
GROUPED_SHAPES = [(48, 1000), (64, 300), (6, 3, 40, 40)]


@pytest.mark.parametrize("shape", GROUPED_SHAPES)
def test_grouped_rows_give_the_textbook_forward_and_backward(shape):
    from regbook.np.batchnorm import _row_layout

    rows, _ = _row_layout(shape)
    assert 1 < rows[0] < shape[0]                  # several examples per row, several rows
    x, gamma, beta, dout = _data(shape, seed=7)
    out, cache = rnp.batchnorm_forward(x, gamma, beta, eps=1e-5)
    dx, dgamma, dbeta = rnp.batchnorm_backward(dout, cache)
    # the staged computation, one column per feature
    cols, g = _columns(x), _columns(dout)
    m = len(cols)
    xhat = (cols - cols.mean(0)) / np.sqrt(cols.var(0) + 1e-5)
    dxhat = g * gamma
    expected_dx = (m * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0)) \
        / (m * np.sqrt(cols.var(0) + 1e-5))
    np.testing.assert_allclose(_columns(out), gamma * xhat + beta, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(_columns(dx), expected_dx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dgamma, (g * xhat).sum(0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dbeta, g.sum(0), rtol=1e-12, atol=1e-10)


def test_images_are_normalised_per_channel_like_a_flattened_batch():
    x, gamma, beta, _ = _data((3, 2, 4, 5))
    out4, _ = rnp.batchnorm_forward(x, gamma, beta)
    out2, _ = rnp.batchnorm_forward(_columns(x), gamma, beta)
    np.testing.assert_allclose(_columns(out4), out2, rtol=1e-13, atol=1e-13)


def test_float32_stays_float32():
    x, gamma, beta, dout = (a.astype(np.float32) for a in _data((8, 3)))
    out, cache = rnp.batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = rnp.batchnorm_backward(dout, cache)
    assert {a.dtype for a in (out, dx, dgamma, dbeta)} == {np.dtype(np.float32)}
    layer = rnp.BatchNorm(3)
    assert layer.forward(x, training=True).dtype == np.float32
    assert layer.backward(dout).dtype == np.float32
    assert layer.forward(x, training=False).dtype == np.float32


# --- hypothesis properties -------------------------------------------------------------------

_batches = st.tuples(st.integers(2, 12), st.integers(1, 4)).flatmap(
    lambda s: hnp.arrays(np.float64, s, elements=st.floats(-1e3, 1e3, allow_nan=False)))


@given(_batches)
def test_training_output_has_zero_mean_and_variance_var_over_var_plus_eps(x):
    d = x.shape[1]
    out, _ = rnp.batchnorm_forward(x, np.ones(d), np.zeros(d), eps=1e-5)
    var = x.var(axis=0)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-8)
    np.testing.assert_allclose(out.var(axis=0), var / (var + 1e-5), rtol=1e-6, atol=1e-9)


@given(_batches)
def test_any_non_constant_feature_gets_unit_variance(x):
    d = x.shape[1]
    out, _ = rnp.batchnorm_forward(x, np.ones(d), np.zeros(d), eps=1e-5)
    spread = x.var(axis=0) > 1e-2  # non-constant on the scale of eps = 1e-5
    np.testing.assert_allclose(out.var(axis=0)[spread], 1.0, atol=1e-3)
    np.testing.assert_allclose(out.mean(axis=0)[spread], 0.0, atol=1e-8)


@given(st.integers(2, 10), st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 2**31))
def test_constant_features_give_beta_and_finite_gradients_not_nan(n, value, seed):
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.full(n, value), rng.normal(size=n)])
    gamma, beta = np.array([1.5, 1.0]), np.array([0.25, 0.0])
    out, cache = rnp.batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = rnp.batchnorm_backward(rng.normal(size=x.shape), cache)
    # x - mean is zero up to rounding of the mean, amplified by 1/sqrt(eps)
    np.testing.assert_allclose(out[:, 0], 0.25, atol=1e-12 * max(1.0, abs(value)) / np.sqrt(1e-5))
    assert all(np.all(np.isfinite(a)) for a in (out, dx, dgamma, dbeta))


# --- backward --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_finite_differences(shape):
    x, gamma, beta, dout = _data(shape, seed=3)

    def loss():
        return np.sum(rnp.batchnorm_forward(x, gamma, beta)[0] * dout)

    dx, dgamma, dbeta = rnp.batchnorm_backward(dout, rnp.batchnorm_forward(x, gamma, beta)[1])
    assert rel_error(dx, numerical_gradient(lambda _: loss(), x)) < 1e-7
    assert rel_error(dgamma, numerical_gradient(lambda _: loss(), gamma)) < 1e-7
    assert rel_error(dbeta, numerical_gradient(lambda _: loss(), beta)) < 1e-7


def test_constant_upstream_gradient_gives_exactly_zero_dx():
    # The trap of checking with loss = out.sum(): the normalised output's sum does not depend
    # on x, so dx is zero and such a check proves nothing.
    x, gamma, beta, _ = _data((7, 3))
    _, cache = rnp.batchnorm_forward(x, gamma, beta)
    dx, _, _ = rnp.batchnorm_backward(np.ones_like(x), cache)
    np.testing.assert_allclose(dx, 0.0, atol=1e-13)


def test_dx_sums_to_zero_per_feature():
    x, gamma, beta, dout = _data((3, 2, 4, 5), seed=4)
    dx, _, _ = rnp.batchnorm_backward(dout, rnp.batchnorm_forward(x, gamma, beta)[1])
    np.testing.assert_allclose(_columns(dx).sum(axis=0), 0.0, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_layer_backward_matches_finite_differences_in_both_modes(training):
    layer = _trained_layer()
    layer.gamma = [0.5, -1.5, 2.0]
    layer.beta = [0.1, 0.2, -0.3]
    x, _, _, dout = _data((5, 3), seed=5)
    stats = [layer.running_mean.copy(), layer.running_var.copy()]

    def loss(_):
        out = layer.forward(x, training=training)
        layer.running_mean, layer.running_var = stats  # keep the layer fixed while differencing
        return np.sum(out * dout)

    numeric = {k: numerical_gradient(loss, p) for k, p in layer.params.items()}
    numeric_x = numerical_gradient(loss, x)
    loss(None)
    dx = layer.backward(dout)
    assert rel_error(dx, numeric_x) < 1e-7
    for k in layer.params:
        assert rel_error(layer.grads[k], numeric[k]) < 1e-7, k


# --- the layer -------------------------------------------------------------------------------

def test_layer_protocol_and_attributes_share_the_arrays():
    layer = rnp.BatchNorm(4)
    assert set(layer.params) == set(layer.grads) == {"gamma", "beta"}
    assert set(layer.buffers) == {"running_mean", "running_var"}
    assert layer.gamma is layer.params["gamma"] and layer.beta is layer.params["beta"]
    assert layer.running_mean is layer.buffers["running_mean"]
    assert layer.running_var is layer.buffers["running_var"]
    before = layer.params["gamma"]
    layer.gamma = np.arange(4.0)
    assert layer.params["gamma"] is before and np.all(before == np.arange(4.0))


def test_defaults_are_pytorchs():
    layer = rnp.BatchNorm(3)
    assert (layer.momentum, layer.eps) == (0.1, 1e-5)
    np.testing.assert_array_equal(layer.gamma, 1.0)
    np.testing.assert_array_equal(layer.beta, 0.0)
    np.testing.assert_array_equal(layer.running_mean, 0.0)
    np.testing.assert_array_equal(layer.running_var, 1.0)


def test_one_training_step_stores_the_unbiased_variance():
    x, _, _, _ = _data((5, 3))
    layer = rnp.BatchNorm(3, momentum=0.1)
    layer.forward(x, training=True)
    np.testing.assert_allclose(layer.running_mean, 0.1 * x.mean(0), rtol=1e-14)
    np.testing.assert_allclose(layer.running_var, 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-14)


def test_momentum_one_keeps_only_the_last_batch_and_zero_freezes():
    x, _, _, _ = _data((3, 2, 4, 5))
    last = rnp.BatchNorm(2, momentum=1.0)
    frozen = rnp.BatchNorm(2, momentum=0.0)
    for layer in (last, frozen):
        layer.forward(x + 5.0, training=True)
        layer.forward(x, training=True)
    np.testing.assert_allclose(last.running_mean, _columns(x).mean(0), rtol=1e-13)
    np.testing.assert_allclose(last.running_var, _columns(x).var(0, ddof=1), rtol=1e-13)
    np.testing.assert_array_equal(frozen.running_mean, 0.0)
    np.testing.assert_array_equal(frozen.running_var, 1.0)


def test_evaluation_mode_uses_running_statistics_and_changes_nothing():
    layer = _trained_layer()
    layer.gamma, layer.beta = [2.0, 1.0, 0.5], [0.0, 1.0, -1.0]
    stats = layer.running_mean.copy(), layer.running_var.copy()
    x = np.random.default_rng(2).normal(size=(4, 3))
    out = layer.forward(x, training=False)
    expected = layer.gamma * (x - stats[0]) / np.sqrt(stats[1] + 1e-5) + layer.beta
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    np.testing.assert_array_equal(layer.running_mean, stats[0])
    np.testing.assert_array_equal(layer.running_var, stats[1])
    # ... so one example at a time gives the same answer as the whole batch
    np.testing.assert_allclose(layer.forward(x[:1], training=False), out[:1], rtol=1e-13)


def test_training_and_evaluation_differ_on_the_same_input():
    layer = _trained_layer(n_steps=2)
    x = np.random.default_rng(3).normal(size=(6, 3))
    assert not np.allclose(layer.forward(x, training=True), layer.forward(x, training=False))


def test_a_single_image_with_several_pixels_may_train():
    layer = rnp.BatchNorm(3)
    out = layer.forward(np.random.default_rng(0).normal(size=(1, 3, 2, 2)), training=True)
    assert np.all(np.isfinite(out))


# --- errors, and nothing half-updated --------------------------------------------------------

@pytest.mark.parametrize("x, error, match", [
    (np.ones((1, 3)), ValueError, "more than 1 value per channel"),
    (np.ones((1, 3, 1, 1)), ValueError, "more than 1 value per channel"),
    (np.ones((4, 2)), ValueError, "num_features=3"),
    (np.ones((4, 2, 3, 3)), ValueError, "num_features=3"),
    (np.ones((4, 3, 2, 2, 2)), ValueError, "2 or 3 or 4-dimensional"),
    (np.array([[0.0, 1.0, np.nan], [1.0, 2.0, 3.0]]), ValueError, "finite"),
    (np.array([[0.0, 1.0, np.inf], [1.0, 2.0, 3.0]]), ValueError, "finite"),
    (np.array([["a", "b", "c"], ["d", "e", "f"]]), TypeError, "real numbers"),
])
def test_bad_training_input_is_rejected_and_running_stats_are_untouched(x, error, match):
    layer = _trained_layer()
    stats = layer.running_mean.copy(), layer.running_var.copy()
    with pytest.raises(error, match=match):
        layer.forward(x, training=True)
    np.testing.assert_array_equal(layer.running_mean, stats[0])
    np.testing.assert_array_equal(layer.running_var, stats[1])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_features=0), ValueError, "num_features"),
    (dict(num_features=2.0), TypeError, "num_features"),
    (dict(num_features=2, momentum=-0.1), ValueError, "momentum"),
    (dict(num_features=2, momentum=1.5), ValueError, "momentum"),
    (dict(num_features=2, momentum=float("nan")), ValueError, "momentum"),
    (dict(num_features=2, momentum=None), TypeError, "momentum"),
    (dict(num_features=2, eps=0.0), ValueError, "eps"),
    (dict(num_features=2, eps=-1e-5), ValueError, "eps"),
    (dict(num_features=2, dtype=np.int64), TypeError, "dtype"),
    (dict(num_features=2, dtype="int8"), TypeError, "dtype must be a floating dtype"),
])
def test_bad_settings_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        rnp.BatchNorm(**kwargs)


@pytest.mark.parametrize("dtype, expected", [(None, np.float64), ("float32", np.float32),
                                             (np.float32, np.float32), ("float64", np.float64)])
def test_dtype_none_means_float64_and_names_are_accepted(dtype, expected):
    layer = rnp.BatchNorm(3, dtype=dtype)
    assert {a.dtype for a in (layer.gamma, layer.beta, layer.running_mean, layer.running_var)} \
        == {np.dtype(expected)}


@pytest.mark.parametrize("call, error, match", [
    (lambda x, g: rnp.batchnorm_forward(x, g[:2], g), ValueError, "gamma"),
    (lambda x, g: rnp.batchnorm_forward(x, g, g[:2]), ValueError, "beta"),
    (lambda x, g: rnp.batchnorm_forward(x, g, g, eps=0.0), ValueError, "eps"),
    (lambda x, g: rnp.batchnorm_forward(x[:1], g, g), ValueError, "more than 1 value"),
    (lambda x, g: rnp.batchnorm_backward(x[:2], rnp.batchnorm_forward(x, g, g)[1]),
     ValueError, "dout"),
    (lambda x, g: rnp.batchnorm_backward(np.nan * x, rnp.batchnorm_forward(x, g, g)[1]),
     ValueError, "dout"),
])
def test_bad_function_arguments_are_rejected(call, error, match):
    x, gamma, _, _ = _data((4, 3))
    with pytest.raises(error, match=match):
        call(x, gamma)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_entries_anywhere_are_found_through_the_statistics(bad, shape, dtype):
    # The training-mode functions skip a separate isfinite pass: a NaN or inf in any entry
    # makes its feature's sum non-finite. Check every position of a small input.
    x, gamma, beta, dout = (a.astype(dtype) for a in _data(shape, seed=6))
    for index in np.ndindex(*shape):
        x_bad, dout_bad = x.copy(), dout.copy()
        x_bad[index] = bad
        dout_bad[index] = bad
        with pytest.raises(ValueError, match="x must contain only finite values"):
            rnp.batchnorm_forward(x_bad, gamma, beta)
        with pytest.raises(ValueError, match="dout must contain only finite values"):
            rnp.batchnorm_backward(dout_bad, rnp.batchnorm_forward(x, gamma, beta)[1])


def test_finite_input_whose_statistics_overflow_gets_its_own_message():
    x = np.array([[3e38, 1.0], [3e38, 2.0], [-3e38, 3.0]], dtype=np.float32)
    with pytest.raises(ValueError, match="x is too large"):
        rnp.batchnorm_forward(x, np.ones(2), np.zeros(2))


def test_layer_rejects_non_bool_training_and_backward_before_forward():
    layer = rnp.BatchNorm(2)
    with pytest.raises(TypeError, match="training"):
        layer.forward(np.ones((3, 2)), training="yes")
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((3, 2)))


def test_assigning_a_wrong_shape_parameter_is_rejected():
    layer = rnp.BatchNorm(3)
    with pytest.raises(ValueError, match="gamma"):
        layer.gamma = np.ones(2)
    np.testing.assert_array_equal(layer.gamma, 1.0)
