import os

import numpy as np
import pytest

from regbook import notebook


@pytest.mark.parametrize("value, expected", [
    (np.float64(0.5), 0.5), (np.float32(0.25), 0.25), (np.int64(3), 3), (np.array(2.0), 2.0),
    (1.5, 1.5), ("text", "text"),
])
def test_glue_passes_plain_python_values_to_myst_nb(monkeypatch, value, expected):
    seen = {}
    import myst_nb

    monkeypatch.setattr(myst_nb, "glue", lambda name, v, display: seen.update({name: v}))
    notebook.glue("x", value)
    assert seen["x"] == expected
    assert type(seen["x"]) is type(expected)


def test_setup_limits_threads_sets_framework_env_and_seeds(monkeypatch):
    from threadpoolctl import threadpool_info

    for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        monkeypatch.delenv(var, raising=False)
    assert notebook.setup(seed=7, threads=1) is None     # a cell ending with it shows nothing
    assert os.environ["OMP_NUM_THREADS"] == "1"
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "1"
    assert all(info["num_threads"] == 1 for info in threadpool_info()
               if info["user_api"] == "blas")
    first = np.random.random()
    notebook.setup(seed=7, threads=1)
    assert np.random.random() == first          # the global generator was seeded with 7


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"threads": 0}, ValueError, "threads"), ({"threads": 1.5}, TypeError, "threads"),
    ({"seed": -1}, ValueError, "seed"), ({"seed": "0"}, TypeError, "seed"),
])
def test_setup_refuses_bad_arguments_by_name(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        notebook.setup(**kwargs)
