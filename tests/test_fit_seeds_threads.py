"""regbook.np.fit_seeds on several threads: the members in groups, the same numbers."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import regbook.np as rnp
import regbook.np.stacked as np_stacked
from regbook import _threads

SEEDS = [3, 7, 11, 12, 20]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    return (rng.standard_normal((50, 40)), rng.integers(0, 10, 50),
            rng.standard_normal((20, 40)), rng.integers(0, 10, 20))


def _fit(data, **kwargs):
    X, y, X_val, y_val = data
    return rnp.fit_seeds(lambda s: rnp.make_cnn(layernorm=True, dropout=0.1, seed=s,
                                                dtype="float64"),
                         X, y, seeds=SEEDS, X_val=X_val, y_val=y_val, epochs=2,
                         batch_size=16, **kwargs)


def _blas_threads() -> int:
    return max(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")


def test_parallel_workers_follow_the_blas_limit_the_cores_and_the_tasks():
    cores = _threads.usable_cores()
    with threadpool_limits(1, user_api="blas"):
        assert _threads.parallel_workers(10) == 1
    with threadpool_limits(4, user_api="blas"):
        assert _threads.parallel_workers(10) == min(4, cores)
        assert _threads.parallel_workers(1) == 1


@pytest.mark.parametrize("workers", [2, 3, 5])
def test_the_numbers_do_not_depend_on_the_grouping(workers, data, monkeypatch):
    with threadpool_limits(2, user_api="blas"):      # one group, whatever BLAS may use
        monkeypatch.setattr(np_stacked, "parallel_workers", lambda tasks: 1)
        one = _fit(data)
    monkeypatch.setattr(np_stacked, "parallel_workers", lambda tasks: workers)
    before = _blas_threads()
    models, histories = _fit(data)
    assert _blas_threads() == before                  # the caller's BLAS setting is back
    for model, history, ref, ref_history in zip(models, histories, *one, strict=True):
        for a, b in zip(model.get_weights(), ref.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        for key in ref_history:
            np.testing.assert_array_equal(history[key], ref_history[key])
        assert _dropout_states(model) == _dropout_states(ref)


def _dropout_states(model) -> list:
    return [layer.rng.bit_generator.state for layer in model.layers
            if isinstance(layer, rnp.Dropout)]


def test_a_failing_group_leaves_every_model_untouched(data, monkeypatch):
    monkeypatch.setattr(np_stacked, "parallel_workers", lambda tasks: 2)
    built = {}
    original = np_stacked.run_stacked_epochs

    def failing(**kwargs):
        if 7 in kwargs["seeds"]:
            raise RuntimeError("boom in one group")
        return original(**kwargs)

    def make(s):
        built[s] = rnp.make_cnn(seed=s, dtype="float64")
        return built[s]

    monkeypatch.setattr(np_stacked, "run_stacked_epochs", failing)
    X, y, _, _ = data
    with pytest.raises(RuntimeError, match="boom in one group"):
        rnp.fit_seeds(make, X, y, seeds=SEEDS, epochs=1, batch_size=16)
    for s, model in built.items():
        for a, b in zip(model.get_weights(), rnp.make_cnn(seed=s, dtype="float64").get_weights(),
                        strict=True):
            np.testing.assert_array_equal(a, b)


def test_augment_is_only_called_from_the_callers_thread(data, monkeypatch):
    monkeypatch.setattr(np_stacked, "parallel_workers", lambda tasks: 2)
    callers = set()

    def augment(X_batch, rng):
        callers.add(threading.get_ident())
        return X_batch + 0.01 * rng.standard_normal(X_batch.shape, dtype=X_batch.dtype)

    _fit(data, augment=augment)
    assert callers == {threading.get_ident()}
