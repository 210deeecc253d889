"""Convolution, pooling and flattening in NumPy against the gold models.

Forward outputs and all gradients equal PyTorch float64 autograd and TensorFlow float64
``tf.GradientTape`` (back-propagating a random upstream gradient, never all ones) on random
shapes with stride > 1, padding > 0, odd lengths, K = 1 and K = L; centred finite differences
on small cases; bad input names the argument.
"""

import numpy as np
import pytest

from regbook.np.conv import (
    conv1d_backward,
    conv1d_forward,
    flatten_backward,
    flatten_forward,
    global_avg_pool1d_backward,
    global_avg_pool1d_forward,
    maxpool1d_backward,
    maxpool1d_forward,
)
from regbook.np.gradcheck import numerical_gradient, rel_error

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
F = torch.nn.functional

RTOL = 1e-10  # float64, relative to the largest entry


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _conv_cases(n_random=8, seed=0):
    """(N, C_in, C_out, L, K, stride, padding): fixed corner cases, then random ones."""
    cases = [
        (2, 3, 4, 9, 1, 1, 0),      # K = 1
        (3, 2, 3, 7, 7, 1, 0),      # K = L
        (2, 2, 2, 5, 9, 2, 2),      # K = L + 2 * padding
        (2, 3, 5, 11, 3, 2, 1),     # odd length, stride 2, padding
        (1, 1, 1, 13, 4, 3, 0),     # stride does not divide L - K: trailing positions unused
        (4, 5, 2, 40, 5, 2, 2),     # MNIST-1D sized
    ]
    rng = np.random.default_rng(seed)
    while len(cases) < 6 + n_random:
        length, k = int(rng.integers(1, 16)), int(rng.integers(1, 8))
        padding, stride = int(rng.integers(0, 4)), int(rng.integers(1, 5))
        if k <= length + 2 * padding:
            cases.append((int(rng.integers(1, 5)), int(rng.integers(1, 5)),
                          int(rng.integers(1, 6)), length, k, stride, padding))
    return cases


CONV_CASES = _conv_cases()


def _conv_data(case, seed):
    n, c_in, c_out, length, k, stride, padding = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c_in, length))
    w = rng.normal(size=(c_out, c_in, k))
    b = rng.normal(size=c_out)
    l_out = (length + 2 * padding - k) // stride + 1
    return x, w, b, rng.normal(size=(n, c_out, l_out))


def _torch_conv(x, w, b, dout, stride, padding):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv1d(xt, wt, bt, stride=stride, padding=padding)
    grads = torch.autograd.grad(out, (xt, wt, bt), grad_outputs=torch.tensor(dout))
    return out.detach().numpy(), *(g.numpy() for g in grads)


def _tf_conv(x, w, b, dout, stride, padding):
    """tf.nn.conv1d works on (N, L, C) inputs and (K, C_in, C_out) kernels: transpose."""
    xt = tf.constant(x.transpose(0, 2, 1))
    wt, bt = tf.Variable(w.transpose(2, 1, 0)), tf.Variable(b)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        padded = tf.pad(xt, [[0, 0], [padding, padding], [0, 0]])
        out = tf.nn.conv1d(padded, wt, stride=stride, padding="VALID") + bt
    dx, dw, db = tape.gradient(out, [xt, wt, bt],
                               output_gradients=tf.constant(dout.transpose(0, 2, 1)))
    return (out.numpy().transpose(0, 2, 1), dx.numpy().transpose(0, 2, 1),
            dw.numpy().transpose(2, 1, 0), db.numpy())


def _numpy_conv(x, w, b, dout, stride, padding):
    out, cache = conv1d_forward(x, w, b, stride=stride, padding=padding)
    return (out, *conv1d_backward(dout, cache))


@pytest.mark.parametrize("gold", [_torch_conv, _tf_conv], ids=["torch", "tf"])
def test_conv1d_equals_the_frameworks_autograd(gold):
    for i, case in enumerate(CONV_CASES):
        *_, stride, padding = case
        x, w, b, dout = _conv_data(case, seed=i)
        ours = _numpy_conv(x, w, b, dout, stride, padding)
        theirs = gold(x, w, b, dout, stride, padding)
        for name, a, t in zip(("out", "dx", "dw", "db"), ours, theirs):
            assert _rel(a, t) <= RTOL, (case, name, _rel(a, t))


