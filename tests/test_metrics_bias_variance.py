import numpy as np
import pytest

from regbook import np as rnp


def test_mse_and_accuracy_values():
    assert rnp.mse([1.0, 2.0], [1.0, 4.0]) == 2.0
    assert rnp.accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert rnp.accuracy([0, 1, 1], scores) == pytest.approx(2 / 3)


def test_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        rnp.mse([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="same length"):
        rnp.accuracy([1, 2], [1])


def test_bias_variance_of_known_predictions():
    f = np.array([0.0, 1.0])
    preds = np.array([[1.0, 1.0], [3.0, 3.0]])  # mean (2, 2): bias^2 = (4 + 1)/2, var = 1
    bv = rnp.bias_variance_decomposition(preds, f, noise_var=0.5)
    assert bv.bias2 == pytest.approx(2.5)
    assert bv.variance == pytest.approx(1.0)
    assert bv.total == pytest.approx(4.0)


def test_bias2_plus_variance_equals_mean_squared_error_to_truth():
    rng = np.random.default_rng(0)
    f = rng.normal(size=7)
    preds = f + 0.3 + rng.normal(size=(50, 7))
    bv = rnp.bias_variance_decomposition(preds, f, noise_var=0.0)
    assert bv.total == pytest.approx(np.mean((preds - f) ** 2), rel=1e-12)


@pytest.mark.parametrize("preds, f, noise, match", [
    (np.ones((1, 3)), np.ones(3), 0.0, "rows"),
    (np.ones((2, 3)), np.ones(2), 0.0, "columns"),
    (np.ones((2, 3)), np.ones(3), -1.0, "noise_var"),
    (np.ones(3), np.ones(3), 0.0, "predictions"),
])
def test_bias_variance_bad_input(preds, f, noise, match):
    with pytest.raises(ValueError, match=match):
        rnp.bias_variance_decomposition(preds, f, noise)
