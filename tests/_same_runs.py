"""Checks shared by the tests that compare training runs: ``fit_seeds`` against K single
``fit_classifier`` runs, and ``regbook.np.fit_classifier`` against the hand-written loop."""

import numpy as np

from regbook._training import minibatches
from regbook.np.training import make_optimizer, train_step


def assert_same_runs(weights, ref_weights, history, ref_history) -> None:
    """Weights equal to rtol 1e-8 (relative to the largest weight) and every history entry."""
    for a, b in zip(weights, ref_weights, strict=True):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8 * scale)
    for key in ref_history:
        np.testing.assert_allclose(history[key], ref_history[key], rtol=1e-8, atol=1e-12)


def assert_is_the_handwritten_loop(model, make_model, X, y, *, seed, epochs, batch_size,
                                   data_loss, optimizer, **opt) -> None:
    """``model`` (trained by ``regbook.np.fit_classifier``) has exactly the weights of
    ``make_model()`` trained by the plain loop: a permutation per epoch from
    ``default_rng(seed)``, one ``train_step`` on ``data_loss`` per mini-batch, float32 features,
    no penalties."""
    ref = make_model()
    step, order = make_optimizer(optimizer, **opt), np.random.default_rng(seed)
    X32 = X.astype(np.float32)
    for _ in range(epochs):
        for idx in minibatches(order.permutation(len(X)), batch_size):
            train_step(ref, step, X32[idx], y[idx], data_loss=data_loss, lam1=0.0, lam2=0.0,
                       decay=[])
    for a, b in zip(model.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
