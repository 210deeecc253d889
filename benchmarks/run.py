#!/usr/bin/env python
"""Benchmarks of regbook's from-scratch NumPy code against PyTorch and scikit-learn.

Run from the repository root::

    .venv/bin/python benchmarks/run.py                  # full run (5 repeats)
    .venv/bin/python benchmarks/run.py --quick          # smoke run, a few seconds per row
    .venv/bin/python benchmarks/run.py --repeats 11 --markdown benchmarks/results/latest.md
    .venv/bin/python benchmarks/run.py --only lasso     # rows whose operation contains "lasso"

Every row times one operation of ``regbook`` and the same computation in a reference library,
side by side in this one process: both callables are first run once (warm-up, which also sets
how many calls make up one timed repeat), then ``--repeats`` repeats of each are taken,
alternating which of the two goes first, and the table shows the *median* time per call of each
and their ratio (regbook / reference; below 1 means regbook is faster). Before any timing the
two outputs are checked against each other (``assert``), so a row never compares two different
computations; a row whose check fails is reported and not timed (exit status 1). Benchmarks
report; they never fail because of time. See benchmarks/README.md.

PyTorch runs on CUDA when ``torch.cuda.is_available()`` (the clock is read after
``torch.cuda.synchronize()``); the device is named in the header.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import math
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a clean clone without installing regbook
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TARGET_RATIO = 1.5  # the target: regbook / reference <= 1.5


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------

def _no_sync() -> None:
    return None


@dataclass
class Timer:
    """Median-of-repeats timing of two callables measured side by side."""

    repeats: int
    min_time: float  # seconds one timed repeat should last at least (sets the call count)

    def _calls_per_repeat(self, fn: Callable[[], object], sync: Callable[[], None]) -> int:
        sync()
        t0 = time.perf_counter()
        fn()  # warm-up call (also the calibration)
        sync()
        once = time.perf_counter() - t0
        if once <= 0:
            return 1000
        return int(min(1000, max(1, math.ceil(self.min_time / once))))

    @staticmethod
    def _repeat(fn: Callable[[], object], sync: Callable[[], None], number: int) -> float:
        gc.collect()
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            sync()
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            sync()
            return (time.perf_counter() - t0) / number
        finally:
            if gc_was_enabled:
                gc.enable()

    def pair(self, f_reg: Callable[[], object], f_ref: Callable[[], object],
             sync_ref: Callable[[], None] = _no_sync) -> tuple[float, float]:
        """Median seconds per call of ``f_reg`` and ``f_ref``."""
        n_reg = self._calls_per_repeat(f_reg, _no_sync)
        n_ref = self._calls_per_repeat(f_ref, sync_ref)
        t_reg, t_ref = [], []
        for r in range(self.repeats):
            if r % 2 == 0:
                t_reg.append(self._repeat(f_reg, _no_sync, n_reg))
                t_ref.append(self._repeat(f_ref, sync_ref, n_ref))
            else:
                t_ref.append(self._repeat(f_ref, sync_ref, n_ref))
                t_reg.append(self._repeat(f_reg, _no_sync, n_reg))
        return statistics.median(t_reg), statistics.median(t_ref)


@dataclass
class Row:
    operation: str
    size: str
    reference: str
    t_regbook: float
    t_reference: float
    target: float | None  # ratio target, or None when the issue sets none for this row
    check: str            # what was asserted before timing
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.t_regbook / self.t_reference

    @property
    def target_met(self) -> str:
        if self.target is None:
            return "n/a"
        met = "yes" if self.ratio <= self.target else "NO"
        return met if self.target == TARGET_RATIO else f"{met} (<= {self.target:g})"


@dataclass
class Context:
    timer: Timer
    quick: bool
    torch: object
    device: object
    sync: Callable[[], None]
    rows: list[Row] = field(default_factory=list)

    @property
    def on_gpu(self) -> bool:
        return self.device.type != "cpu"

    def layer_target(self) -> float | None:
        # The layer target is against PyTorch on the CPU; on a GPU it does not apply.
        return None if self.on_gpu else TARGET_RATIO


def _fmt_time(t: float) -> str:
    if t >= 1.0:
        return f"{t:.3f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.3f} ms"
    return f"{t * 1e6:.1f} us"


# --------------------------------------------------------------------------------------------
# Benchmarks: layers vs PyTorch autograd
# --------------------------------------------------------------------------------------------

def _torch_tensor(ctx: Context, a: np.ndarray, requires_grad: bool = False):
    return ctx.torch.tensor(a, device=ctx.device, requires_grad=requires_grad)


def _batchnorm_case(shape: tuple[int, ...]):
    """Seeded float32 ``(x, gamma, beta, dout)`` and regbook's forward+backward on them."""
    import regbook.np as rnp

    rng = np.random.default_rng(0)
    c = shape[1]
    x = rng.standard_normal(shape).astype(np.float32)
    gamma = (1.0 + 0.1 * rng.standard_normal(c)).astype(np.float32)
    beta = (0.1 * rng.standard_normal(c)).astype(np.float32)
    dout = rng.standard_normal(shape).astype(np.float32)

    def reg():
        out, cache = rnp.batchnorm_forward(x, gamma, beta, eps=1e-5)
        return (out,) + tuple(rnp.batchnorm_backward(dout, cache))

    return (x, gamma, beta, dout), reg


