"""regbook.ensembles: bootstrap resamples, averaged probabilities, Monte Carlo dropout."""

import numpy as np
import pytest

from regbook import calibration, ensembles
from regbook import np as rnp


def _logits(K=4, n=30, C=5, seed=0, scale=3.0):
    return scale * np.random.default_rng(seed).standard_normal((K, n, C))


def _labels(n=30, C=5, seed=1):
    return np.random.default_rng(seed).integers(0, C, n)


def test_bootstrap_rows_are_resamples_with_replacement_from_the_seed():
    idx = ensembles.bootstrap_indices(1000, 3, seed=4)
    assert idx.shape == (3, 1000) and idx.dtype == np.int64
    assert idx.min() >= 0 and idx.max() < 1000
    expected = np.random.default_rng(4).integers(0, 1000, size=(3, 1000), dtype=np.int64)
    assert np.array_equal(idx, expected)
    assert np.array_equal(idx, ensembles.bootstrap_indices(1000, 3, seed=4))


def test_a_bootstrap_resample_holds_about_63_percent_of_the_examples():
    idx = ensembles.bootstrap_indices(2000, 20, seed=0)
    distinct = np.array([len(np.unique(row)) / 2000 for row in idx])
    assert abs(distinct.mean() - (1 - (1 - 1 / 2000) ** 2000)) < 0.005
    assert np.any(np.bincount(idx[0]) > 1)              # some examples drawn twice


def test_average_probabilities_is_the_mean_of_the_softmaxes():
    z = _logits()
    expected = np.mean([rnp.softmax(zk) for zk in z], axis=0)
    p = ensembles.average_probabilities(z)
    assert np.allclose(p, expected, rtol=0, atol=1e-15)
    assert np.allclose(p.sum(axis=1), 1.0)


def test_ensemble_logits_softmax_back_to_the_average():
    z = _logits()
    assert np.allclose(calibration.softmax(ensembles.ensemble_logits(z)),
                       ensembles.average_probabilities(z), rtol=0, atol=1e-15)


def test_ensemble_logits_are_stable_for_huge_logits():
    z = np.array([[[1000.0, 0.0]], [[0.0, 1000.0]]])
    out = ensembles.ensemble_logits(z)
    assert np.all(np.isfinite(out))
    assert np.allclose(out, np.log(0.5))


def test_one_member_ensemble_is_its_log_softmax():
    z = _logits(K=1)
    assert np.allclose(ensembles.ensemble_logits(z), rnp.log_softmax(z[0]), atol=1e-14)


def test_ensemble_nll_is_at_most_the_members_mean_nll():
    # Jensen: -log of an average of probabilities <= the average of -log
    z, y = _logits(), _labels()
    members = np.mean([calibration.negative_log_likelihood(zk, y) for zk in z])
    assert calibration.negative_log_likelihood(ensembles.ensemble_logits(z), y) <= members


def test_brier_score_matches_its_formula():
    z, y = _logits()[0], _labels()
    p = rnp.softmax(z)
    expected = np.mean(np.sum((p - np.eye(5)[y]) ** 2, axis=1))
    assert np.isclose(ensembles.brier_score(z, y), expected, rtol=1e-14)


def test_averaging_removes_exactly_the_member_spread_from_the_brier_score():
    z, y = _logits(), _labels()
    mean_member = np.mean([ensembles.brier_score(zk, y) for zk in z])
    ensemble = ensembles.brier_score(ensembles.ensemble_logits(z), y)
    assert np.isclose(ensemble, mean_member - ensembles.member_spread(z), rtol=0, atol=1e-14)


def test_member_spread_is_zero_for_identical_members():
    z = np.repeat(_logits(K=1), 3, axis=0)
    assert ensembles.member_spread(z) == pytest.approx(0.0, abs=1e-30)


def test_mc_dropout_passes_are_training_mode_passes_from_the_layer_generators():
    X = np.random.default_rng(0).standard_normal((20, 40)).astype(np.float32)
    model, twin = rnp.make_cnn(dropout=0.2, seed=3), rnp.make_cnn(dropout=0.2, seed=3)
    weights = [w.copy() for w in model.get_weights()]
    out = ensembles.mc_dropout_logits(model, X, passes=4)
    assert out.shape == (4, 20, 10)
    expected = np.stack([twin.forward(X, training=True) for _ in range(4)])
    assert np.array_equal(out, expected)
    assert not np.allclose(out[0], out[1])                   # fresh masks
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))


def test_mc_dropout_refuses_models_without_dropout_or_with_batchnorm():
    X = np.zeros((5, 40), np.float32)
    with pytest.raises(ValueError, match="no Dropout"):
        ensembles.mc_dropout_logits(rnp.make_cnn(seed=0), X, passes=2)
    with pytest.raises(ValueError, match="BatchNorm"):
        ensembles.mc_dropout_logits(rnp.make_cnn(dropout=0.1, batchnorm=True, seed=0), X,
                                    passes=2)
    with pytest.raises(TypeError, match="model"):
        ensembles.mc_dropout_logits(object(), X, passes=2)


@pytest.mark.parametrize("call, kind, name", [
    (lambda: ensembles.bootstrap_indices(0, 2), ValueError, "n"),
    (lambda: ensembles.bootstrap_indices(10, 0), ValueError, "n_members"),
    (lambda: ensembles.bootstrap_indices(10, 2.0), TypeError, "n_members"),
    (lambda: ensembles.bootstrap_indices(10, 2, seed=-1), ValueError, "seed"),
    (lambda: ensembles.average_probabilities(np.zeros((3, 4))), ValueError, "logits"),
    (lambda: ensembles.ensemble_logits(np.full((2, 3, 4), np.nan)), ValueError, "logits"),
    (lambda: ensembles.member_spread(np.zeros((2, 3), bool)), TypeError, "logits"),
    (lambda: ensembles.brier_score(np.zeros((3, 4)), np.array([0, 1])), ValueError, "y"),
    (lambda: ensembles.brier_score(np.zeros((3, 4)), np.array([0, 1, 4])), ValueError, "y"),
    (lambda: ensembles.brier_score(np.zeros((3, 4)), np.array([0.0, 1, 2])), TypeError, "y"),
    (lambda: ensembles.mc_dropout_logits(rnp.make_cnn(dropout=0.1), np.zeros((2, 40)),
                                         passes=0), ValueError, "passes"),
])
def test_bad_arguments_are_named(call, kind, name):
    with pytest.raises(kind, match=rf"\b{name}\b"):
        call()
