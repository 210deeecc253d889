"""A check shared by the tests that ``fit_seeds`` equals K single ``fit_classifier`` runs."""

import numpy as np


def assert_same_runs(weights, ref_weights, history, ref_history) -> None:
    """Weights equal to rtol 1e-8 (relative to the largest weight) and every history entry."""
    for a, b in zip(weights, ref_weights, strict=True):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8 * scale)
    for key in ref_history:
        np.testing.assert_allclose(history[key], ref_history[key], rtol=1e-8, atol=1e-12)
