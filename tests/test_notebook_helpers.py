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
