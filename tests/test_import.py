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


def test_regbook_np_imports_no_scipy_and_no_framework():
    # SciPy (~200 ms) is loaded by the first lasso solve, not by the import.
    out = _run("import regbook, regbook.np, sys; print('scipy' in sys.modules, 'torch' in "
               "sys.modules, 'tensorflow' in sys.modules, 'sklearn' in sys.modules)")
    assert out == "False False False False"


def test_scipy_is_loaded_on_the_first_lasso_solve():
    out = _run("import sys, numpy as np, regbook.np as rnp\n"
               "X = np.random.default_rng(0).normal(size=(20, 5)); y = X[:, 0]\n"
               "rnp.ridge(X, y, 0.1); before = 'scipy' in sys.modules\n"
               "rnp.lasso(X, y, 0.01); print(before, 'scipy' in sys.modules)")
    assert out == "False True"


def _imported_modules(path) -> set[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "regbook":
                names.update(f"regbook.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("backend", ["torch", "tf"])
def test_framework_backends_take_shared_code_from_outside_regbook_np(backend):
    # FitPath lives in regbook.history and lasso_objective in regbook.objectives: the torch
    # and tf backends never import the NumPy backend.
    from pathlib import Path

    import regbook

    package = Path(regbook.__file__).parent / backend
    for path in sorted(package.glob("*.py")):
        wrong = {m for m in _imported_modules(path) if m == "regbook.np" or
                 m.startswith("regbook.np.")}
        assert not wrong, f"{path.name} imports {sorted(wrong)}"


def test_torch_backend_loads_torch_on_first_use():
    out = _run("import sys, regbook\nassert 'torch' not in sys.modules\nregbook.torch.make_mlp\n"
               "print('torch' in sys.modules, 'tensorflow' in sys.modules)")
    assert out == "True False"


def test_tf_backend_loads_tensorflow_on_first_use():
    out = _run("import sys, regbook\nassert 'tensorflow' not in sys.modules\n"
               "regbook.tf.make_mlp\nprint('tensorflow' in sys.modules, 'torch' in sys.modules)")
    assert out == "True False"


def test_unknown_attribute_is_an_attribute_error():
    import regbook

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        regbook.nope  # noqa: B018
