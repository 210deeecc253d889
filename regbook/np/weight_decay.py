r"""The update rules of the frameworks' optimizers, with weight decay, as plain NumPy functions.

Each function takes the current weights :math:`w_{t-1}`, the gradient :math:`g_t` of the data
loss at :math:`w_{t-1}` (and the optimizer state), and returns new arrays -- nothing is updated in
place -- so a trajectory is a loop of calls. They re-implement, line by line:

- ``torch.optim.SGD(lr, weight_decay)`` without and with momentum (:func:`sgd_step`,
  :func:`sgd_momentum_step`): weight decay is *coupled*, added to the gradient;
- ``torch.optim.Adam(weight_decay)`` (coupled: an L2 penalty whose gradient then goes through
  Adam's scaling) and ``torch.optim.AdamW`` (decoupled) in one function, :func:`adam_step`;
- Keras 3's ``weight_decay``, which every Keras optimizer applies *decoupled*, before its own
  update (:func:`keras_sgd_step`, :func:`keras_adam_step`).

With plain SGD, coupled and decoupled decay are the same update,

.. math:: w_t = (1 - \eta\lambda)\, w_{t-1} - \eta\, g_t ,

and equal gradient descent on the data loss plus the book's :math:`\frac{\lambda}{2}\lVert
w\rVert^2`. With Adam they differ (Loshchilov & Hutter, 2019): see :func:`adam_step`.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from regbook._validate import check_array, check_float, check_int

__all__ = [
    "AdamState",
    "adam_init",
    "sgd_step",
    "sgd_momentum_step",
    "adam_step",
    "keras_sgd_step",
    "keras_adam_step",
    "RULES",
    "optimizer_trajectory",
]


class AdamState(NamedTuple):
    """Adam's state for one weight array: first moment ``m``, second moment ``v``, step ``t``."""

    m: np.ndarray
    v: np.ndarray
    t: int


def adam_init(w: np.ndarray) -> AdamState:
    """The state before the first step: zero moments of ``w``'s shape and ``t = 0``."""
    w = check_array(w, "w")
    return AdamState(np.zeros_like(w), np.zeros_like(w), 0)


# --- validation helpers ----------------------------------------------------------------------

def _check_w_grad(w, grad):
    w = check_array(w, "w")
    grad = check_array(grad, "grad")
    if grad.shape != w.shape:
        raise ValueError(f"grad must have the shape of w {w.shape}, got {grad.shape}")
    return w, grad


def _check_state_array(a, name: str, shape: tuple) -> np.ndarray:
    a = check_array(a, name)
    if a.shape != shape:
        raise ValueError(f"{name} must have the shape of w {shape}, got {a.shape}")
    return a


def _check_adam_state(state, shape: tuple) -> AdamState:
    if not isinstance(state, AdamState):
        raise TypeError(f"state must be an AdamState (see adam_init), got {type(state).__name__}")
    m = _check_state_array(state.m, "state.m", shape)
    v = _check_state_array(state.v, "state.v", shape)
    if np.any(v < 0):
        raise ValueError("state.v must be non-negative")
    return AdamState(m, v, check_int(state.t, "state.t", minimum=0))


def _lr(lr) -> float:
    return check_float(lr, "lr", minimum=0.0, include_min=False)


def _wd(weight_decay) -> float:
    return check_float(weight_decay, "weight_decay", minimum=0.0)


def _beta(beta, name: str) -> float:
    return check_float(beta, name, minimum=0.0, maximum=1.0, include_max=False)


def _eps(eps, name: str) -> float:
    return check_float(eps, name, minimum=0.0, include_min=False)


# --- PyTorch ---------------------------------------------------------------------------------

