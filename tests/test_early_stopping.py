"""regbook.EarlyStopping: the Keras 3 rule as a specification, bad input, and the NumPy loop.

(The case-by-case comparison with the real Keras callback is in
``test_early_stopping_keras_parity.py``.)
"""

import ast
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import regbook
import regbook.np as rnp
from regbook import EarlyStopping, data, early_stopping


def run(values, **kwargs):
    """Feed ``values`` (weights = the epoch number) until it says stop; return the stopper."""
    stopper = EarlyStopping(**kwargs)
    for epoch, value in enumerate(values):
        if stopper.update(value, weights=[np.array([epoch])]):
            break
    return stopper


def stop_epoch(values, **kwargs):
    stopper = run(values, **kwargs)
    return stopper.stopped_epoch


# --- the rule ------------------------------------------------------------------------------

def test_is_exported_and_imports_no_framework():
    assert regbook.EarlyStopping is EarlyStopping
    assert "EarlyStopping" in regbook.__all__
    tree = ast.parse(Path(early_stopping.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "copy", "math", "numbers", "warnings", "typing", "numpy",
                        "regbook"}, imported


def test_patience_zero_stops_at_the_first_epoch_without_improvement():
    assert stop_epoch([3.0, 2.0, 1.0, 1.5, 0.5]) == 3


def test_patience_counts_epochs_without_improvement():
    values = [3.0, 2.0, 2.5, 2.6, 2.7, 2.8]
    assert stop_epoch(values, patience=1) == 2
    assert stop_epoch(values, patience=3) == 4
    assert stop_epoch(values, patience=10) == 0  # never stopped


def test_an_improvement_resets_the_count():
    stopper = run([3.0, 2.0, 2.5, 1.0, 1.5, 1.6, 1.7], patience=3)
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (1.0, 3, 6)


def test_a_tie_is_not_an_improvement():
    stopper = run([2.0, 2.0, 2.0], patience=1)
    assert (stopper.best_epoch, stopper.stopped_epoch) == (0, 1)


def test_a_change_exactly_equal_to_min_delta_is_not_an_improvement():
    # 1.0 -> 0.75 is a change of exactly 0.25 (all exact in binary): not more than min_delta.
    stopper = run([1.0, 0.75, 0.4], min_delta=0.25, patience=0)
    assert (stopper.best, stopper.stopped_epoch) == (1.0, 1)
    stopper = run([1.0, 0.74, 0.6], min_delta=0.25, patience=0)
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (0.74, 1, 2)


def test_negative_min_delta_means_its_magnitude_as_in_keras():
    values = [1.0, 0.8, 0.7, 0.5, 0.45]
    assert stop_epoch(values, min_delta=-0.15) == stop_epoch(values, min_delta=0.15) == 2
    assert EarlyStopping(min_delta=-0.15).min_delta == 0.15


def test_max_mode_waits_for_increases():
    values = [0.5, 0.6, 0.7, 0.65, 0.8]
    stopper = run(values, mode="max", patience=0)
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (0.7, 2, 3)
    assert stop_epoch(values, mode="min", patience=0) == 1


def test_max_mode_min_delta_is_also_strict():
    stopper = run([0.5, 0.75, 1.0], mode="max", min_delta=0.25)
    assert (stopper.best, stopper.stopped_epoch) == (0.5, 1)


def test_improving_without_beating_the_baseline_never_stops():
    # Every value improves on the previous one; the stopping check runs only on epochs
    # without improvement, so training goes on although no value reaches the baseline.
    stopper = run([5.0, 4.0, 3.0, 2.0, 1.0], baseline=0.1, patience=2)
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (1.0, 4, 0)


def test_below_the_baseline_wait_is_never_reset():
    # wait counts every monitored epoch, so the first epoch without improvement stops
    # training once patience is used up -- here at once, where without a baseline it would not.
    values = [5.0, 4.0, 3.0, 3.5, 3.2]
    stopper = run(values, baseline=0.1, patience=2)
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (3.0, 2, 3)
    assert stop_epoch(values, patience=2) == 4


def test_beating_the_baseline_resets_the_count_as_usual():
    stopper = run([5.0, 0.05, 0.06, 0.07, 0.08], baseline=0.1, patience=2)
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (0.05, 1, 3)


def test_training_never_stops_at_the_first_epoch():
    # baseline not beaten and patience 0: wait >= patience already at epoch 0, but Keras
    # never stops at epoch 0.
    assert stop_epoch([1.0, 1.0], baseline=0.5, patience=0) == 1


def test_warm_up_epochs_are_ignored():
    stopper = run([0.1, 9.0, 8.0, 9.0], start_from_epoch=1, patience=0,
                  restore_best_weights=True)
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (8.0, 2, 3)
    assert stopper.best_weights[0].item() == 2


def test_no_stop_can_happen_during_warm_up():
    assert stop_epoch([1.0, 2.0, 3.0, 4.0, 5.0], start_from_epoch=3) == 4


def test_comparison_is_in_float32_like_keras():
    # A 1e-9 drop at 1.0 is invisible in float32 (spacing 6e-8), so it is no improvement.
    assert stop_epoch([1.0, 1.0 - 1e-9, 0.5]) == 1
    assert stop_epoch([1.0, 1.0 - 1e-6, 0.5]) == 0


def test_float32_subnormals_compare_as_zero_like_tensorflow():
    assert stop_epoch([0.0, 1e-40, 1.0], mode="max") == 1
    assert stop_epoch([0.0, 1e-37, 1.0], mode="max") == 0


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30))
@example([5.4348854480172464e-40, 0.0])      # a subnormal ties with 0, as in TensorFlow
def test_with_unbounded_patience_best_is_the_first_minimum(values):
    from regbook.early_stopping import _as_float32   # float32, subnormals as 0 (TensorFlow)

    stopper = run(values, patience=10**6)
    best = min(values, key=_as_float32)  # ties (also in float32) keep the earliest
    assert stopper.stopped_epoch == 0
    assert _as_float32(stopper.best) == _as_float32(best)
    assert stopper.best_epoch == [_as_float32(v) for v in values].index(_as_float32(best))


