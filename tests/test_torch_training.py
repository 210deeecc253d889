"""regbook.torch.fit_classifier with early stopping: stops, restores the best weights, quiet.

The rest of fit_classifier (the step, the penalties, the checks) is in test_torch_models.py.
"""

import copy

import numpy as np
import pytest

from regbook import EarlyStopping, History, data

torch = pytest.importorskip("torch")
rtorch = pytest.importorskip("regbook.torch")

MAX_EPOCHS = 60


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits():
    return data.digits_split(n_train=80)


def _run(split, epochs, early_stopping=None, **kwargs):
    model = rtorch.make_mlp(64, hidden=(64,), seed=0)
    history = rtorch.fit_classifier(model, split.X_train, split.y_train, X_val=split.X_val,
                                    y_val=split.y_val, epochs=epochs, lr=1e-2, batch_size=16,
                                    seed=0, early_stopping=early_stopping, **kwargs)
    return model, history


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


@pytest.fixture(scope="module")
def stopped_run(digits):
    stopper = EarlyStopping(patience=3, restore_best_weights=True)
    model, history = _run(digits, MAX_EPOCHS, stopper)
    return stopper, model, history


def test_stops_early_at_the_epoch_the_rule_says(stopped_run):
    stopper, _, history = stopped_run
    n_run = len(history["val_loss"])
    assert n_run < MAX_EPOCHS
    assert stopper.stopped_epoch == n_run - 1
    assert history.stopped_epoch == stopper.stopped_epoch and history.epochs == n_run
    replay = EarlyStopping(patience=3)
    assert [replay.update(v) for v in history["val_loss"]][-1] is True
    assert replay.stopped_epoch == stopper.stopped_epoch
    assert all(len(v) == n_run for v in history.values())


def test_restores_the_weights_of_the_best_epoch(stopped_run, digits):
    stopper, model, history = stopped_run
    assert stopper.best_epoch == int(np.argmin(history["val_loss"]))
    assert history.best_epoch == stopper.best_epoch and history.restored
    # The saved copy: the same seeded run, trained for exactly best_epoch + 1 epochs.
    reference, _ = _run(digits, stopper.best_epoch + 1)
    _assert_same_state(model.state_dict(), reference.state_dict())
    _assert_same_state(model.state_dict(), stopper.best_weights)


def test_restored_model_has_the_best_validation_loss(stopped_run, digits):
    _, model, history = stopped_run
    logits = torch.from_numpy(rtorch.predict_logits(model, digits.X_val))
    val_loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(digits.y_val)).item()
    assert val_loss == pytest.approx(min(history["val_loss"]), rel=1e-6)
    assert min(history["val_loss"]) < history["val_loss"][-1]


def test_best_weights_are_a_copy_not_the_live_parameters(stopped_run):
    stopper, model, _ = stopped_run
    saved = copy.deepcopy(stopper.best_weights)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    _assert_same_state(stopper.best_weights, saved)


def test_restores_the_best_weights_even_without_an_early_stop(digits):
    # As in Keras 3: restore_best_weights acts at the end of training in any case.
    stopper = EarlyStopping(patience=1000, restore_best_weights=True)
    model, history = _run(digits, 25, stopper)
    assert len(history["val_loss"]) == 25 and stopper.stopped_epoch == 0
    reference, _ = _run(digits, stopper.best_epoch + 1)
    assert stopper.best_epoch < 24
    _assert_same_state(model.state_dict(), reference.state_dict())


def test_without_restore_the_last_weights_stay(digits):
    stopper = EarlyStopping(patience=3)
    model, history = _run(digits, MAX_EPOCHS, stopper)
    reference, _ = _run(digits, len(history["val_loss"]))
    _assert_same_state(model.state_dict(), reference.state_dict())
    assert not history.restored and history.best_epoch == stopper.best_epoch


def test_can_monitor_validation_accuracy_in_max_mode(digits):
    stopper = EarlyStopping(mode="max", patience=2)
    _, history = _run(digits, MAX_EPOCHS, stopper, monitor="val_accuracy")
    assert stopper.best == max(history["val_accuracy"])
    assert stopper.stopped_epoch == len(history["val_accuracy"]) - 1


def test_the_stopper_is_reset_at_the_start_of_training(stopped_run, digits):
    # Reusing a stopper gives the same run as a fresh one (Keras resets in on_train_begin).
    stopper = EarlyStopping(patience=3, restore_best_weights=True)
    _run(digits, 2, stopper)
    _, history = _run(digits, MAX_EPOCHS, stopper)
    assert history == stopped_run[2]


def test_progress_is_silent_by_default(digits, capfd):
    _run(digits, 2, EarlyStopping())
    assert capfd.readouterr() == ("", "")


def test_progress_bar_when_asked(digits, capfd):
    _run(digits, 2, progress=True)
    err = capfd.readouterr().err
    assert "epochs" in err and "2/2" in err


def test_without_early_stopping_nothing_changes(digits):
    # The old behaviour: monitor is ignored, no validation data needed.
    model = rtorch.make_mlp(64, hidden=(8,), seed=0)
    history = rtorch.fit_classifier(model, digits.X_train, digits.y_train, epochs=2)
    assert set(history) == {"loss", "accuracy"}
    assert isinstance(history, History) and history.stopped_epoch is None
    assert history.best_epoch is None and not history.restored


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(early_stopping="patience=3"), TypeError, "early_stopping must be a regbook"),
    (dict(early_stopping=EarlyStopping(), monitor="val_acc"), ValueError, "monitor must be"),
    (dict(early_stopping=EarlyStopping(), X_val=None, y_val=None), ValueError,
     "needs X_val and y_val"),
    (dict(progress="yes"), TypeError, "progress must be a bool"),
])
def test_rejects_bad_arguments_before_training(kwargs, error, match, digits):
    model = rtorch.make_mlp(64, hidden=(8,), seed=0)
    before = copy.deepcopy(model.state_dict())
    args = dict(X_val=digits.X_val, y_val=digits.y_val, epochs=2) | kwargs
    with pytest.raises(error, match=match):
        rtorch.fit_classifier(model, digits.X_train, digits.y_train, **args)
    _assert_same_state(model.state_dict(), before)


def test_fit_penalized_measures_the_objective_in_evaluation_mode():
    """With dropout, J after an epoch is the deterministic evaluation-mode objective."""
    import regbook.torch as rtorch

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    model = rtorch.make_mlp(5, (8,), 3, dropout=0.5, seed=0, dtype="float64")
    history = rtorch.fit_penalized(model, X, y, loss="cross_entropy", lam2=0.1, epochs=2,
                                   batch_size=10, shuffle=True, seed=1)
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(X))
        want = (torch.nn.functional.cross_entropy(logits, torch.from_numpy(y))
                + rtorch.l2_penalty(model, 0.1)).item()
    assert history["objective"][-1] == pytest.approx(want, rel=1e-12)