def test_conv1d_output_length_and_dtype():
    x = np.zeros((2, 3, 11), np.float32)
    out, _ = conv1d_forward(x, np.ones((4, 3, 3), np.float64), np.zeros(4), stride=2,
                            padding=1)
    assert out.shape == (2, 4, (11 + 2 - 3) // 2 + 1) and out.dtype == np.float32
    assert out.flags.c_contiguous


@pytest.mark.parametrize("case", [(2, 2, 3, 7, 3, 2, 1), (1, 3, 2, 6, 6, 1, 0),
                                  (2, 1, 2, 5, 1, 3, 2)])
def test_conv1d_gradients_match_finite_differences(case):
    *_, stride, padding = case
    x, w, b, dout = _conv_data(case, seed=11)
    dx, dw, db = conv1d_backward(dout, conv1d_forward(x, w, b, stride=stride,
                                                      padding=padding)[1])

    def loss():
        return float(np.sum(conv1d_forward(x, w, b, stride=stride, padding=padding)[0] * dout))

    for name, param, grad in (("x", x, dx), ("w", w, dw), ("b", b, db)):
        assert rel_error(numerical_gradient(lambda _: loss(), param), grad) < 1e-7, name


# --- max pooling ---------------------------------------------------------------------------

POOL_CASES = [  # (N, C, L, kernel_size, stride)
    (2, 3, 10, 2, None), (3, 2, 11, 3, None), (2, 2, 9, 3, 1), (1, 4, 7, 7, None),
    (2, 3, 13, 4, 3), (3, 1, 8, 1, 2), (2, 2, 12, 5, 2),
]


def _pool_data(case, seed):
    n, c, length, k, stride = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, length))          # continuous values: no ties
    l_out = (length - k) // (k if stride is None else stride) + 1
    return x, rng.normal(size=(n, c, l_out))


def _torch_pool(x, dout, k, stride):
    xt = torch.tensor(x, requires_grad=True)
    out = F.max_pool1d(xt, k, stride=stride)
    (dx,) = torch.autograd.grad(out, xt, grad_outputs=torch.tensor(dout))
    return out.detach().numpy(), dx.numpy()


def _tf_pool(x, dout, k, stride):
    xt = tf.constant(x.transpose(0, 2, 1))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = tf.nn.max_pool1d(xt, k, k if stride is None else stride, padding="VALID")
    dx = tape.gradient(out, xt, output_gradients=tf.constant(dout.transpose(0, 2, 1)))
    return out.numpy().transpose(0, 2, 1), dx.numpy().transpose(0, 2, 1)


@pytest.mark.parametrize("gold", [_torch_pool, _tf_pool], ids=["torch", "tf"])
def test_maxpool1d_equals_the_frameworks_autograd(gold):
    for i, case in enumerate(POOL_CASES):
        k, stride = case[3], case[4]
        x, dout = _pool_data(case, seed=i)
        out, cache = maxpool1d_forward(x, kernel_size=k, stride=stride)
        dx = maxpool1d_backward(dout, cache)
        out_gold, dx_gold = gold(x, dout, k, stride)
        assert _rel(out, out_gold) <= RTOL, (case, "out")
        assert _rel(dx, dx_gold) <= RTOL, (case, "dx")