@given(st.lists(st.floats(-10, 10), min_size=2, max_size=30), st.integers(0, 5))
def test_stop_epoch_is_the_first_with_patience_epochs_since_the_best(values, patience):
    stopper = run(values, patience=patience)
    if stopper.stopped_epoch:
        assert stopper.stopped_epoch - stopper.best_epoch == max(patience, 1)
    else:
        assert len(values) - 1 - stopper.best_epoch < max(patience, 1)


# --- weights -------------------------------------------------------------------------------

def test_best_weights_are_a_deep_copy_taken_at_the_best_epoch():
    stopper = EarlyStopping(patience=5, restore_best_weights=True)
    weights = [np.zeros(3)]
    for epoch, value in enumerate([3.0, 1.0, 2.0, 4.0]):
        weights[0][:] = epoch  # the loop updates its arrays in place
        stopper.update(value, weights=weights)
    np.testing.assert_array_equal(stopper.best_weights[0], [1.0, 1.0, 1.0])
    assert stopper.best_weights[0] is not weights[0]


def test_no_weights_are_kept_without_restore_best_weights():
    stopper = run([3.0, 1.0, 2.0], patience=5)
    assert stopper.best_weights is None


def test_restore_best_weights_requires_weights():
    stopper = EarlyStopping(restore_best_weights=True)
    with pytest.raises(ValueError, match="weights must be given"):
        stopper.update(1.0)
    assert stopper.epochs_seen == 0  # nothing half-updated
    assert EarlyStopping(restore_best_weights=True, start_from_epoch=1).update(1.0) is False


def test_reset_forgets_the_run():
    stopper = run([1.0, 2.0, 3.0], restore_best_weights=True)
    stopper.reset()
    fresh = EarlyStopping(restore_best_weights=True)
    for name in ("best", "best_epoch", "stopped_epoch", "wait", "best_weights", "epochs_seen"):
        assert getattr(stopper, name) == getattr(fresh, name), name


# --- NaN, infinities, missing values -------------------------------------------------------

def test_nan_is_never_an_improvement():
    stopper = run([1.0, math.nan, math.nan, 0.5], patience=2)
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (1.0, 0, 2)


def test_a_first_nan_becomes_best_and_nothing_beats_it():
    # As in Keras: with nothing to compare with, the first value is always the best so far,
    # and every comparison with NaN is false afterwards.
    stopper = run([math.nan, 1.0, 0.5, 0.2], patience=2, restore_best_weights=True)
    assert math.isnan(stopper.best)
    assert (stopper.best_epoch, stopper.stopped_epoch) == (0, 2)
    assert stopper.best_weights[0].item() == 0


