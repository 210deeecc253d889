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