def bench_batchnorm(ctx: Context, shape: tuple[int, ...]) -> None:
    import torch.nn.functional as F

    torch = ctx.torch
    (x, gamma, beta, dout), reg = _batchnorm_case(shape)

    tx, tg, tb = (_torch_tensor(ctx, a, True) for a in (x, gamma, beta))
    td = _torch_tensor(ctx, dout)

    def ref():
        out = F.batch_norm(tx, None, None, weight=tg, bias=tb, training=True, eps=1e-5)
        return (out,) + tuple(torch.autograd.grad(out, (tx, tg, tb), td))

    ours = reg()
    theirs = [t.detach().cpu().numpy() for t in ref()]
    for name, a, b in zip(("out", "dx", "dgamma", "dbeta"), ours, theirs):
        assert a.dtype == np.float32, f"batchnorm {name} is {a.dtype}, expected float32"
        scale = max(1.0, float(np.abs(b).max()))
        err = float(np.abs(a - b).max()) / scale
        assert err < 1e-3, f"batchnorm {name} differs from PyTorch: {err:.2e}"
    t_reg, t_ref = ctx.timer.pair(reg, ref, ctx.sync)
    ctx.rows.append(Row("batchnorm fwd+bwd", "x".join(map(str, shape)) + " f32",
                        f"torch autograd ({ctx.device.type})", t_reg, t_ref,
                        ctx.layer_target(), "out, dx, dgamma, dbeta max err < 1e-3 (f32)"))


def bench_dropout(ctx: Context, shape: tuple[int, ...], p: float = 0.5) -> None:
    import regbook.np as rnp
    import torch.nn.functional as F

    torch = ctx.torch
    rng_data = np.random.default_rng(1)
    x = rng_data.standard_normal(shape).astype(np.float32)
    dout = rng_data.standard_normal(shape).astype(np.float32)
    rng = np.random.default_rng(2)

    def reg():
        out, cache = rnp.dropout_forward(x, p, rng=rng, training=True)
        return out, rnp.dropout_backward(dout, cache)

    tx = _torch_tensor(ctx, x, True)
    td = _torch_tensor(ctx, dout)

    def ref():
        out = F.dropout(tx, p=p, training=True)
        return out, torch.autograd.grad(out, tx, td)[0]

    # Same computation: feed PyTorch's mask to regbook and compare both outputs; and both
    # draw masks that keep about 1 - p of the units.
    t_out, t_dx = (t.detach().cpu().numpy() for t in ref())
    keep = t_out != 0
    out, cache = rnp.dropout_forward(x, p, rng=None, training=True, keep_mask=keep)
    dx = rnp.dropout_backward(dout, cache)
    assert out.dtype == np.float32 and dx.dtype == np.float32, "dropout must keep float32"
    assert np.allclose(out, t_out, rtol=1e-6, atol=1e-6), "dropout forward differs from PyTorch"
    assert np.allclose(dx, t_dx, rtol=1e-6, atol=1e-6), "dropout backward differs from PyTorch"
    own_keep = reg()[0] != 0
    for name, frac in (("regbook", own_keep.mean()), ("torch", keep.mean())):
        assert abs(frac - (1 - p)) < 0.01, f"{name} keeps {frac:.3f} of the units, not {1 - p}"
    t_reg, t_ref = ctx.timer.pair(reg, ref, ctx.sync)
    ctx.rows.append(Row(f"dropout fwd+bwd (p={p})", "x".join(map(str, shape)) + " f32",
                        f"torch autograd ({ctx.device.type})", t_reg, t_ref,
                        ctx.layer_target(), "same mask: out, dx allclose 1e-6; keep rate"))