def test_infinities_compare_like_numbers():
    assert stop_epoch([math.inf, 1.0, math.inf], patience=0) == 2
    stopper = run([1.0, -math.inf, 0.0], patience=0)
    assert (stopper.best, stopper.stopped_epoch) == (-math.inf, 2)


def test_a_missing_value_skips_the_epoch_with_a_warning():
    stopper = EarlyStopping(patience=0)
    stopper.update(1.0)
    with pytest.warns(RuntimeWarning, match="no monitored value at epoch 1"):
        assert stopper.update(None) is False
    assert (stopper.wait, stopper.epochs_seen) == (0, 2)
    assert stopper.update(2.0) is True
    assert stopper.stopped_epoch == 2


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    (dict(patience=-1), ValueError, "patience must be >= 0"),
    (dict(patience=1.5), TypeError, "patience must be an integer"),
    (dict(min_delta=math.nan), ValueError, "min_delta must be a finite number"),
    (dict(min_delta=math.inf), ValueError, "min_delta must be a finite number"),
    (dict(min_delta=1e39), ValueError, "min_delta must be at most"),
    (dict(min_delta="0.1"), TypeError, "min_delta must be a real number"),
    (dict(mode="auto"), ValueError, "mode must be 'min' or 'max'"),
    (dict(mode="minimum"), ValueError, "mode must be 'min' or 'max'"),
    (dict(baseline=math.nan), ValueError, "baseline must be a finite number"),
    (dict(restore_best_weights=1), TypeError, "restore_best_weights must be a bool"),
    (dict(start_from_epoch=-2), ValueError, "start_from_epoch must be >= 0"),
])
def test_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        EarlyStopping(**kwargs)


def test_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        EarlyStopping(3)


@pytest.mark.parametrize("value, error, match", [
    ("0.5", TypeError, "value must be a real number"),
    (True, TypeError, "value must be a real number"),
    (np.array([0.5, 0.6]), TypeError, "value must be a real number"),
    (1e39, ValueError, "value must be within float32 range"),
])
def test_update_rejects_bad_values_without_changing_state(value, error, match):
    stopper = EarlyStopping()
    stopper.update(1.0)
    with pytest.raises(error, match=match):
        stopper.update(value)
    assert (stopper.best, stopper.epochs_seen, stopper.wait) == (1.0, 1, 0)


def test_numpy_scalars_are_accepted():
    assert stop_epoch([np.float32(1.0), np.float64(2.0), np.array(0.5)]) == 1


# --- the NumPy training loop ---------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    return data.digits_split(n_train=80)


def _np_run(split, epochs, early_stopping=None):
    model = rnp.make_mlp(64, hidden=(64,), seed=0)
    history = rnp.fit_classifier(model, split.X_train, split.y_train, lr=1e-2,
                                 X_val=split.X_val, y_val=split.y_val, epochs=epochs,
                                 batch_size=16, seed=0, early_stopping=early_stopping)
    return model, history


def test_numpy_loop_stops_early_and_restores_the_best_weights(digits):
    stopper = EarlyStopping(patience=3, restore_best_weights=True)
    model, history = _np_run(digits, epochs=60, early_stopping=stopper)
    n_run = len(history["val_loss"])
    assert n_run < 60 and stopper.stopped_epoch == n_run - 1
    assert stopper.best_epoch == int(np.argmin(history["val_loss"]))
    # The saved copy: the same seeded run, trained for exactly best_epoch + 1 epochs.
    reference, _ = _np_run(digits, epochs=stopper.best_epoch + 1)
    for ours, saved in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, saved)
    val_loss, _ = rnp.evaluate_classifier(model, digits.X_val, digits.y_val)
    assert val_loss == pytest.approx(min(history["val_loss"]), rel=1e-6)


def test_numpy_loop_without_restore_keeps_the_last_weights(digits):
    stopper = EarlyStopping(patience=3)
    model, history = _np_run(digits, epochs=60, early_stopping=stopper)
    val_loss, _ = rnp.evaluate_classifier(model, digits.X_val, digits.y_val)
    assert val_loss == pytest.approx(history["val_loss"][-1], rel=1e-6)
    assert val_loss > min(history["val_loss"])


def test_numpy_loop_is_silent_by_default(digits, capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _np_run(digits, epochs=2, early_stopping=EarlyStopping())
    assert capfd.readouterr() == ("", "")
