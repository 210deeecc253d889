import numpy as np
import pytest

from regbook import np as rnp


def test_numerical_gradient_of_a_quadratic_is_exact_enough():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = np.array([0.3, -0.7])
    grad = rnp.numerical_gradient(lambda v: 0.5 * v @ A @ v, x)
    assert rnp.rel_error(grad, A @ x) < 1e-9
    np.testing.assert_array_equal(x, [0.3, -0.7])  # restored


def test_rel_error_detects_a_wrong_gradient():
    x = np.array([1.0, 2.0])
    grad = rnp.numerical_gradient(lambda v: np.sum(v**3), x)
    assert rnp.rel_error(grad, 3 * x**2) < 1e-8
    assert rnp.rel_error(grad, 2 * x**2) > 0.1


def test_gradcheck_input_errors():
    with pytest.raises(TypeError, match="floating"):
        rnp.numerical_gradient(lambda v: 0.0, np.array([1, 2]))
    with pytest.raises(ValueError, match="same shape"):
        rnp.rel_error(np.ones(2), np.ones(3))


@pytest.mark.parametrize("h", [0.0, -1e-5, float("nan"), float("inf")])
def test_numerical_gradient_refuses_a_bad_step(h):
    x = np.array([0.3, -0.7])
    with pytest.raises(ValueError, match="^h must be"):
        rnp.numerical_gradient(lambda v: float(v @ v), x, h=h)
    np.testing.assert_array_equal(x, [0.3, -0.7])


def test_numerical_gradient_refuses_a_non_numeric_step():
    with pytest.raises(TypeError, match="^h must be a real number"):
        rnp.numerical_gradient(lambda v: 0.0, np.ones(2), h="1e-5")


@pytest.mark.parametrize("fail_on_call", [1, 2, 3, 4])
def test_numerical_gradient_restores_x_exactly_when_f_raises(fail_on_call):
    # 0.1 + h - h != 0.1 in floating point: only restoring the saved value gives x back
    # bit for bit. Calls 1, 2 perturb x[0, 0] up and down; 3, 4 perturb x[0, 1].
    x = np.array([[0.1, 1.0 / 3.0], [np.pi, -np.e]])
    original = x.copy()
    calls = []

    def f(v):
        calls.append(v.copy())
        if len(calls) == fail_on_call:
            raise RuntimeError("boom")
        return float(np.sum(v**2))

    with pytest.raises(RuntimeError, match="boom"):
        rnp.numerical_gradient(f, x, h=1e-3)
    assert x.tobytes() == original.tobytes()
    assert not np.array_equal(calls[-1], original)         # f did see a perturbed x


def test_numerical_gradient_leaves_x_bit_for_bit_unchanged():
    x = np.random.default_rng(0).normal(size=(3, 4))
    original = x.copy()
    rnp.numerical_gradient(lambda v: float(np.sum(np.sin(v))), x, h=1e-3)
    assert x.tobytes() == original.tobytes()


def test_numerical_gradient_refuses_a_read_only_x_and_a_non_callable_f():
    x = np.ones(2)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="x must be writeable"):
        rnp.numerical_gradient(lambda v: 0.0, x)
    with pytest.raises(TypeError, match="f must be callable"):
        rnp.numerical_gradient(3.0, np.ones(2))