def bench_mlp_epoch(ctx: Context, hidden: int = 128, batch_size: int = 32,
                    lr: float = 1e-3) -> None:
    import regbook.data
    import regbook.np as rnp
    import torch.nn.functional as F
    from torch import nn

    torch = ctx.torch
    split = regbook.data.digits_split()
    X, y = split.X_train, split.y_train
    n, d = X.shape
    order = np.random.default_rng(0).permutation(n)
    batches = [order[s:s + batch_size] for s in range(0, n, batch_size)]

    def numpy_model():
        model = rnp.make_mlp(d, (hidden,), 10, seed=0)
        return model, rnp.Adam(lr=lr)

    def torch_model(np_model):
        model = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, 10))
        with torch.no_grad():
            for t_lin, n_lin in ((model[0], np_model.layers[0]), (model[2], np_model.layers[2])):
                t_lin.weight.copy_(torch.from_numpy(n_lin.params["W"].T.copy()))
                t_lin.bias.copy_(torch.from_numpy(n_lin.params["b"]))
        model.to(ctx.device)
        return model, torch.optim.Adam(model.parameters(), lr=lr)

    tX = _torch_tensor(ctx, X)
    ty = torch.tensor(y, device=ctx.device)
    t_batches = [torch.tensor(b, device=ctx.device) for b in batches]

    def np_epoch(model, opt):
        for idx in batches:
            logits = model.forward(X[idx], training=True)
            _, dlogits = rnp.softmax_cross_entropy(logits, y[idx])
            model.backward(dlogits)
            opt.step(model)

    def torch_epoch(model, opt):
        for idx in t_batches:
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(tX[idx]), ty[idx])
            loss.backward()
            opt.step()

    # Same computation: one epoch from the same weights, same batches -> same weights.
    m_np, o_np = numpy_model()
    m_t, o_t = torch_model(m_np)
    np_epoch(m_np, o_np)
    torch_epoch(m_t, o_t)
    pairs = ((m_t[0], m_np.layers[0]), (m_t[2], m_np.layers[2]))
    for t_lin, n_lin in pairs:
        for t_p, n_p in ((t_lin.weight.detach().cpu().numpy().T, n_lin.params["W"]),
                         (t_lin.bias.detach().cpu().numpy(), n_lin.params["b"])):
            assert n_p.dtype == np.float32, "MLP parameters must stay float32"
            err = float(np.abs(t_p - n_p).max())
            assert err < 1e-4, f"MLP weights after one epoch differ from PyTorch by {err:.2e}"

    m_np, o_np = numpy_model()
    m_t, o_t = torch_model(m_np)
    t_reg, t_ref = ctx.timer.pair(lambda: np_epoch(m_np, o_np), lambda: torch_epoch(m_t, o_t),
                                  ctx.sync)
    ctx.rows.append(Row("MLP epoch (Adam)", f"{d}-{hidden}-10, {n} ex, batch {batch_size}",
                        f"torch ({ctx.device.type})", t_reg, t_ref, ctx.layer_target(),
                        "weights after 1 epoch max err < 1e-4"))


# --------------------------------------------------------------------------------------------
# The MNIST-1D CNN: one training step, and many seeds at once
# --------------------------------------------------------------------------------------------

SEEDS_TARGET = 0.25   # issue 13: 10 seeds together >= 4x faster than 10 sequential runs
CNN_STEP_TARGET = 1.0  # issue 13: the NumPy CNN step no slower than PyTorch's on the CPU


def _mnist1d_rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    import regbook.data
    split = regbook.data.mnist1d()
    return split.X_train[:n].astype(np.float32), split.y_train[:n]


class _OneThread:
    """BLAS (threadpoolctl) and torch on one thread for the block, as the issue's rows ask."""

    def __init__(self, torch):
        self.torch = torch

    def __enter__(self):
        from threadpoolctl import threadpool_limits
        self.limits = threadpool_limits(limits=1)
        self.threads = self.torch.get_num_threads()
        self.torch.set_num_threads(1)

    def __exit__(self, *exc):
        self.torch.set_num_threads(self.threads)
        self.limits.restore_original_limits()


