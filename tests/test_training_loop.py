"""The framework-agnostic epoch loop and the History every backend returns."""

import numpy as np
import pytest

from regbook import EarlyStopping, History
from regbook._training import check_fit_classifier_args, minibatches, run_epochs


def _loop(values, *, n=10, batch_size=4, seed=3, early_stopping=None, validation=True):
    """run_epochs with a fake model: 'weights' is the epoch count, evaluate returns values."""
    state = {"epoch": 0, "batches": [], "restored": None}
    it = iter(values)

    def step(idx):
        state["batches"].append(idx.copy())

    def evaluate(X, y):
        return (next(it), 0.5) if X is val[0] else (1.0, 0.25)

    def set_weights(w):
        state["restored"] = w

    train = (np.zeros((n, 1)), np.zeros(n))
    val = (np.ones((n, 1)), np.zeros(n))
    history = run_epochs(
        n=n, epochs=len(values), batch_size=batch_size, seed=seed, step=step,
        evaluate=evaluate, train=train, validation=val if validation else None,
        early_stopping=early_stopping, monitor="val_loss", progress=False,
        get_weights=lambda: len(history_epochs(state)), set_weights=set_weights)
    return history, state


def history_epochs(state):
    return state["batches"]


def test_batches_are_a_fresh_numpy_permutation_per_epoch_from_the_seed():
    _, state = _loop([0.5, 0.4], n=10, batch_size=4, seed=3)
    rng = np.random.default_rng(3)
    want = []
    for _ in range(2):
        order = rng.permutation(10)
        want += [order[0:4], order[4:8], order[8:10]]
    assert len(state["batches"]) == len(want)
    for got, exp in zip(state["batches"], want):
        np.testing.assert_array_equal(got, exp)


def test_a_last_batch_of_one_example_is_skipped():
    batches = list(minibatches(np.arange(9), 4))
    assert [len(b) for b in batches] == [4, 4]
    assert [len(b) for b in minibatches(np.arange(1), 4)] == []
    assert [len(b) for b in minibatches(np.arange(3), 1)] == [1, 1, 1]   # asked for: kept


def test_history_records_train_and_validation_per_epoch():
    history, _ = _loop([0.5, 0.4, 0.3])
    assert isinstance(history, History)
    assert history.epochs == 3
    assert history["val_loss"] == [0.5, 0.4, 0.3] == history.val_loss
    assert history.loss == [1.0, 1.0, 1.0] and history.accuracy == [0.25] * 3
    assert history.stopped_epoch is None and history.best_epoch is None
    assert not history.restored


def test_history_without_validation_has_no_val_entries():
    history, _ = _loop([0.5], validation=False)
    assert set(history) == {"loss", "accuracy"}
    with pytest.raises(AttributeError, match="val_loss"):
        history.val_loss


def test_early_stopping_stops_records_and_restores_the_best_epoch():
    stopper = EarlyStopping(patience=1, restore_best_weights=True)
    history, state = _loop([0.5, 0.3, 0.4, 0.45, 0.2], early_stopping=stopper)
    assert history.epochs == 3 and history.stopped_epoch == 2
    assert history.best_epoch == 1 and history.restored
    assert state["restored"] == 2 * 3        # the weights seen after epoch 1: 6 batches


def test_fit_classifier_checks_name_the_argument():
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    kw = dict(optimizer="adam", lr=1e-3, momentum=0.0, weight_decay=0.0, lam1=0.0, lam2=0.0,
              decay_scope="weights", epochs=1, batch_size=2, seed=0, early_stopping=None,
              monitor="val_loss", progress=False)
    for bad, exc, name in [({"optimizer": "rmsprop"}, ValueError, "optimizer"),
                           ({"decay_scope": "biases"}, ValueError, "decay_scope"),
                           ({"momentum": 0.9}, ValueError, "momentum"),
                           ({"progress": "False"}, TypeError, "progress"),
                           ({"lam2": -1.0}, ValueError, "lam2"),
                           ({"early_stopping": object()}, TypeError, "early_stopping")]:
        with pytest.raises(exc, match=name):
            check_fit_classifier_args(X, y, None, None, **{**kw, **bad})
    with pytest.raises(ValueError, match="y_train must hold integer class labels"):
        check_fit_classifier_args(X, np.array([0, 0.5, 1, 1]), None, None, **kw)
    with pytest.raises(ValueError, match="needs X_val"):
        check_fit_classifier_args(X, y, None, None,
                                  **{**kw, "early_stopping": EarlyStopping()})
