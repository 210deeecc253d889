"""Data augmentation: NumPy shifts and noise, and their Keras preprocessing-layer twin."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from regbook import data
from regbook import np as rnp


@pytest.fixture(scope="module")
def digits():
    split = data.digits_split(n_train=50)
    return split.X_train, split.y_train


def _rng(seed=0):
    return np.random.default_rng(seed)


def _all_shifts(x, max_shift):
    """Every whole-pixel shift of one flat image, as a set of byte strings."""
    offsets = range(-max_shift, max_shift + 1)
    return {rnp.shift_images(x[None], dy, dx)[0].tobytes()
            for dy, dx in itertools.product(offsets, offsets)}


# --- shapes, dtypes, determinism, labels -----------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_augment_keeps_shape_and_dtype(digits, dtype):
    X = digits[0].astype(dtype)
    for out in (rnp.random_shift(X, 2, rng=_rng()), rnp.add_gaussian_noise(X, 0.1, rng=_rng()),
                rnp.augment_batch(X, rng=_rng(), max_shift=1, sigma=0.1)):
        assert out.shape == X.shape and out.dtype == dtype


def test_integer_images_come_back_as_float64():
    X = np.zeros((3, 64), dtype=np.int64)
    assert rnp.shift_images(X, 1, 0).dtype == np.float64


def test_same_seed_same_augmentation_different_seed_different(digits):
    X = digits[0]
    a = rnp.augment_batch(X, rng=_rng(1), max_shift=1, sigma=0.1)
    b = rnp.augment_batch(X, rng=_rng(1), max_shift=1, sigma=0.1)
    c = rnp.augment_batch(X, rng=_rng(2), max_shift=1, sigma=0.1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_augment_does_not_modify_its_input(digits):
    X = digits[0].copy()
    rnp.augment_batch(X, rng=_rng(), max_shift=2, sigma=0.3)
    np.testing.assert_array_equal(X, digits[0])


def test_augment_dataset_repeats_labels_unchanged(digits):
    X, y = digits
    X_aug, y_aug = rnp.augment_dataset(X, y, rng=_rng(), copies=3, sigma=0.05)
    assert X_aug.shape == (3 * len(X), 64) and y_aug.shape == (3 * len(y),)
    np.testing.assert_array_equal(y_aug, np.tile(y, 3))
    assert y_aug.dtype == y.dtype


def test_augment_dataset_with_original_puts_it_first(digits):
    X, y = digits
    X_aug, y_aug = rnp.augment_dataset(X, y, rng=_rng(), copies=2, include_original=True)
    assert len(X_aug) == 3 * len(X)
    np.testing.assert_array_equal(X_aug[:len(X)], X)
    np.testing.assert_array_equal(y_aug, np.tile(y, 3))


def test_augment_dataset_copies_differ_from_each_other(digits):
    X, y = digits
    X_aug, _ = rnp.augment_dataset(X, y, rng=_rng(), copies=2, max_shift=1)
    assert not np.array_equal(X_aug[:len(X)], X_aug[len(X):])


def test_each_augmented_copy_is_a_shift_of_its_source(digits):
    X, y = digits
    X_aug, _ = rnp.augment_dataset(X[:10], y[:10], rng=_rng(), copies=2, max_shift=1)
    for i, row in enumerate(X_aug):
        assert row.tobytes() in _all_shifts(X[i % 10], 1)


# --- identities and what a shift does ---------------------------------------------------------

def test_zero_shift_and_zero_noise_are_the_identity(digits):
    X = digits[0]
    np.testing.assert_array_equal(rnp.random_shift(X, 0, rng=_rng()), X)
    np.testing.assert_array_equal(rnp.add_gaussian_noise(X, 0.0, rng=_rng()), X)
    np.testing.assert_array_equal(rnp.augment_batch(X, rng=_rng(), max_shift=0, sigma=0.0), X)


def test_shift_right_moves_every_column_right():
    img = np.arange(1, 65, dtype=float).reshape(8, 8)
    out = rnp.shift_images(img.reshape(1, 64), 0, 1)[0].reshape(8, 8)
    np.testing.assert_array_equal(out[:, 1:], img[:, :-1])
    np.testing.assert_array_equal(out[:, 0], 0.0)


def test_shift_down_moves_every_row_down():
    img = np.arange(1, 65, dtype=float).reshape(8, 8)
    out = rnp.shift_images(img.reshape(1, 64), 2, 0)[0].reshape(8, 8)
    np.testing.assert_array_equal(out[2:], img[:-2])
    np.testing.assert_array_equal(out[:2], 0.0)


def test_right_then_left_recovers_all_but_the_lost_border_column(digits):
    X = digits[0]
    back = rnp.shift_images(rnp.shift_images(X, 0, 1), 0, -1).reshape(-1, 8, 8)
    images = X.reshape(-1, 8, 8)
    np.testing.assert_array_equal(back[:, :, :7], images[:, :, :7])
    np.testing.assert_array_equal(back[:, :, 7], 0.0)


def test_shift_keeps_mass_when_nothing_crosses_the_border():
    X = np.zeros((1, 64))
    X[0, 3 * 8 + 4] = 0.7  # one pixel at row 3, column 4
    out = rnp.shift_images(X, -2, 3).reshape(8, 8)
    assert out.sum() == pytest.approx(0.7) and out[1, 7] == 0.7


def test_per_image_shifts_apply_to_their_own_image():
    X = np.zeros((2, 64))
    X[:, 27] = 1.0  # pixel (3, 3)
    out = rnp.shift_images(X, np.array([1, -1]), np.array([0, 2])).reshape(2, 8, 8)
    assert out[0, 4, 3] == 1.0 and out[1, 2, 5] == 1.0 and out.sum() == 2.0


def test_random_shift_draws_every_offset_uniformly():
    X = np.zeros((9000, 64))
    X[:, 27] = 1.0
    positions = rnp.random_shift(X, 1, rng=_rng()).argmax(axis=1)
    values, counts = np.unique(positions, return_counts=True)
    expected = sorted(27 + 8 * dy + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    np.testing.assert_array_equal(values, expected)
    np.testing.assert_allclose(counts / len(X), 1 / 9, atol=0.015)


@given(st.integers(0, 3), st.integers(0, 2**32 - 1))
def test_random_shift_output_is_one_of_the_possible_shifts(max_shift, seed):
    x = np.random.default_rng(seed).random((1, 64))
    out = rnp.random_shift(x, max_shift, rng=_rng(seed))
    assert out[0].tobytes() in _all_shifts(x[0], max_shift)


def test_non_square_images_use_image_shape():
    X = np.arange(1, 13, dtype=float).reshape(1, 12)  # one 3x4 image
    out = rnp.shift_images(X, 0, 1, image_shape=(3, 4)).reshape(3, 4)
    np.testing.assert_array_equal(out[:, 1:], X.reshape(3, 4)[:, :-1])


# --- noise ------------------------------------------------------------------------------------

def test_noise_has_mean_zero_and_std_sigma_before_clipping():
    X = np.full((400, 64), 0.5)
    sigma = 0.1  # 5 sigma inside [0, 1]: clipping almost never happens
    noise = rnp.add_gaussian_noise(X, sigma, rng=_rng()) - X
    assert abs(noise.mean()) < 4 * sigma / np.sqrt(noise.size)
    assert noise.std() == pytest.approx(sigma, rel=0.02)


@given(st.floats(0.0, 2.0), st.integers(0, 2**32 - 1))
def test_noisy_pixels_stay_in_the_unit_interval(sigma, seed):
    X = np.random.default_rng(seed).random((5, 64))
    out = rnp.augment_batch(X, rng=_rng(seed), max_shift=1, sigma=sigma)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_large_noise_is_clipped_to_both_ends(digits):
    out = rnp.add_gaussian_noise(digits[0], 5.0, rng=_rng())
    assert (out == 0.0).any() and (out == 1.0).any()


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    (dict(max_shift=-1), ValueError, "max_shift must be >= 0"),
    (dict(max_shift=8), ValueError, "max_shift must be <= 7"),
    (dict(max_shift=1.5), TypeError, "max_shift must be an integer"),
    (dict(sigma=-0.1), ValueError, "sigma must be in"),
    (dict(sigma=float("nan")), ValueError, "sigma must be a finite"),
    (dict(rng=0), TypeError, "rng must be a numpy.random.Generator"),
    (dict(image_shape=(8, 7)), ValueError, "56 columns"),
    (dict(image_shape=(64,)), ValueError, "image_shape must be"),
])
def test_augment_rejects_bad_arguments(digits, kwargs, error, match):
    call = dict(rng=_rng(), max_shift=1, sigma=0.1) | kwargs
    with pytest.raises(error, match=match):
        rnp.augment_batch(digits[0], **call)


@pytest.mark.parametrize("X, error, match", [
    (np.zeros(64), ValueError, "X must be 2-dimensional"),
    (np.zeros((3, 63)), ValueError, "64 columns"),
    (np.full((2, 64), 1.5), ValueError, r"X must hold pixels in \[0, 1\]"),
    (np.full((2, 64), np.nan), ValueError, "finite"),
    (np.zeros((2, 64), dtype=bool), TypeError, "X must hold real numbers"),
])
def test_augment_rejects_bad_images(X, error, match):
    with pytest.raises(error, match=match):
        rnp.augment_batch(X, rng=_rng())


def test_noise_rejects_pixels_outside_unit_interval():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rnp.add_gaussian_noise(-np.ones((2, 4)), 0.1, rng=_rng())


@pytest.mark.parametrize("dy, error, match", [
    (0.5, TypeError, "dy must hold integers"),
    (np.array([1, 2, 3]), ValueError, r"dy must be an integer or have shape \(2,\)"),
])
def test_shift_images_rejects_bad_offsets(dy, error, match):
    with pytest.raises(error, match=match):
        rnp.shift_images(np.zeros((2, 64)), dy, 0)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(y=np.zeros(3)), ValueError, "y must have shape"),
    (dict(copies=0), ValueError, "copies must be >= 1"),
    (dict(include_original=1), TypeError, "include_original must be a bool"),
])
def test_augment_dataset_rejects_bad_arguments(digits, kwargs, error, match):
    X, y = digits
    call = dict(y=y, rng=_rng(), copies=2) | kwargs
    with pytest.raises(error, match=match):
        rnp.augment_dataset(X, **call)


def test_augment_dataset_error_leaves_generator_untouched(digits):
    rng = _rng(5)
    with pytest.raises(ValueError):
        rnp.augment_dataset(digits[0], digits[1], rng=rng, sigma=-1.0)
    assert rng.integers(1 << 30) == _rng(5).integers(1 << 30)


# --- Keras preprocessing layers ----------------------------------------------------------------

quiet_keras = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def rtf():
    pytest.importorskip("tensorflow")
    import regbook.tf as rtf
    return rtf


@quiet_keras
def test_keras_augmenter_shapes_flat_and_images(rtf, digits):
    X = digits[0]
    flat = rtf.make_augmenter(1, 0.1, flat=True, seed=0)
    images = rtf.make_augmenter(1, 0.1, seed=0)
    assert rtf.apply_augmenter(flat, X).shape == X.shape
    out = rtf.apply_augmenter(images, X.reshape(-1, 8, 8, 1))
    assert out.shape == (len(X), 8, 8, 1) and out.dtype == np.float32


@quiet_keras
def test_keras_inference_mode_is_the_identity(rtf, digits):
    X = digits[0]
    model = rtf.make_augmenter(2, 0.3, flat=True, seed=0)
    np.testing.assert_array_equal(rtf.apply_augmenter(model, X, training=False), X)


@quiet_keras
def test_keras_bare_call_shifts_but_adds_no_noise(rtf, digits):
    # Keras 3 pitfall: RandomTranslation defaults to training=True, GaussianNoise to False.
    X = digits[0][:30]
    out = np.asarray(rtf.make_augmenter(1, 0.5, flat=True, seed=0)(X))
    assert not np.array_equal(out, X)
    for i, row in enumerate(out):
        assert row.tobytes() in _all_shifts(X[i], 1)


@quiet_keras
def test_keras_same_seed_same_augmentation(rtf, digits):
    X = digits[0]
    a = rtf.apply_augmenter(rtf.make_augmenter(1, 0.1, flat=True, seed=4), X)
    b = rtf.apply_augmenter(rtf.make_augmenter(1, 0.1, flat=True, seed=4), X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, X)


@quiet_keras
def test_keras_translation_gives_the_numpy_integer_shifts(rtf, digits):
    X = digits[0]
    model = rtf.make_augmenter(1, 0.0, flat=True, seed=0)
    outputs = rtf.apply_augmenter(model, np.repeat(X[:5], 20, axis=0))
    for i, row in enumerate(outputs):
        assert row.tobytes() in _all_shifts(X[i // 20], 1)
    assert len({row.tobytes() for row in outputs[:20]}) > 3  # really random


@quiet_keras
def test_keras_translation_makes_end_shifts_half_as_likely(rtf):
    X = np.zeros((4000, 64), dtype=np.float32)
    X[:, 27] = 1.0
    positions = rtf.apply_augmenter(rtf.make_augmenter(1, flat=True, seed=0), X).argmax(axis=1)
    dx = positions % 8 - 3
    freq = np.array([np.mean(dx == d) for d in (-1, 0, 1)])
    np.testing.assert_allclose(freq, [0.25, 0.5, 0.25], atol=0.03)


@quiet_keras
def test_keras_noise_statistics_and_clipping(rtf):
    X = np.full((200, 64), 0.5, dtype=np.float32)
    noise = rtf.apply_augmenter(rtf.make_augmenter(0, 0.1, flat=True, seed=0), X) - X
    assert abs(noise.mean()) < 4 * 0.1 / np.sqrt(noise.size)
    assert noise.std() == pytest.approx(0.1, rel=0.03)
    big = rtf.apply_augmenter(rtf.make_augmenter(0, 1.0, flat=True, seed=0), X)
    assert big.min() == 0.0 and big.max() == 1.0


@quiet_keras
def test_keras_zero_shift_zero_noise_is_the_identity_in_training(rtf, digits):
    X = digits[0]
    np.testing.assert_array_equal(rtf.apply_augmenter(rtf.make_augmenter(0, 0.0, flat=True), X), X)


@quiet_keras
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(max_shift=8), ValueError, "max_shift must be <= 7"),
    (dict(sigma=-1.0), ValueError, "sigma must be in"),
    (dict(sigma=1.5), ValueError, r"sigma must be in \[0, 1\]"),
    (dict(flat="yes"), TypeError, "flat must be a bool"),
    (dict(clip=1), TypeError, "clip must be a bool"),
    (dict(seed=2**32), ValueError, "seed must be <="),
    (dict(seed=-1), ValueError, "seed must be >= 0"),
    (dict(image_shape=(8,)), ValueError, "image_shape must be"),
])
def test_keras_make_augmenter_rejects_bad_arguments(rtf, kwargs, error, match):
    with pytest.raises(error, match=match):
        rtf.make_augmenter(**kwargs)


@quiet_keras
def test_keras_augment_rejects_wrong_shape_and_non_model(rtf):
    model = rtf.make_augmenter(1, flat=True)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 64\)"):
        rtf.apply_augmenter(model, np.zeros((2, 8, 8, 1)))
    with pytest.raises(TypeError, match="augmenter must be a keras.Model"):
        rtf.apply_augmenter(lambda x: x, np.zeros((2, 64)))
    with pytest.raises(TypeError, match="training must be a bool"):
        rtf.apply_augmenter(model, np.zeros((2, 64)), training="False")


@quiet_keras
def test_keras_augment_batch_is_renamed_apply_augmenter(rtf):
    # regbook.np.augment_batch draws its own shifts; the Keras helper only runs a model
    assert not hasattr(rtf, "augment_batch") and "apply_augmenter" in rtf.__all__


@quiet_keras
def test_seeded_keras_augmenter_leaves_the_global_generators_alone(rtf, digits):
    import random
    numpy_state, python_state = np.random.get_state(), random.getstate()
    rtf.apply_augmenter(rtf.make_augmenter(1, 0.1, flat=True, seed=3), digits[0])
    assert random.getstate() == python_state
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1])
