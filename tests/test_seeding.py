import random

import numpy as np
import pytest

import regbook


def test_same_seed_same_python_and_numpy_draws():
    regbook.seed_everything(123)
    first = (random.random(), np.random.rand(3))
    regbook.seed_everything(123)
    second = (random.random(), np.random.rand(3))
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])


def test_different_seeds_differ():
    regbook.seed_everything(1)
    a = np.random.rand(3)
    regbook.seed_everything(2)
    assert not np.array_equal(a, np.random.rand(3))


def test_seeds_torch_when_loaded():
    torch = pytest.importorskip("torch")
    regbook.seed_everything(5)
    a = torch.rand(4)
    regbook.seed_everything(5)
    assert torch.equal(a, torch.rand(4))


def test_seeds_tensorflow_when_loaded():
    tf = pytest.importorskip("tensorflow")
    regbook.seed_everything(5)
    a = tf.random.uniform((4,)).numpy()
    regbook.seed_everything(5)
    np.testing.assert_array_equal(a, tf.random.uniform((4,)).numpy())


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError),
                                        ("3", TypeError), (True, TypeError)])
def test_rejects_bad_seed(bad, error):
    with pytest.raises(error, match="seed"):
        regbook.seed_everything(bad)
