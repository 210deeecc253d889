"""regbook.calibration: NLL against PyTorch's cross-entropy, ECE from its definition."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regbook import calibration


def _data(n=200, c=5, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return scale * rng.normal(size=(n, c)), rng.integers(0, c, size=n)


def test_nll_equals_torch_cross_entropy():
    torch = pytest.importorskip("torch")
    z, y = _data()
    want = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(y)).item()
    assert calibration.negative_log_likelihood(z, y) == pytest.approx(want, rel=1e-12)


def test_nll_is_stable_for_huge_logits():
    z = np.array([[1000.0, 0.0], [0.0, 1000.0]])
    assert calibration.negative_log_likelihood(z, np.array([0, 0])) == pytest.approx(500.0)


def test_ece_by_hand_on_a_small_example():
    # confidences 0.9 (right), 0.9 (wrong), 0.6 (right) in bins of width 0.5:
    # bin (0.5, 1]: 3 examples, accuracy 2/3, confidence 0.8 -> ECE = |2/3 - 0.8|
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4]])
    z, y = np.log(p), np.array([0, 1, 0])
    assert calibration.expected_calibration_error(z, y, n_bins=2) == pytest.approx(
        abs(2 / 3 - 0.8))
    bins = calibration.reliability_bins(z, y, n_bins=2)
    assert list(bins["count"]) == [0, 3] and np.isnan(bins["accuracy"][0])


def test_ece_is_near_zero_for_labels_drawn_from_the_predicted_probabilities():
    rng = np.random.default_rng(1)
    z = 2 * rng.normal(size=(200_000, 4))
    p = calibration.softmax(z)
    y = (rng.random((len(p), 1)) > np.cumsum(p, axis=1)).sum(axis=1)   # y ~ p
    assert calibration.expected_calibration_error(z, y) < 0.01
    assert calibration.expected_calibration_error(5 * z, y) > 0.1       # over-confident


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(2, 6), st.integers(1, 20), st.integers(0, 10**6))
def test_ece_is_between_0_and_1_and_bins_count_every_example(n, c, n_bins, seed):
    z, y = _data(n, c, seed)
    ece = calibration.expected_calibration_error(z, y, n_bins=n_bins)
    assert 0 <= ece <= 1
    assert calibration.reliability_bins(z, y, n_bins=n_bins)["count"].sum() == n


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(y=np.array([0, 5])), ValueError, "y must hold class labels"),
    (dict(y=np.array([0.0, 1.0])), TypeError, "y must hold integer"),
    (dict(y=np.array([0])), ValueError, "same, non-zero number of rows"),
    (dict(logits=np.array([[np.nan, 0.0], [0.0, 0.0]])), ValueError, "logits must contain only finite"),
    (dict(n_bins=0), ValueError, "n_bins"),
])
def test_bad_input_is_refused_naming_the_argument(kwargs, error, match):
    args = dict(logits=np.zeros((2, 3)), y=np.array([0, 1]), n_bins=10) | kwargs
    with pytest.raises(error, match=match):
        calibration.expected_calibration_error(args["logits"], args["y"],
                                               n_bins=args["n_bins"])
