import random
import subprocess
import sys

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


def test_seeding_torch_on_a_cpu_only_machine_does_not_load_its_compiler():
    # torch.use_deterministic_algorithms imports torch._inductor (about 1 s per process); on
    # CPU it is not needed, and every chapter pays for the import.
    pytest.importorskip("torch")
    code = ("import sys, torch, regbook\n"
            "if torch.cuda.is_available(): sys.exit(0)\n"
            "regbook.seed_everything(0)\n"
            "assert 'torch._inductor' not in sys.modules\n"
            "assert not torch.are_deterministic_algorithms_enabled()\n")
    subprocess.run([sys.executable, "-c", code], check=True)


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
