"""Batch-norm converters between PyTorch's convention (the book's) and Keras's, proven on the
real layers: the same batches through PyTorch-style layers and a Keras BatchNormalization
configured by the converters give equal running means, and running variances that differ by
exactly n/(n-1)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from regbook import convert
from regbook import np as rnp

MOMENTA = st.floats(0.0, 1.0, allow_nan=False)


# --- the formulas ----------------------------------------------------------------------------

def test_pytorch_defaults_in_keras_terms_and_back():
    assert convert.keras_bn_kwargs_from_torch() == {"momentum": 0.9, "epsilon": 1e-5}
    back = convert.torch_bn_kwargs_from_keras()
    assert back["momentum"] == pytest.approx(0.01) and back["eps"] == 1e-3


@given(MOMENTA)
def test_momentum_conversion_is_one_minus_m_and_round_trips(m):
    assert convert.keras_bn_momentum(m) == pytest.approx(1.0 - m)
    assert convert.torch_bn_momentum(convert.keras_bn_momentum(m)) == pytest.approx(m, abs=1e-15)


@given(MOMENTA, st.floats(1e-12, 1.0))
def test_kwargs_round_trip(m, eps):
    keras_kwargs = convert.keras_bn_kwargs_from_torch(momentum=m, eps=eps)
    back = convert.torch_bn_kwargs_from_keras(**keras_kwargs)
    assert back["momentum"] == pytest.approx(m, abs=1e-15) and back["eps"] == eps


@given(st.floats(0.0, 1e6), st.integers(2, 10_000))
def test_variance_conversions_are_inverse_bessel_factors(var, n):
    unbiased = convert.unbiased_variance(var, n)
    assert unbiased == pytest.approx(var * n / (n - 1))
    assert convert.biased_variance(unbiased, n) == pytest.approx(var)


def test_variance_conversion_matches_numpy_ddof():
    x = np.random.default_rng(0).normal(size=(7, 3))
    np.testing.assert_allclose(convert.unbiased_variance(x.var(0), 7), x.var(0, ddof=1))
    np.testing.assert_allclose(convert.biased_variance(x.var(0, ddof=1), 7), x.var(0))
    assert isinstance(convert.unbiased_variance(2.0, 3), float)


@pytest.mark.parametrize("call, error, match", [
    (lambda: convert.keras_bn_momentum(1.5), ValueError, "torch_momentum"),
    (lambda: convert.torch_bn_momentum(-0.1), ValueError, "keras_momentum"),
    (lambda: convert.keras_bn_momentum("0.1"), TypeError, "torch_momentum"),
    (lambda: convert.keras_bn_kwargs_from_torch(eps=0.0), ValueError, "eps"),
    (lambda: convert.torch_bn_kwargs_from_keras(epsilon=-1.0), ValueError, "epsilon"),
    (lambda: convert.unbiased_variance(1.0, 1), ValueError, "n"),
    (lambda: convert.unbiased_variance(-1.0, 5), ValueError, "biased_var"),
    (lambda: convert.biased_variance([1.0, np.nan], 5), ValueError, "unbiased_var"),
    (lambda: convert.biased_variance([1.0, -2.0], 5), ValueError, "unbiased_var"),
])
def test_bad_arguments_are_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- proven on the layers --------------------------------------------------------------------

N_BATCH, N_STEPS = 16, 30


def _batches(shape_tail=(4,), seed=0):
    rng = np.random.default_rng(seed)
    shift = rng.normal(size=shape_tail[0]) * 3
    shift = shift.reshape((-1,) + (1,) * (len(shape_tail) - 1))
    return [2.0 * rng.normal(size=(N_BATCH, *shape_tail)) + shift for _ in range(N_STEPS)]


def _keras_layer(keras, batches, *, moving_variance_initializer="ones", **kwargs):
    layer = keras.layers.BatchNormalization(
        dtype="float64", moving_variance_initializer=moving_variance_initializer, **kwargs)
    for x in batches:
        layer(x if x.ndim == 2 else x.transpose(0, 2, 3, 1), training=True)
    return layer


@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("tensorflow")
    import keras
    return keras


@pytest.mark.parametrize("m", [0.1, 0.3])
def test_keras_with_converted_settings_matches_torch_up_to_bessel(keras, m):
    torch = pytest.importorskip("torch")
    batches = _batches()
    ours = torch.nn.BatchNorm1d(4, momentum=m, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        ours.running_var.zero_()  # start both variances at 0, so the ratio is exactly n/(n-1)
    for x in batches:
        ours(torch.tensor(x))
    kl = _keras_layer(keras, batches, moving_variance_initializer="zeros",
                      **convert.keras_bn_kwargs_from_torch(momentum=m, eps=1e-5))
    np.testing.assert_allclose(kl.moving_mean.numpy(), ours.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(convert.unbiased_variance(kl.moving_variance.numpy(), N_BATCH),
                               ours.running_var.numpy(), rtol=1e-12)
    assert not np.allclose(kl.moving_variance.numpy(), ours.running_var.numpy(), rtol=1e-3)


def test_numpy_layer_matches_keras_images_after_conversion_from_the_default_start(keras):
    # With the default start (variance 1) the factor applies to everything but the
    # (1 - m)^t share that the initial 1 still holds after t steps.
    batches = _batches(shape_tail=(3, 2, 2), seed=1)
    n = N_BATCH * 2 * 2
    ours = rnp.BatchNorm(3)
    for x in batches:
        ours.forward(x, training=True)
    kl = _keras_layer(keras, batches, **convert.keras_bn_kwargs_from_torch())
    start = 0.9 ** N_STEPS
    np.testing.assert_allclose(kl.moving_mean.numpy(), ours.running_mean, rtol=1e-12)
    np.testing.assert_allclose(convert.unbiased_variance(kl.moving_variance.numpy() - start, n),
                               ours.running_var - start, rtol=1e-12)


def test_keras_defaults_differ_from_pytorchs(keras):
    batches = _batches(seed=2)
    ours = rnp.BatchNorm(4)
    for x in batches:
        ours.forward(x, training=True)
    plain = _keras_layer(keras, batches)  # momentum 0.99: after 30 steps still near the start
    assert np.max(np.abs(plain.moving_mean.numpy() - ours.running_mean)) > 0.5
    # ... and the running statistics converted back give the same layer in PyTorch terms
    back = rnp.BatchNorm(4, **convert.torch_bn_kwargs_from_keras(plain.momentum, plain.epsilon))
    for x in batches:
        back.forward(x, training=True)
    np.testing.assert_allclose(back.running_mean, plain.moving_mean.numpy(), rtol=1e-12)


def test_stored_statistics_are_copied_as_is_for_inference(keras):
    # Loading PyTorch running statistics into Keras needs no Bessel factor: both layers use
    # whatever variance is stored. Only the accumulation during training differs.
    ours = rnp.BatchNorm(4)
    for x in _batches(seed=3):
        ours.forward(x, training=True)
    kl = keras.layers.BatchNormalization(dtype="float64",
                                         **convert.keras_bn_kwargs_from_torch(eps=ours.eps))
    kl.build((None, 4))
    kl.set_weights([ours.gamma, ours.beta, ours.running_mean, ours.running_var])
    x = np.random.default_rng(4).normal(size=(5, 4))
    np.testing.assert_allclose(kl(x).numpy(), ours.forward(x, training=False), rtol=1e-12)


def test_regbooks_two_keras_layers_differ_only_as_the_converters_say(keras):
    # regbook.tf.BatchNorm (PyTorch's convention) and regbook.tf.KerasBatchNorm configured by
    # keras_bn_kwargs_from_torch: equal outputs and running means, variances off by n/(n-1).
    import regbook.tf as rtf
    m, eps = 0.25, 1e-4
    torch_style = rtf.BatchNorm(4, momentum=m, eps=eps, dtype="float64")
    keras_style = rtf.KerasBatchNorm(dtype="float64", **convert.keras_bn_kwargs_from_torch(m, eps))
    for layer in (torch_style, keras_style):
        layer.build((N_BATCH, 4))
    torch_style.running_var.assign(np.zeros(4))
    keras_style.moving_variance.assign(np.zeros(4))
    for x in _batches(seed=5):
        np.testing.assert_allclose(torch_style(x, training=True).numpy(),
                                   keras_style(x, training=True).numpy(), rtol=1e-12)
    np.testing.assert_allclose(torch_style.running_mean.numpy(), keras_style.moving_mean.numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(
        torch_style.running_var.numpy(),
        convert.unbiased_variance(keras_style.moving_variance.numpy(), N_BATCH), rtol=1e-12)
