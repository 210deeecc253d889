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
    preds = np.array([[1.0, 1.0], [3.0, 3.0]])  # mean (2, 2), deviations +-1 at both points
    bv = rnp.bias_variance_decomposition(preds, f, noise_var=0.5)
    # variance with 1/(R - 1): (1 + 1) / 1 = 2; bias^2 = (f_bar - f)^2 - variance / R
    assert bv.variance == pytest.approx(2.0)
    assert bv.bias2 == pytest.approx(((4.0 - 1.0) + (1.0 - 1.0)) / 2)
    assert bv.total == pytest.approx(4.0)


def _monte_carlo_estimates(bias, sd, n_models, n_experiments, seed):
    """Estimates from n_experiments independent batches of n_models predictions
    f + bias + sd * z (z standard normal), whose true bias^2 and variance are known."""
    rng = np.random.default_rng(seed)
    f = np.linspace(-1.0, 1.0, bias.size)
    estimates = []
    for _ in range(n_experiments):
        preds = f + bias + sd * rng.standard_normal((n_models, bias.size))
        estimates.append(rnp.bias_variance_decomposition(preds, f, noise_var=0.0))
    return (np.array([e.bias2 for e in estimates]), np.array([e.variance for e in estimates]))


def _assert_mean_within_4_se(values, expected):
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert abs(values.mean() - expected) < 4 * se, (values.mean(), expected, se)


def test_bias_variance_estimates_are_unbiased_on_a_known_monte_carlo_case():
    # Known truth: bias^2 = mean(bias^2) = 0.25, variance = mean(sd^2) = 1.0. With only
    # R = 4 models the plug-in estimates would average 0.25 + 1.0/4 = 0.5 and 1.0 * 3/4.
    bias = np.array([0.5, -0.5, 0.5, -0.5, 0.5, -0.5])
    sd = np.sqrt([0.25, 1.0, 1.75, 0.25, 1.0, 1.75])
    assert np.mean(bias**2) == pytest.approx(0.25) and np.mean(sd**2) == pytest.approx(1.0)
    bias2, variance = _monte_carlo_estimates(bias, sd, n_models=4, n_experiments=4000, seed=0)
    _assert_mean_within_4_se(bias2, 0.25)
    _assert_mean_within_4_se(variance, 1.0)


def test_bias2_estimate_of_an_unbiased_learner_averages_zero_and_can_be_negative():
    bias2, _ = _monte_carlo_estimates(np.zeros(5), np.ones(5), n_models=10,
                                      n_experiments=2000, seed=1)
    _assert_mean_within_4_se(bias2, 0.0)
    assert np.mean(bias2 < 0) > 0.3          # documented: an unbiased estimate goes below 0


def test_correction_moves_variance_over_r_from_bias2_but_keeps_the_sum():
    # bias2 + variance is the mean squared distance of the R models from f, as for the
    # plug-in estimates; only the split between the two terms changes.
    rng = np.random.default_rng(0)
    f = rng.normal(size=7)
    preds = f + 0.3 + rng.normal(size=(50, 7))
    bv = rnp.bias_variance_decomposition(preds, f, noise_var=0.0)
    assert bv.total == pytest.approx(np.mean((preds - f) ** 2), rel=1e-12)
    plug_in_bias2 = np.mean((preds.mean(axis=0) - f) ** 2)
    assert bv.bias2 == pytest.approx(plug_in_bias2 - bv.variance / 50, rel=1e-12)


@pytest.mark.parametrize("preds, f, noise, match", [
    (np.ones((1, 3)), np.ones(3), 0.0, "rows"),
    (np.ones((2, 3)), np.ones(2), 0.0, "columns"),
    (np.ones((2, 3)), np.ones(3), -1.0, "noise_var"),
    (np.ones(3), np.ones(3), 0.0, "predictions"),
])
def test_bias_variance_bad_input(preds, f, noise, match):
    with pytest.raises(ValueError, match=match):
        rnp.bias_variance_decomposition(preds, f, noise)
