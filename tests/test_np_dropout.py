"""regbook.np dropout: inverted and original scaling, statistics, backward, validation."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from regbook import np as rnp

rng0 = np.random.default_rng


def _x(shape=(40, 30), seed=0):
    return rng0(seed).standard_normal(shape)


# --- training mode ---------------------------------------------------------------------------

@given(p=st.floats(0.0, 0.95), seed=st.integers(0, 2**32 - 1),
       shape=st.tuples(st.integers(1, 6), st.integers(1, 6)))
def test_training_output_is_zero_or_input_over_keep_probability(p, seed, shape):
    x = _x(shape, seed % 1000)
    out, cache = rnp.dropout_forward(x, p, rng=rng0(seed))
    mask = cache["mask"]
    np.testing.assert_array_equal(out[~mask], 0.0)
    np.testing.assert_allclose(out[mask], x[mask] / (1 - p), rtol=1e-15)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_kept_fraction_is_within_a_binomial_confidence_bound(p):
    n = 200_000
    _, cache = rnp.dropout_forward(np.ones(n), p, rng=rng0(1))
    kept = int(cache["mask"].sum())
    low, high = stats.binomtest(kept, n, 1 - p).proportion_ci(confidence_level=0.9999)
    assert low <= 1 - p <= high


@pytest.mark.parametrize("scaling", ["inverted", "original"])
@pytest.mark.parametrize("p", [0.2, 0.6])
def test_mean_training_output_matches_the_evaluation_output(p, scaling):
    # E[y_train] = y_eval: x itself (inverted) or (1 - p) x (original).
    x = _x((8,), seed=2)
    repeats = 40_000
    outs, _ = rnp.dropout_forward(np.tile(x, (repeats, 1)), p, rng=rng0(3), scaling=scaling)
    expected, _ = rnp.dropout_forward(x, p, rng=None, training=False, scaling=scaling)
    # per-unit standard deviation of one draw is |x| sqrt(p (1 - p)) * scale
    scale = 1 / (1 - p) if scaling == "inverted" else 1.0
    sem = np.abs(x) * np.sqrt(p * (1 - p)) * scale / np.sqrt(repeats)
    assert np.all(np.abs(outs.mean(axis=0) - expected) < 5 * sem)


def test_inverted_training_mean_equals_input_over_a_large_layer():
    x = np.full(500_000, 3.0)
    out, _ = rnp.dropout_forward(x, 0.5, rng=rng0(4))
    assert abs(out.mean() - 3.0) < 5 * 3.0 / np.sqrt(len(x))


def test_p_zero_keeps_every_unit_unscaled():
    x = _x()
    out, cache = rnp.dropout_forward(x, 0.0, rng=rng0(0))
    assert cache["mask"].all()
    np.testing.assert_array_equal(out, x)


def test_same_seed_gives_the_same_mask_and_another_seed_does_not():
    x = _x()
    a, _ = rnp.dropout_forward(x, 0.5, rng=rng0(7))
    b, _ = rnp.dropout_forward(x, 0.5, rng=rng0(7))
    c, _ = rnp.dropout_forward(x, 0.5, rng=rng0(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_given_keep_mask_is_used_instead_of_a_draw():
    x = _x((3, 4))
    mask = np.array([[True, False, True, False]] * 3)
    out, cache = rnp.dropout_forward(x, 0.25, rng=None, keep_mask=mask)
    np.testing.assert_array_equal(out, np.where(mask, x / 0.75, 0.0))
    assert cache["mask"] is not None and np.array_equal(cache["mask"], mask)


def test_dropout_mask_matches_the_mask_of_the_forward_pass():
    _, cache = rnp.dropout_forward(np.ones((5, 7)), 0.4, rng=rng0(11))
    np.testing.assert_array_equal(rnp.dropout_mask((5, 7), 0.4, rng=rng0(11)), cache["mask"])


def test_float32_input_stays_float32():
    x = _x().astype(np.float32)
    out, cache = rnp.dropout_forward(x, 0.5, rng=rng0(0))
    assert out.dtype == np.float32
    assert rnp.dropout_backward(np.ones_like(x), cache).dtype == np.float32


# --- evaluation mode --------------------------------------------------------------------------

@given(p=st.floats(0.0, 0.99), seed=st.integers(0, 1000))
def test_evaluation_mode_is_the_identity(p, seed):
    x = _x((5, 3), seed)
    out, cache = rnp.dropout_forward(x, p, rng=rng0(seed), training=False)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(rnp.dropout_backward(x, cache), x)


def test_evaluation_mode_draws_no_random_numbers():
    rng = rng0(5)
    rnp.dropout_forward(_x(), 0.5, rng=rng, training=False)
    assert rng.random() == rng0(5).random()


def test_original_scaling_multiplies_by_keep_probability_at_evaluation():
    x = _x()
    out, _ = rnp.dropout_forward(x, 0.3, rng=None, training=False, scaling="original")
    np.testing.assert_allclose(out, 0.7 * x, rtol=1e-15)


def test_original_scaling_does_not_scale_in_training():
    x = _x()
    out, cache = rnp.dropout_forward(x, 0.3, rng=rng0(0), scaling="original")
    np.testing.assert_array_equal(out, np.where(cache["mask"], x, 0.0))


# --- backward ---------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.0, 0.3, 0.9])
def test_backward_is_mask_over_keep_probability_times_dout(p):
    x, dout = _x(seed=1), _x(seed=2)
    _, cache = rnp.dropout_forward(x, p, rng=rng0(3))
    np.testing.assert_allclose(rnp.dropout_backward(dout, cache),
                               cache["mask"] / (1 - p) * dout, rtol=1e-15)


def test_original_backward_is_mask_times_dout():
    x, dout = _x(seed=1), _x(seed=2)
    _, cache = rnp.dropout_forward(x, 0.4, rng=rng0(3), scaling="original")
    np.testing.assert_array_equal(rnp.dropout_backward(dout, cache), cache["mask"] * dout)


@pytest.mark.parametrize("scaling", ["inverted", "original"])
@pytest.mark.parametrize("training", [True, False])
def test_backward_matches_finite_differences_with_a_fixed_mask(scaling, training):
    x, dout = _x((6, 5), seed=4), _x((6, 5), seed=5)
    mask = rnp.dropout_mask(x.shape, 0.4, rng=rng0(6))

    def f(v):
        out, _ = rnp.dropout_forward(v, 0.4, rng=None, training=training, scaling=scaling,
                                     keep_mask=mask)
        return float(np.sum(out * dout))

    _, cache = rnp.dropout_forward(x, 0.4, rng=None, training=training, scaling=scaling,
                                   keep_mask=mask)
    assert rnp.rel_error(rnp.dropout_backward(dout, cache), rnp.numerical_gradient(f, x)) < 1e-7


# --- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan"), float("inf")])
def test_p_outside_zero_one_is_rejected(p):
    with pytest.raises(ValueError, match=r"p must .*\[0, 1\)"):
        rnp.dropout_forward(_x(), p, rng=rng0(0))


def test_p_of_wrong_type_is_rejected():
    with pytest.raises(TypeError, match="p must be a real number"):
        rnp.dropout_forward(_x(), "0.5", rng=rng0(0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(bad):
    x = _x()
    x[2, 3] = bad
    with pytest.raises(ValueError, match="x must contain only finite values"):
        rnp.dropout_forward(x, 0.5, rng=rng0(0))


def test_training_without_a_generator_is_rejected():
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        rnp.dropout_forward(_x(), 0.5, rng=np.random.RandomState(0))


def test_keep_mask_of_wrong_shape_or_type_is_rejected():
    with pytest.raises(ValueError, match="keep_mask must have the shape of x"):
        rnp.dropout_forward(_x((3, 4)), 0.5, rng=None, keep_mask=np.ones((4, 3), bool))
    with pytest.raises(TypeError, match="keep_mask must be a boolean array"):
        rnp.dropout_forward(_x((3, 4)), 0.5, rng=None, keep_mask=np.ones((3, 4)))


def test_unknown_scaling_is_rejected():
    with pytest.raises(ValueError, match="scaling must be one of"):
        rnp.dropout_forward(_x(), 0.5, rng=rng0(0), scaling="upside-down")


def test_backward_rejects_dout_of_the_wrong_shape():
    _, cache = rnp.dropout_forward(_x((3, 4)), 0.5, rng=rng0(0))
    with pytest.raises(ValueError, match="dout must have the forward output's shape"):
        rnp.dropout_backward(np.ones((4, 3)), cache)


@pytest.mark.parametrize("training", ["False", 1, None])
def test_a_training_flag_that_is_not_a_bool_is_rejected(training):
    with pytest.raises(TypeError, match="training must be a bool"):
        rnp.dropout_forward(_x(), 0.5, rng=rng0(0), training=training)