def test_maxpool1d_ties_send_the_gradient_to_the_first_maximum_like_pytorch():
    x = np.array([[[1.0, 3.0, 3.0, 0.0, 2.0, 2.0, 2.0, -1.0, 5.0]]])
    dout = np.array([[[0.5, -2.0, 7.0, 1.5, -0.25, 3.0, -4.0, 0.75]]])
    for k, stride in ((3, 2), (2, 2), (3, 1)):
        d = dout[..., :(9 - k) // stride + 1]
        out, cache = maxpool1d_forward(x, kernel_size=k, stride=stride)
        out_gold, dx_gold = _torch_pool(x, d, k, stride)
        np.testing.assert_array_equal(out, out_gold)
        np.testing.assert_array_equal(maxpool1d_backward(d, cache), dx_gold)
    _, cache = maxpool1d_forward(x, kernel_size=3, stride=3)
    np.testing.assert_array_equal(maxpool1d_backward(dout[..., :3], cache)[0, 0],
                                  [0, 0.5, 0, 0, -2.0, 0, 0, 0, 7.0])


def test_maxpool1d_gradient_matches_finite_differences():
    x, dout = _pool_data((2, 2, 9, 3, 2), seed=5)
    _, cache = maxpool1d_forward(x, kernel_size=3, stride=2)
    dx = maxpool1d_backward(dout, cache)

    def loss(_):
        return float(np.sum(maxpool1d_forward(x, kernel_size=3, stride=2)[0] * dout))

    assert rel_error(numerical_gradient(loss, x), dx) < 1e-7


# --- global average pooling and flatten ----------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 3, 7), (1, 1, 1), (4, 5, 40)])
def test_global_avg_pool1d_equals_the_frameworks_autograd(shape):
    rng = np.random.default_rng(sum(shape))
    x, dout = rng.normal(size=shape), rng.normal(size=shape[:2])
    out, cache = global_avg_pool1d_forward(x)
    dx = global_avg_pool1d_backward(dout, cache)
    xt = torch.tensor(x, requires_grad=True)
    out_t = F.adaptive_avg_pool1d(xt, 1)[:, :, 0]
    (dx_t,) = torch.autograd.grad(out_t, xt, grad_outputs=torch.tensor(dout))
    xf = tf.constant(x.transpose(0, 2, 1))
    with tf.GradientTape() as tape:
        tape.watch(xf)
        out_f = tf.reduce_mean(xf, axis=1)
    dx_f = tape.gradient(out_f, xf, output_gradients=tf.constant(dout)).numpy()
    assert out.shape == shape[:2] and dx.shape == shape
    for gold_out, gold_dx in ((out_t.detach().numpy(), dx_t.numpy()),
                              (out_f.numpy(), dx_f.transpose(0, 2, 1))):
        assert _rel(out, gold_out) <= RTOL and _rel(dx, gold_dx) <= RTOL


def test_global_avg_pool1d_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    x, dout = rng.normal(size=(2, 3, 5)), rng.normal(size=(2, 3))
    dx = global_avg_pool1d_backward(dout, global_avg_pool1d_forward(x)[1])
    num = numerical_gradient(lambda _: float(np.sum(global_avg_pool1d_forward(x)[0] * dout)), x)
    assert rel_error(num, dx) < 1e-7


@pytest.mark.parametrize("shape", [(2, 3, 7), (1, 1, 1), (3, 4, 2, 5)])
def test_flatten_equals_torch_flatten_and_its_gradient(shape):
    rng = np.random.default_rng(len(shape))
    x = rng.normal(size=shape)
    dout = rng.normal(size=(shape[0], int(np.prod(shape[1:]))))
    out, cache = flatten_forward(x)
    dx = flatten_backward(dout, cache)
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch.flatten(xt, 1)
    (dx_t,) = torch.autograd.grad(out_t, xt, grad_outputs=torch.tensor(dout))
    np.testing.assert_array_equal(out, out_t.detach().numpy())
    np.testing.assert_array_equal(dx, dx_t.numpy())
    np.testing.assert_array_equal(tf.reshape(tf.constant(x), (shape[0], -1)).numpy(), out)


# --- bad input -----------------------------------------------------------------------------

def _conv_call(x=(2, 3, 8), w=(4, 3, 3), b=(4,), **kwargs):
    return conv1d_forward(np.ones(x), np.ones(w), np.ones(b), **kwargs)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"x": (3, 8)}, ValueError, "x must be 3-dimensional"),
    ({"w": (4, 3)}, ValueError, "w must be 3-dimensional"),
    ({"b": (4, 1)}, ValueError, "b must be 1-dimensional"),
    ({"w": (4, 2, 3)}, ValueError, "w has 2 input channels.*x has 3"),
    ({"b": (5,)}, ValueError, r"b must have shape \(4,\)"),
    ({"w": (4, 3, 9)}, ValueError, "kernel.*w's axis 2.*longer than the padded input"),
    ({"w": (4, 3, 11), "padding": 1}, ValueError, "longer than the padded input"),
    ({"stride": 0}, ValueError, "stride must be >= 1"),
    ({"stride": 1.5}, TypeError, "stride must be an integer"),
    ({"padding": -1}, ValueError, "padding must be >= 0"),
])
def test_conv1d_bad_input_names_the_argument(kwargs, error, words):
    with pytest.raises(error, match=words):
        _conv_call(**kwargs)