def bench_cnn_step(ctx: Context, batch_size: int = 100, lr: float = 1e-3) -> None:
    import regbook.np as rnp
    import torch.nn.functional as F

    torch = ctx.torch
    X, y = _mnist1d_rows(batch_size)

    def numpy_model():
        return rnp.make_cnn(seed=0), rnp.Adam(lr=lr)

    def torch_model(np_model):                     # regbook.torch.make_cnn, np's weights
        import regbook.torch as rt
        model = rt.make_cnn(seed=0)
        arrays = [a if a.ndim != 2 else a.T for a in np_model.get_weights()]  # Linear: W.T
        with torch.no_grad():
            for p, a in zip(model.parameters(), arrays, strict=True):
                p.copy_(torch.from_numpy(np.ascontiguousarray(a)))
        return model, torch.optim.Adam(model.parameters(), lr=lr)

    tX, ty = torch.from_numpy(X), torch.from_numpy(y)

    def np_step(model, opt):
        logits = model.forward(X, training=True)
        _, dlogits = rnp.softmax_cross_entropy(logits, y)
        model.backward(dlogits)
        opt.step(model)

    def torch_step(model, opt):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(tX), ty).backward()
        opt.step()

    # Same computation: three steps from the same weights on the same batch -> same weights.
    m_np, o_np = numpy_model()
    m_t, o_t = torch_model(m_np)
    for _ in range(3):
        np_step(m_np, o_np)
        torch_step(m_t, o_t)
    for a, t in zip(m_np.get_weights(), m_t.parameters(), strict=True):
        t = t.detach().numpy()
        assert a.dtype == np.float32, "CNN parameters must stay float32"
        err = float(np.abs((a if a.ndim != 2 else a.T) - t).max())
        assert err < 1e-4, f"CNN weights after 3 steps differ from PyTorch by {err:.2e}"

    m_np, o_np = numpy_model()
    m_t, o_t = torch_model(m_np)
    t_reg, t_ref = ctx.timer.pair(lambda: np_step(m_np, o_np), lambda: torch_step(m_t, o_t))
    ctx.rows.append(Row("MNIST-1D CNN training step (Adam)", f"5,210 params, batch {batch_size}",
                        "torch (cpu)", t_reg, t_ref, CNN_STEP_TARGET,
                        "weights after 3 steps max err < 1e-4 (f32)",
                        note=f"target ratio <= {CNN_STEP_TARGET:g}"))