def sgd_step(w: np.ndarray, grad: np.ndarray, *, lr: float,
             weight_decay: float = 0.0) -> np.ndarray:
    r"""One step of ``torch.optim.SGD(lr=lr, weight_decay=weight_decay)`` (no momentum).

    .. math:: w_t = w_{t-1} - \eta\,(g_t + \lambda w_{t-1}) = (1 - \eta\lambda)\,w_{t-1} - \eta g_t

    with :math:`\eta` = ``lr`` and :math:`\lambda` = ``weight_decay``: one gradient-descent step
    on the data loss plus :math:`\frac{\lambda}{2}\lVert w\rVert^2`, since
    :func:`regbook.np.l2_grad` is :math:`\lambda w`. Keras's decoupled ``SGD(weight_decay)``
    gives the same update (:func:`keras_sgd_step` without momentum).

    Parameters
    ----------
    w : array_like
        Current weights :math:`w_{t-1}`, any shape.
    grad : array_like
        Gradient :math:`g_t` of the data loss at ``w``, same shape.
    lr : float
        Learning rate :math:`\eta > 0`.
    weight_decay : float
        :math:`\lambda \ge 0` (PyTorch's ``weight_decay``, the book's L2 :math:`\lambda`).

    Returns
    -------
    numpy.ndarray
        The new weights :math:`w_t`.
    """
    w, grad = _check_w_grad(w, grad)
    lr, weight_decay = _lr(lr), _wd(weight_decay)
    return w - lr * (grad + weight_decay * w)