def test_conv1d_accepts_a_kernel_as_long_as_the_padded_input():
    out, _ = _conv_call(w=(4, 3, 10), padding=1)
    assert out.shape == (2, 4, 1)


def test_non_finite_and_non_numeric_input_is_refused():
    x = np.ones((2, 3, 8))
    x[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="x must contain only finite"):
        conv1d_forward(x, np.ones((4, 3, 3)), np.ones(4))
    with pytest.raises(TypeError, match="w must hold real numbers"):
        conv1d_forward(np.ones((2, 3, 8)), np.full((4, 3, 3), "a"), np.ones(4))
    with pytest.raises(ValueError, match="x must contain only finite"):
        maxpool1d_forward(x, kernel_size=2)


def test_backward_refuses_a_cache_of_another_kind_or_shape_of_dout():
    x = np.random.default_rng(0).normal(size=(2, 3, 8))
    _, conv_cache = conv1d_forward(x, np.ones((4, 3, 3)), np.ones(4))
    _, pool_cache = maxpool1d_forward(x, kernel_size=2)
    with pytest.raises(TypeError, match="cache returned by conv1d_forward.*maxpool1d_forward"):
        conv1d_backward(np.ones((2, 4, 6)), pool_cache)
    with pytest.raises(TypeError, match="cache returned by maxpool1d_forward.*conv1d_forward"):
        maxpool1d_backward(np.ones((2, 3, 4)), conv_cache)
    with pytest.raises(TypeError, match="cache returned by flatten_forward, got tuple"):
        flatten_backward(np.ones((2, 24)), (1, 2))
    with pytest.raises(TypeError, match="global_avg_pool1d_forward"):
        global_avg_pool1d_backward(np.ones((2, 3)), conv_cache)
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(2, 4, 6\)"):
        conv1d_backward(np.ones((2, 4, 5)), conv_cache)
    with pytest.raises(ValueError, match=r"dout must have .* \(2, 3, 4\)"):
        maxpool1d_backward(np.ones((2, 3, 5)), pool_cache)
    with pytest.raises(ValueError, match=r"dout must have .* \(2, 3\)"):
        global_avg_pool1d_backward(np.ones((2, 3, 1)), global_avg_pool1d_forward(x)[1])
    with pytest.raises(ValueError, match=r"dout must have .* \(2, 24\)"):
        flatten_backward(np.ones((2, 3, 8)), flatten_forward(x)[1])


@pytest.mark.parametrize("kwargs, error, words", [
    ({"kernel_size": 9}, ValueError, "kernel_size=9 is longer than the input"),
    ({"kernel_size": 0}, ValueError, "kernel_size must be >= 1"),
    ({"kernel_size": 2, "stride": 0}, ValueError, "stride must be >= 1"),
    ({"kernel_size": 2.0}, TypeError, "kernel_size must be an integer"),
])
def test_maxpool1d_bad_input_names_the_argument(kwargs, error, words):
    with pytest.raises(error, match=words):
        maxpool1d_forward(np.ones((2, 3, 8)), **kwargs)


def test_pooling_and_flatten_refuse_a_wrong_ndim():
    with pytest.raises(ValueError, match="x must be 3-dimensional"):
        maxpool1d_forward(np.ones((3, 8)), kernel_size=2)
    with pytest.raises(ValueError, match="x must be 3-dimensional"):
        global_avg_pool1d_forward(np.ones((3, 8, 1, 1)))
    with pytest.raises(ValueError, match="x must have at least 2 dimensions"):
        flatten_forward(np.ones(5))