def bench_seeds(ctx: Context, backend: str, n_seeds: int = 10, n: int = 1000,
                batch_size: int = 100, epochs: int = 2, one_thread: bool = True) -> None:
    """``fit_seeds`` of ``n_seeds`` default CNNs vs a loop of single ``fit_classifier`` runs.

    ``one_thread``: both sides on one thread (BLAS and torch), which shows the work that
    training together saves; otherwise both sides with the libraries' default threads on all
    the usable cores, which is what a chapter on the book's 2-core machines would see (NumPy's
    ``fit_seeds`` then trains its members in one group per core).
    """
    import contextlib
    import importlib

    from regbook._threads import usable_cores

    rb = importlib.import_module(f"regbook.{backend}")
    X, y = _mnist1d_rows(n)
    seeds = list(range(n_seeds))
    settings = dict(epochs=epochs, batch_size=batch_size, lr=1e-3)

    def together(dtype="float32"):
        return rb.fit_seeds(lambda s: rb.make_cnn(seed=s, dtype=dtype), X, y, seeds=seeds,
                            **settings)

    def one_by_one(dtype="float32"):
        models = [rb.make_cnn(seed=s, dtype=dtype) for s in seeds]
        return models, [rb.fit_classifier(m, X, y, seed=s, **settings)
                        for m, s in zip(models, seeds)]

    def weights(model):
        if backend == "np":
            return model.get_weights()
        return [t.detach().numpy() for t in model.state_dict().values()]

    threads = _OneThread(ctx.torch) if one_thread else contextlib.nullcontext()
    with threads:
        # Same computation: every seed's final weights and history, together vs alone, in
        # float64 (in float32, Adam turns the rounding noise of near-zero gradients into
        # steps of size lr, so the two orders of summation drift apart by ~lr).
        (models, histories), (refs, ref_histories) = together("float64"), one_by_one("float64")
        for s, m, r, h, rh in zip(seeds, models, refs, histories, ref_histories):
            err = max(float(np.abs(a - b).max()) for a, b in zip(weights(m), weights(r)))
            assert err < 1e-8, f"seed {s}: weights differ from a single run by {err:.2e}"
            assert np.allclose(h["loss"], rh["loss"], rtol=1e-8), f"seed {s}: loss differs"
        t_reg, t_ref = ctx.timer.pair(together, one_by_one)
    steps = epochs * (n // batch_size)
    cores = "1 thread" if one_thread else f"default threads, {usable_cores()} cores"
    ctx.rows.append(Row(f"{n_seeds} seeds together (fit_seeds), {backend}",
                        f"MNIST-1D CNN, {steps} steps of batch {batch_size}, {cores}",
                        f"{n_seeds} sequential fit_classifier", t_reg, t_ref, SEEDS_TARGET,
                        "every seed's weights max err < 1e-8, losses rtol 1e-8 (f64 run); "
                        "timed in f32",
                        note=f"{n} examples, {epochs} epochs, each epoch evaluated; target "
                             f"ratio <= {SEEDS_TARGET:g} (>= {1 / SEEDS_TARGET:g}x faster)"))


# --------------------------------------------------------------------------------------------
# Optional: the same layers vs TensorFlow (--tensorflow)
# --------------------------------------------------------------------------------------------

def _tf_sync(tf) -> Callable[[], None]:
    if tf.config.list_physical_devices("GPU") and hasattr(tf.test.experimental, "sync_devices"):
        return tf.test.experimental.sync_devices
    return _no_sync


def _tf_device(tf) -> str:
    gpus = tf.config.list_physical_devices("GPU")
    return "gpu" if gpus else "cpu"


def bench_tf_batchnorm(ctx: Context, shape: tuple[int, ...]) -> None:
    import tensorflow as tf

    (x, gamma, beta, dout), reg = _batchnorm_case(shape)
    c = shape[1]
    axes = [0] if len(shape) == 2 else [0, 2, 3]
    bshape = (1, c) if len(shape) == 2 else (1, c, 1, 1)
    tx, td = tf.constant(x), tf.constant(dout)
    tg, tb = tf.Variable(gamma), tf.Variable(beta)

    @tf.function
    def ref():
        with tf.GradientTape() as tape:
            tape.watch(tx)
            mean, var = tf.nn.moments(tx, axes=axes, keepdims=True)
            out = tf.nn.batch_normalization(tx, mean, var, tf.reshape(tb, bshape),
                                            tf.reshape(tg, bshape), 1e-5)
        return (out,) + tuple(tape.gradient(out, [tx, tg, tb], output_gradients=td))

    for name, a, b in zip(("out", "dx", "dgamma", "dbeta"), reg(), [t.numpy() for t in ref()]):
        err = float(np.abs(a - b).max()) / max(1.0, float(np.abs(b).max()))
        assert err < 1e-3, f"batchnorm {name} differs from TensorFlow: {err:.2e}"
    t_reg, t_ref = ctx.timer.pair(reg, ref, _tf_sync(tf))
    ctx.rows.append(Row("batchnorm fwd+bwd", "x".join(map(str, shape)) + " f32",
                        f"tf.function + GradientTape ({_tf_device(tf)})", t_reg, t_ref, None,
                        "out, dx, dgamma, dbeta max err < 1e-3 (f32)"))


def bench_tf_dropout(ctx: Context, shape: tuple[int, ...], p: float = 0.5) -> None:
    import regbook.np as rnp
    import tensorflow as tf

    rng_data = np.random.default_rng(1)
    x = rng_data.standard_normal(shape).astype(np.float32)
    dout = rng_data.standard_normal(shape).astype(np.float32)
    rng = np.random.default_rng(2)
    tx, td = tf.constant(x), tf.constant(dout)
    tf.random.set_seed(0)

    @tf.function
    def ref():
        with tf.GradientTape() as tape:
            tape.watch(tx)
            out = tf.nn.dropout(tx, rate=p)
        return out, tape.gradient(out, tx, output_gradients=td)

    def reg():
        out, cache = rnp.dropout_forward(x, p, rng=rng, training=True)
        return out, rnp.dropout_backward(dout, cache)

    t_out, t_dx = (t.numpy() for t in ref())
    out, cache = rnp.dropout_forward(x, p, rng=None, training=True, keep_mask=t_out != 0)
    assert np.allclose(out, t_out, rtol=1e-6, atol=1e-6), "dropout forward differs from TF"
    assert np.allclose(rnp.dropout_backward(dout, cache), t_dx, rtol=1e-6, atol=1e-6), \
        "dropout backward differs from TF"
    t_reg, t_ref = ctx.timer.pair(reg, ref, _tf_sync(tf))
    ctx.rows.append(Row(f"dropout fwd+bwd (p={p})", "x".join(map(str, shape)) + " f32",
                        f"tf.function + GradientTape ({_tf_device(tf)})", t_reg, t_ref, None,
                        "same mask: out, dx allclose 1e-6"))


# --------------------------------------------------------------------------------------------
# Benchmarks: linear models vs scikit-learn
# --------------------------------------------------------------------------------------------

def _diabetes() -> tuple[np.ndarray, np.ndarray]:
    import regbook.data
    s = regbook.data.diabetes_split()
    X = np.concatenate([s.X_train, s.X_val, s.X_test])
    y = np.concatenate([s.y_train, s.y_val, s.y_test])
    return X, y


def _synthetic() -> tuple[np.ndarray, np.ndarray]:
    import regbook.data
    X, y, _ = regbook.data.make_sparse_regression(500, 1000, 20, noise=1.0, seed=0)
    return X, y


def _lam_max(X: np.ndarray, y: np.ndarray) -> float:
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    return float(np.abs(Xc.T @ yc).max() / len(y))


def _assert_lasso_same(X, y, coef_a, b_a, coef_b, b_b, lam, tol, what):
    """Both solutions are certified to the tolerance: objectives within the gap bound."""
    import regbook.np as rnp
    n = len(y)
    yc = y - y.mean()
    bound = tol * float(yc @ yc) / n  # each gap <= bound (scikit-learn's stopping rule)
    f_a = rnp.lasso_objective(X, y, coef_a, b_a, lam)
    f_b = rnp.lasso_objective(X, y, coef_b, b_b, lam)
    slack = 1e-9 * max(1.0, abs(f_b))
    assert abs(f_a - f_b) <= 2 * bound + slack, (
        f"{what}: objectives differ by {abs(f_a - f_b):.3g} > 2 * {bound:.3g}")
    for name, coef in (("regbook", coef_a), ("sklearn", coef_b)):
        gap = rnp.duality_gap(X, y, coef, lam)
        assert gap <= 1.01 * bound + slack, f"{what}: {name} duality gap {gap:.3g} > {bound:.3g}"


def bench_lasso(ctx: Context, name: str, X: np.ndarray, y: np.ndarray, frac: float,
                tol: float) -> None:
    import regbook.np as rnp
    from sklearn.linear_model import Lasso

    lam = frac * _lam_max(X, y)

    def reg():
        return rnp.lasso(X, y, lam, tol=tol, max_iter=10_000)

    def ref():
        return Lasso(alpha=lam, tol=tol, max_iter=100_000).fit(X, y)

    coef, b = reg()
    est = ref()
    _assert_lasso_same(X, y, coef, b, est.coef_, float(est.intercept_), lam, tol, "lasso")
    t_reg, t_ref = ctx.timer.pair(reg, ref)
    n, p = X.shape
    ctx.rows.append(Row(f"lasso tol={tol:g}", f"{name} {n}x{p}, {np.count_nonzero(coef)} active",
                        "sklearn Lasso", t_reg, t_ref, TARGET_RATIO,
                        "objectives within 2*gap bound; both gaps certified",
                        note=f"lam = {frac:g} lam_max"))


def bench_lasso_path(ctx: Context, name: str, X: np.ndarray, y: np.ndarray, n_lams: int,
                     eps: float, tol: float) -> None:
    import regbook.np as rnp
    from sklearn.linear_model import lasso_path

    Xc, yc = X - X.mean(axis=0), y - y.mean()  # sklearn's lasso_path does not centre
    lams = _lam_max(X, y) * np.geomspace(1.0, eps, n_lams)  # decreasing, as sklearn sorts

    def reg():
        return rnp.lasso_path(Xc, yc, lams, fit_intercept=False, tol=tol, max_iter=10_000)

    def ref():
        return lasso_path(Xc, yc, alphas=lams, tol=tol, max_iter=100_000)

    coefs, _ = reg()
    alphas, sk_coefs, _ = ref()
    assert np.allclose(alphas, lams), "sklearn changed the grid"
    for i, lam in enumerate(lams):
        _assert_lasso_same(Xc, yc, coefs[i], 0.0, sk_coefs[:, i], 0.0, lam, tol,
                           f"lasso path, lam[{i}]")
    t_reg, t_ref = ctx.timer.pair(reg, ref)
    n, p = X.shape
    ctx.rows.append(Row(f"lasso path tol={tol:g}", f"{name} {n}x{p}, {n_lams} lams",
                        "sklearn lasso_path", t_reg, t_ref, TARGET_RATIO,
                        "every lam: objectives within 2*gap bound",
                        note=f"lam_max .. {eps:g} lam_max"))


def bench_ridge(ctx: Context, name: str, X: np.ndarray, y: np.ndarray, lam: float) -> None:
    import regbook.np as rnp
    from regbook.convert import sklearn_ridge_alpha
    from sklearn.linear_model import Ridge

    alpha = sklearn_ridge_alpha(lam, X.shape[0])

    def reg():
        return rnp.ridge(X, y, lam)

    def ref():
        return Ridge(alpha=alpha).fit(X, y)

    coef, b = reg()
    est = ref()
    scale = float(np.abs(est.coef_).max())
    err = float(np.abs(coef - est.coef_).max()) / scale
    assert err < 1e-6, f"ridge coef differs from sklearn by {err:.2e} (relative)"
    assert abs(b - est.intercept_) <= 1e-6 * max(1.0, abs(est.intercept_)), "ridge intercept"
    t_reg, t_ref = ctx.timer.pair(reg, ref)
    n, p = X.shape
    ctx.rows.append(Row("ridge", f"{name} {n}x{p}", "sklearn Ridge (auto)", t_reg, t_ref,
                        TARGET_RATIO, "coef rel err < 1e-6, intercept",
                        note=f"lam = {lam:g}, alpha = n lam"))


# --------------------------------------------------------------------------------------------
# Header and output
# --------------------------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def header(ctx: Context, args) -> list[str]:
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    torch = ctx.torch
    if ctx.on_gpu:
        device = f"cuda ({torch.cuda.get_device_name(ctx.device)})"
    else:
        device = "cpu"
    pools = ", ".join(" ".join(filter(None, (p["internal_api"], p.get("version"))))
                      + f" ({p['user_api']}): {p['num_threads']} threads"
                      for p in threadpool_info())
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    lines = [
        f"date: {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"machine: {_cpu_model()}, {os.cpu_count()} cores ({usable} usable), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"PyTorch device: {device}",
        f"versions: numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}, torch {torch.__version__}",
        f"threads: torch {torch.get_num_threads()} (interop {torch.get_num_interop_threads()}); "
        f"{pools}",
        f"load average at start (1/5/15 min): {load}",
        f"timing: median of {args.repeats} repeats per side (each >= {ctx.timer.min_time:g} s "
        f"of calls after one warm-up call), alternating order, time.perf_counter",
    ]
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        lines.insert(4, f"TensorFlow {tf.__version__}: device {_tf_device(tf)} "
                        f"{[d.name for d in tf.config.list_physical_devices('GPU')]}, intra-op "
                        f"threads {tf.config.threading.get_intra_op_parallelism_threads()} "
                        f"(0 = TF default)")
    return lines


def table(rows: list[Row]) -> list[str]:
    head = ["operation", "size", "reference", "regbook", "reference time", "ratio",
            "target <= 1.5 met"]
    body = [[r.operation, r.size, r.reference, _fmt_time(r.t_regbook), _fmt_time(r.t_reference),
             f"{r.ratio:.2f}", r.target_met] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(head)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |"
    sep = "|" + "|".join(("-" * (w + 1) + ":") if i >= 3 else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|"
    out = [line, sep]
    for b in body:
        out.append("| " + " | ".join(c.rjust(w) if i >= 3 else c.ljust(w)
                                     for i, (c, w) in enumerate(zip(b, widths))) + " |")
    return out


def checks(rows: list[Row]) -> list[str]:
    return [f"- {r.operation}, {r.size}: {r.check}" + (f" ({r.note})" if r.note else "")
            for r in rows]


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def _plan(ctx: Context, tensorflow: bool) -> list[tuple[str, Callable[[], None]]]:
    Xd, yd = _diabetes()
    Xs, ys = _synthetic()
    plan = [
        ("batchnorm fwd+bwd 512x1024", lambda: bench_batchnorm(ctx, (512, 1024))),
        ("batchnorm fwd+bwd 128x64x16x16", lambda: bench_batchnorm(ctx, (128, 64, 16, 16))),
        ("dropout fwd+bwd 512x1024", lambda: bench_dropout(ctx, (512, 1024))),
        ("MLP epoch", lambda: bench_mlp_epoch(ctx)),
        ("CNN step", lambda: bench_cnn_step(ctx)),
        # (the default-threads rows first: in a process that has already run the one-thread
        # rows, PyTorch's two-thread row measured 0.33-0.36 instead of 0.23-0.24)
        ("seeds together np, all cores", lambda: bench_seeds(ctx, "np", one_thread=False)),
        ("seeds together torch, all cores",
         lambda: bench_seeds(ctx, "torch", one_thread=False)),
        ("seeds together np", lambda: bench_seeds(ctx, "np")),
        ("seeds together torch", lambda: bench_seeds(ctx, "torch")),
    ]
    if tensorflow:
        plan += [
            ("tf batchnorm fwd+bwd 512x1024", lambda: bench_tf_batchnorm(ctx, (512, 1024))),
            ("tf batchnorm fwd+bwd 128x64x16x16",
             lambda: bench_tf_batchnorm(ctx, (128, 64, 16, 16))),
            ("tf dropout fwd+bwd 512x1024", lambda: bench_tf_dropout(ctx, (512, 1024))),
        ]
    for tol in (1e-4, 1e-10):  # scikit-learn's default, and regbook's default
        plan += [
            (f"lasso diabetes tol={tol:g}", lambda tol=tol: bench_lasso(
                ctx, "diabetes", Xd, yd, 0.05, tol)),
            (f"lasso synthetic tol={tol:g}", lambda tol=tol: bench_lasso(
                ctx, "synthetic", Xs, ys, 0.1, tol)),
            # a dense solution (about 430 of 500 possible non-zeros): the active-set solver's
            # hard case: ~60 feature-sign steps at k = 300-430 (the factor is updated, O(k^2))
            (f"lasso synthetic dense tol={tol:g}", lambda tol=tol: bench_lasso(
                ctx, "synthetic", Xs, ys, 0.002, tol)),
        ]
    plan += [
        ("lasso path diabetes", lambda: bench_lasso_path(ctx, "diabetes", Xd, yd, 50, 1e-3, 1e-4)),
        ("lasso path synthetic", lambda: bench_lasso_path(ctx, "synthetic", Xs, ys, 50, 1e-2,
                                                          1e-4)),
        ("ridge diabetes", lambda: bench_ridge(ctx, "diabetes", Xd, yd, 1e-3)),
        ("ridge synthetic", lambda: bench_ridge(ctx, "synthetic", Xs, ys, 1e-1)),
    ]
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 3 repeats of >= 0.01 s (default 5 of >= 0.2 s)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per side; the median is reported")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds one repeat lasts at least (more calls per repeat)")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="also write the header and table as Markdown to this path")
    parser.add_argument("--only", default=None,
                        help="run only the rows whose name contains this text")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS/OpenMP (threadpoolctl) and torch to this many threads "
                             "(default: leave the libraries' defaults)")
    parser.add_argument("--tensorflow", action="store_true",
                        help="add batch-norm and dropout rows against TensorFlow (slow import)")
    parser.add_argument("--cpu", action="store_true",
                        help="run the PyTorch rows on the CPU even when CUDA is available")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.min_time is None:
        args.min_time = 0.01 if args.quick else 0.2
    if args.repeats < 1 or args.min_time < 0:
        parser.error("--repeats must be >= 1 and --min-time >= 0")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")

    # Load every library with a thread pool before --threads limits them (threadpoolctl only
    # sees libraries already loaded).
    import regbook.np  # noqa: F401  (scipy.linalg and its BLAS)
    import sklearn.linear_model  # noqa: F401
    import torch
    from sklearn.exceptions import ConvergenceWarning

    if args.tensorflow:
        import tensorflow as tf
        if args.threads is not None:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        if args.cpu:
            tf.config.set_visible_devices([], "GPU")

    if torch.cuda.is_available() and not args.cpu:
        device = torch.device("cuda")
        sync = torch.cuda.synchronize
    else:
        device = torch.device("cpu")
        sync = _no_sync
    torch.manual_seed(0)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits
        torch.set_num_threads(args.threads)
        _limits = threadpool_limits(limits=args.threads)  # noqa: F841  (kept for the run)
    ctx = Context(Timer(args.repeats, args.min_time), args.quick, torch, device, sync)
    lines = header(ctx, args)
    print("\n".join(lines), flush=True)

    failures: list[str] = []
    for name, run in _plan(ctx, args.tensorflow):
        if args.only and args.only.lower() not in name.lower():
            continue
        t0 = time.perf_counter()
        n_rows = len(ctx.rows)
        try:
            with warnings.catch_warnings():
                # A solver that does not converge is an error, not a timing.
                warnings.simplefilter("error", RuntimeWarning)
                warnings.simplefilter("error", ConvergenceWarning)
                run()
        except Exception as exc:  # a failed check (or a changed API): report, go on
            del ctx.rows[n_rows:]
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            print(f"  {name}: FAILED, not timed -- {type(exc).__name__}: {exc}", flush=True)
            continue
        r = ctx.rows[-1]
        print(f"  {name}: regbook {_fmt_time(r.t_regbook)}, reference {_fmt_time(r.t_reference)}"
              f", ratio {r.ratio:.2f}  [{time.perf_counter() - t0:.1f} s]", flush=True)

    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    lines.append(f"load average at end (1/5/15 min): {load}")
    out = table(ctx.rows)
    print()
    print(lines[-1])
    print()
    print("\n".join(out))
    print()
    print("Checked before timing (regbook vs reference):")
    print("\n".join(checks(ctx.rows)))
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        md = (["# regbook benchmarks", ""] + [f"- {h}" for h in lines] + [""] + out
              + ["", "Checked before timing (regbook vs reference):", ""] + checks(ctx.rows))
        if failures:
            md += ["", "Rows that failed their check and were not timed:", ""]
            md += [f"- {f}" for f in failures]
        args.markdown.write_text("\n".join(md) + "\n")
        print(f"\nwrote {args.markdown}")
    if failures:
        print("\nRows that failed their check and were not timed:")
        print("\n".join(f"- {f}" for f in failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
