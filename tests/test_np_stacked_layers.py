"""The NumPy stacked layers' shortcuts: the same numbers as the plain NumPy calls they replace.

``regbook.np._stacked_layers`` keeps work arrays from call to call and takes ReLU against an
array of zeros. Neither may change a number (the chapters' float32 runs depend on every bit),
so both are checked bitwise here; that the stacked network equals K single runs is tested in
``tests/test_fit_seeds.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import regbook.np as rnp
from regbook.np import _stacked_layers as sl
from regbook.np.stacked import stacked_cross_entropy


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_against_zeros_is_numpys_maximum_with_zero(dtype):
    x = np.array([-2.0, -0.0, 0.0, 1e-42, 3.5, np.inf, -np.inf, np.nan], dtype)
    x = np.tile(x, (3, 5, 1)).transpose(0, 2, 1)               # not contiguous
    got = sl._relu(x, out=np.empty(x.shape, dtype), zeros=np.zeros(x.shape, dtype))
    expected = np.maximum(x, 0)
    assert np.array_equal(got.view(f"u{x.itemsize}"), expected.view(f"u{x.itemsize}"))


def _members(k=3, **kwargs):
    return [rnp.make_cnn(seed=s, **kwargs) for s in range(k)]


def _step(net, x, y):
    out = net.forward(x, training=True)
    _, dout = stacked_cross_entropy(out, y)
    net.backward(dout)
    return out.copy(), {name: g.copy() for name, g in net.grads.items()}


@pytest.mark.parametrize("kwargs", [{}, {"padding": 2, "stride": 3},
                                    {"kernel_size": 4, "channels": (8, 16, 4)}])
def test_kept_work_arrays_give_what_fresh_ones_give(kwargs):
    """One stacked network run on batches of two shapes in turn, and in evaluation mode in
    between, gives each step what a newly stacked network gives: no stale numbers in its
    kept arrays, and no array it returned changed by a later call."""
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((3, n, 40)).astype(np.float32),
                rng.integers(0, 10, (3, n))) for n in (16, 9, 16, 9)]
    kept = sl.StackedSequential(_members(**kwargs))
    first = None
    for x, y in batches:
        fresh = sl.StackedSequential(_members(**kwargs))
        out, grads = _step(kept, x, y)
        kept.forward(rng.standard_normal((3, 5, 40)).astype(np.float32), training=False)
        fresh_out, fresh_grads = _step(fresh, x, y)
        assert np.array_equal(out, fresh_out)
        assert grads.keys() == fresh_grads.keys()
        for name in grads:
            assert np.array_equal(grads[name], fresh_grads[name]), name
        if first is None:
            first = kept.forward(x, training=False)
    assert np.array_equal(first, kept.forward(batches[0][0], training=False))  # not overwritten


def test_the_stacked_layers_keep_work_arrays_only_of_the_shapes_they_saw():
    net = sl.StackedSequential(_members())
    x = np.zeros((3, 8, 40), np.float32)
    net.forward(x, training=False)
    net.forward(x, training=False)
    counts = [len(layer._work) for layer in net.layers]
    net.forward(x, training=False)
    assert [len(layer._work) for layer in net.layers] == counts
    net.forward(np.zeros((3, 5, 40), np.float32), training=False)
    assert sum(len(layer._work) for layer in net.layers) > sum(counts)
