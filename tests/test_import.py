"""`import regbook` stays light: no TensorFlow, no PyTorch until a backend is touched."""

import subprocess
import sys

import pytest


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return result.stdout.strip()


@pytest.mark.parametrize("statement", [
    "import regbook",
    "import regbook.np",
    "import regbook.data, regbook.plot",
    "import regbook; regbook.np.mse([1.0], [1.0]); regbook.seed_everything(1)",
])
def test_light_imports_do_not_load_frameworks(statement):
    out = _run(f"{statement}\nimport sys\n"
               "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    assert out == "[]"


def test_torch_backend_loads_torch_on_first_use():
    out = _run("import sys, regbook\nassert 'torch' not in sys.modules\n"
               "regbook.torch.make_mlp\nprint('torch' in sys.modules, 'tensorflow' in sys.modules)")
    assert out == "True False"


def test_tf_backend_loads_tensorflow_on_first_use():
    out = _run("import sys, regbook\nassert 'tensorflow' not in sys.modules\n"
               "regbook.tf.make_mlp\nprint('tensorflow' in sys.modules, 'torch' in sys.modules)")
    assert out == "True False"


def test_unknown_attribute_is_an_attribute_error():
    import regbook

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        regbook.nope  # noqa: B018