def sgd_momentum_step(
    w: np.ndarray,
    grad: np.ndarray,
    buf: np.ndarray | None,
    *,
    lr: float,
    momentum: float,
    weight_decay: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""One step of ``torch.optim.SGD(lr, momentum, weight_decay)`` (no dampening, no Nesterov).

    .. math::

        d_t &= g_t + \lambda w_{t-1} \\
        b_t &= \mu b_{t-1} + d_t \quad (b_1 = d_1) \\
        w_t &= w_{t-1} - \eta\, b_t

    The decay term enters the momentum buffer, so it is still gradient descent with momentum
    on the data loss plus :math:`\frac{\lambda}{2}\lVert w\rVert^2` -- but it is *not* Keras's
    ``SGD(momentum, weight_decay)``, which decays outside the buffer (:func:`keras_sgd_step`).

    Parameters
    ----------
    w, grad : array_like
        Weights :math:`w_{t-1}` and data-loss gradient :math:`g_t`, same shape.
    buf : array_like or None
        Momentum buffer :math:`b_{t-1}`; ``None`` before the first step (PyTorch then starts
        the buffer at :math:`d_1`, not at zero).
    lr : float
        :math:`\eta > 0`.
    momentum : float
        :math:`\mu \in [0, 1)`.
    weight_decay : float
        :math:`\lambda \ge 0`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The new weights :math:`w_t` and buffer :math:`b_t`.
    """
    w, grad = _check_w_grad(w, grad)
    if buf is not None:
        buf = _check_state_array(buf, "buf", w.shape)
    lr, weight_decay = _lr(lr), _wd(weight_decay)
    momentum = _beta(momentum, "momentum")
    d = grad + weight_decay * w
    new_buf = d.copy() if buf is None else momentum * buf + d
    return w - lr * new_buf, new_buf


def adam_step(
    w: np.ndarray,
    grad: np.ndarray,
    state: AdamState,
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> tuple[np.ndarray, AdamState]:
    r"""One step of ``torch.optim.Adam`` (``decoupled=False``) or ``torch.optim.AdamW`` (``True``).

    Coupled (Adam with ``weight_decay``, an L2 penalty): :math:`d_t = g_t + \lambda w_{t-1}`
    and :math:`u = w_{t-1}`. Decoupled (AdamW): :math:`d_t = g_t` and
    :math:`u = (1 - \eta\lambda) w_{t-1}`. Then

    .. math::

        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, d_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, d_t^2 \\
        w_t &= u - \frac{\eta}{1 - \beta_1^t}\,
               \frac{m_t}{\sqrt{v_t}/\sqrt{1 - \beta_2^t} + \epsilon} .

    In the coupled form the decay :math:`\lambda w` is divided by :math:`\sqrt{v_t}` like the
    gradient: weights with large gradients are decayed *less*, so Adam + L2 is not weight decay.
    AdamW shrinks every weight by the same factor :math:`1 - \eta\lambda` per step.

    Parameters
    ----------
    w, grad : array_like
        Weights :math:`w_{t-1}` and data-loss gradient :math:`g_t`, same shape.
    state : AdamState
        :math:`(m_{t-1}, v_{t-1}, t-1)`; :func:`adam_init` before the first step.
    lr : float
        :math:`\eta > 0`.
    betas : (float, float)
        :math:`(\beta_1, \beta_2)`, each in [0, 1).
    eps : float
        :math:`\epsilon > 0` (PyTorch's default 1e-8).
    weight_decay : float
        :math:`\lambda \ge 0` (PyTorch's ``weight_decay``; AdamW's default is 1e-2, Adam's 0).
    decoupled : bool
        ``False`` for ``Adam``, ``True`` for ``AdamW``.

    Returns
    -------
    (numpy.ndarray, AdamState)
        The new weights :math:`w_t` and state :math:`(m_t, v_t, t)`.
    """
    w, grad = _check_w_grad(w, grad)
    state = _check_adam_state(state, w.shape)
    lr, weight_decay, eps = _lr(lr), _wd(weight_decay), _eps(eps, "eps")
    beta1, beta2 = _check_betas(betas)
    if not isinstance(decoupled, bool):
        raise TypeError(f"decoupled must be a bool, got {type(decoupled).__name__}")
    t = state.t + 1
    if decoupled:
        d, u = grad, (1.0 - lr * weight_decay) * w
    else:
        d, u = grad + weight_decay * w, w
    m = beta1 * state.m + (1.0 - beta1) * d
    v = beta2 * state.v + (1.0 - beta2) * d * d
    denom = np.sqrt(v) / np.sqrt(1.0 - beta2**t) + eps
    return u - (lr / (1.0 - beta1**t)) * m / denom, AdamState(m, v, t)


def _check_betas(betas) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    return _beta(betas[0], "betas[0]"), _beta(betas[1], "betas[1]")


# --- Keras 3 ---------------------------------------------------------------------------------

def keras_sgd_step(
    w: np.ndarray,
    grad: np.ndarray,
    velocity: np.ndarray | None = None,
    *,
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""One step of Keras 3's ``keras.optimizers.SGD(learning_rate, momentum, weight_decay)``.

    Keras applies ``weight_decay`` decoupled, before the optimizer's own update, in every
    optimizer:

    .. math::

        u &= w_{t-1} - \eta\lambda\, w_{t-1} \\
        s_t &= \mu s_{t-1} - \eta g_t \quad (s_0 = 0) \\
        w_t &= u + s_t

    (:math:`g_t` is the gradient at :math:`w_{t-1}`). Without momentum this is PyTorch's
    :func:`sgd_step`; with momentum the decay stays out of the velocity :math:`s`, unlike
    :func:`sgd_momentum_step`.

    Parameters
    ----------
    w, grad : array_like
        Weights and data-loss gradient, same shape.
    velocity : array_like or None
        :math:`s_{t-1}`; ``None`` means zeros (the first step).
    lr : float
        :math:`\eta > 0`.
    momentum : float
        :math:`\mu \in [0, 1)`.
    weight_decay : float
        :math:`\lambda \ge 0`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        New weights :math:`w_t` and velocity :math:`s_t`.
    """
    w, grad = _check_w_grad(w, grad)
    velocity = (np.zeros_like(w) if velocity is None
                else _check_state_array(velocity, "velocity", w.shape))
    lr, weight_decay = _lr(lr), _wd(weight_decay)
    momentum = _beta(momentum, "momentum")
    u = w - w * weight_decay * lr
    s = momentum * velocity - lr * grad
    return u + s, s


def keras_adam_step(
    w: np.ndarray,
    grad: np.ndarray,
    state: AdamState,
    *,
    lr: float,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    weight_decay: float = 0.0,
) -> tuple[np.ndarray, AdamState]:
    r"""One step of Keras 3's ``keras.optimizers.Adam`` / ``AdamW`` with ``weight_decay``.

    Decoupled decay first, then Adam with Keras's placement of :math:`\epsilon`:

    .. math::

        u &= w_{t-1} - \eta\lambda\, w_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
        w_t &= u - \eta\, \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}\,
               \frac{m_t}{\sqrt{v_t} + \hat\epsilon}

    Keras's :math:`\hat\epsilon` (default 1e-7) sits outside the bias correction: it equals
    PyTorch's :math:`\epsilon = \hat\epsilon / \sqrt{1 - \beta_2^t}` at step :math:`t`. Keras's
    ``AdamW`` is this same update (default ``weight_decay=0.004``); so is
    ``Adam(weight_decay=...)``.

    Parameters
    ----------
    w, grad : array_like
        Weights and data-loss gradient, same shape.
    state : AdamState
        From :func:`adam_init` or the previous call.
    lr : float
        :math:`\eta > 0`.
    beta_1, beta_2 : float
        Each in [0, 1).
    epsilon : float
        :math:`\hat\epsilon > 0`.
    weight_decay : float
        :math:`\lambda \ge 0`.

    Returns
    -------
    (numpy.ndarray, AdamState)
    """
    w, grad = _check_w_grad(w, grad)
    state = _check_adam_state(state, w.shape)
    lr, weight_decay, epsilon = _lr(lr), _wd(weight_decay), _eps(epsilon, "epsilon")
    beta_1, beta_2 = _beta(beta_1, "beta_1"), _beta(beta_2, "beta_2")
    t = state.t + 1
    u = w - w * weight_decay * lr
    m = state.m + (grad - state.m) * (1.0 - beta_1)
    v = state.v + (grad * grad - state.v) * (1.0 - beta_2)
    alpha = lr * np.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
    return u - m * alpha / (np.sqrt(v) + epsilon), AdamState(m, v, t)


# --- trajectories ----------------------------------------------------------------------------

#: The rule names :func:`optimizer_trajectory` accepts, and the framework optimizer each mirrors.
RULES = {
    "sgd": "torch.optim.SGD (no momentum)",
    "sgd_momentum": "torch.optim.SGD(momentum=...)",
    "adam": "torch.optim.Adam (coupled L2)",
    "adamw": "torch.optim.AdamW (decoupled)",
    "keras_sgd": "keras.optimizers.SGD",
    "keras_adam": "keras.optimizers.Adam / AdamW",
}


def optimizer_trajectory(
    grad_fn: Callable[[np.ndarray], np.ndarray],
    w0: np.ndarray,
    *,
    rule: str,
    n_steps: int,
    **hyper,
) -> np.ndarray:
    r"""Iterate one update rule from ``w0``: returns :math:`w_0, w_1, \dots, w_T` stacked.

    Parameters
    ----------
    grad_fn : callable
        ``grad_fn(w)`` returns the gradient of the data loss at ``w`` (same shape).
    w0 : array_like
        Starting weights.
    rule : str
        A key of :data:`RULES`: ``"sgd"``, ``"sgd_momentum"``, ``"adam"``, ``"adamw"``,
        ``"keras_sgd"`` or ``"keras_adam"``.
    n_steps : int
        :math:`T \ge 0`.
    **hyper
        The rule's keyword arguments (``lr``, ``weight_decay``, ``momentum``, ...).

    Returns
    -------
    numpy.ndarray, shape ``(n_steps + 1,) + w0.shape``
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {sorted(RULES)}, got {rule!r}")
    if not callable(grad_fn):
        raise TypeError("grad_fn must be callable")
    w = check_array(w0, "w0")
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    state = None
    if rule in ("adam", "adamw"):
        state = adam_init(w)
        hyper = dict(hyper, decoupled=(rule == "adamw"))
    elif rule == "keras_adam":
        state = adam_init(w)
    path = [w]
    for _ in range(n_steps):
        g = grad_fn(w)
        if rule == "sgd":
            w = sgd_step(w, g, **hyper)
        elif rule == "sgd_momentum":
            w, state = sgd_momentum_step(w, g, state, **hyper)
        elif rule == "keras_sgd":
            w, state = keras_sgd_step(w, g, state, **hyper)
        elif rule == "keras_adam":
            w, state = keras_adam_step(w, g, state, **hyper)
        else:
            w, state = adam_step(w, g, state, **hyper)
        path.append(w)
    return np.stack(path)
