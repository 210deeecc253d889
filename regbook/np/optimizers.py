r"""The optimizers of the NumPy toolkit: ``torch.optim``'s update rules, and Keras's, from scratch.

Every rule is written once, as a private function of arrays; two doors lead to it:

- the **functional steps** (:func:`sgd_step`, :func:`sgd_momentum_step`, :func:`adam_step`,
  Keras's :func:`keras_sgd_step`, :func:`keras_adam_step`) take the weights :math:`w_{t-1}`,
  the gradient :math:`g_t` of the data loss at :math:`w_{t-1}` (and the optimizer state) and
  return new arrays -- nothing is updated in place -- so a trajectory is a loop of calls
  (:func:`optimizer_trajectory`);
- the **classes** :class:`SGD`, :class:`Adam`, :class:`AdamW` update a model's parameters in
  place: ``step(model)`` reads ``model.params`` and ``model.grads`` (same keys; any object
  following the layer protocol of :mod:`regbook.np.layers`) and keeps the state (momentum
  buffers, moment estimates) per parameter name.

One spelling of the settings everywhere: ``lr``, ``momentum``, ``beta1``, ``beta2``, ``eps``,
``weight_decay``. ``weight_decay`` has PyTorch's meaning: *coupled* (added to the gradient) in
``SGD`` and ``Adam``, *decoupled* (the weights shrink by :math:`1 - \eta\lambda` before the
update) in ``AdamW``. Keras 3 decouples it in every optimizer (the Keras section below).

With plain SGD, coupled and decoupled decay are the same update,

.. math:: w_t = (1 - \eta\lambda)\, w_{t-1} - \eta\, g_t ,

and equal gradient descent on the data loss plus the book's :math:`\frac{\lambda}{2}\lVert
w\rVert^2`. With Adam they differ (Loshchilov & Hutter, 2019): see :func:`adam_step`.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, NamedTuple

import numpy as np

from regbook._validate import check_array, check_bool, check_float, check_int

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
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


# --- the update rules, each written once -----------------------------------------------------

def _sgd_update(w, grad, buf, *, lr, momentum, weight_decay):
    """``torch.optim.SGD``: returns ``(w_t, b_t)``; ``momentum=None`` keeps no buffer."""
    d = grad + weight_decay * w if weight_decay else grad
    if momentum is not None:
        buf = d.copy() if buf is None else momentum * buf + d   # torch: buf.mul_(mu).add_(d)
        d = buf
    return w - lr * d, buf


def _lerp(a, b, weight: float):
    """``torch.lerp(a, b, weight)``, with PyTorch's two formulas (the same rounding)."""
    if weight < 0.5:
        return a + weight * (b - a)
    return b - (b - a) * (1.0 - weight)


def _adam_update(w, grad, state: AdamState, *, lr, beta1, beta2, eps, weight_decay,
                 decoupled):
    """``torch.optim.Adam`` (coupled decay) or ``AdamW`` (decoupled): ``(w_t, state_t)``."""
    if decoupled:
        if weight_decay:
            w = w * (1.0 - lr * weight_decay)                    # torch: param.mul_(1 - lr wd)
    elif weight_decay:
        grad = grad + weight_decay * w
    t = state.t + 1
    m = _lerp(state.m, grad, 1.0 - beta1)                        # torch: exp_avg.lerp_
    v = beta2 * state.v + (1.0 - beta2) * grad * grad            # torch: mul_ then addcmul_
    step_size = lr / (1.0 - beta1**t)
    denom = np.sqrt(v) / math.sqrt(1.0 - beta2**t) + eps
    return w - step_size * (m / denom), AdamState(m, v, t)


def _keras_sgd_update(w, grad, velocity, *, lr, momentum, weight_decay):
    """``keras.optimizers.SGD``: decoupled decay, then the velocity step."""
    u = w - w * weight_decay * lr
    s = momentum * velocity - lr * grad
    return u + s, s


def _keras_adam_update(w, grad, state: AdamState, *, lr, beta1, beta2, eps, weight_decay):
    """``keras.optimizers.Adam`` / ``AdamW``: decoupled decay, then Keras's Adam."""
    t = state.t + 1
    u = w - w * weight_decay * lr
    m = state.m + (grad - state.m) * (1.0 - beta1)
    v = state.v + (grad * grad - state.v) * (1.0 - beta2)
    alpha = lr * np.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)
    return u - m * alpha / (np.sqrt(v) + eps), AdamState(m, v, t)


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


def _eps(eps) -> float:
    return check_float(eps, "eps", minimum=0.0, include_min=False)


# --- PyTorch's update rules, functional ------------------------------------------------------

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
    return _sgd_update(w, grad, None, lr=_lr(lr), momentum=None,
                       weight_decay=_wd(weight_decay))[0]


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
    return _sgd_update(w, grad, buf, lr=_lr(lr), momentum=_beta(momentum, "momentum"),
                       weight_decay=_wd(weight_decay))


def adam_step(w: np.ndarray, grad: np.ndarray, state: AdamState, *, lr: float,
              beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
              weight_decay: float = 0.0, decoupled: bool = False,
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
    beta1, beta2 : float
        :math:`\beta_1, \beta_2`, each in [0, 1) (PyTorch's ``betas=(beta1, beta2)``).
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
    return _adam_update(w, grad, state, lr=_lr(lr), beta1=_beta(beta1, "beta1"),
                        beta2=_beta(beta2, "beta2"), eps=_eps(eps),
                        weight_decay=_wd(weight_decay),
                        decoupled=check_bool(decoupled, "decoupled"))


# --- PyTorch's update rules, as optimizer objects --------------------------------------------

class Optimizer:
    """Base class: pairs every parameter with its gradient and applies :meth:`_update`.

    ``state`` maps each parameter name to that parameter's optimizer state (``None`` before
    its first step).
    """

    def __init__(self, lr: float, weight_decay: float = 0.0):
        self.lr = _lr(lr)
        self.weight_decay = _wd(weight_decay)
        self.state: dict[str, object] = {}
        self.iterations = 0

    def step(self, model, *, decay: Iterable[str] | None = None) -> None:
        """Update every parameter of ``model`` in place from its gradient.

        Parameters
        ----------
        model : regbook.np.Sequential (or any object with ``params`` and ``grads``)
        decay : iterable of str, optional
            The names (keys of ``model.params``) that ``weight_decay`` acts on; ``None``:
            every parameter, as in ``torch.optim`` (:func:`regbook.np.split_decay_params`
            gives the weights-only names).
        """
        params, grads = model.params, model.grads
        missing = sorted(set(params) - set(grads))
        if missing:
            raise RuntimeError(f"no gradient for {missing}: call model.backward before step")
        for name, p in params.items():
            if grads[name].shape != p.shape:
                raise ValueError(f"gradient of {name!r} has shape {grads[name].shape}, "
                                 f"parameter has {p.shape}")
        decay = set(params) if decay is None else self._check_decay(decay, params)
        self.iterations += 1
        for name, p in params.items():
            wd = self.weight_decay if name in decay else 0.0
            new_p, self.state[name] = self._update(p, grads[name], self.state.get(name), wd)
            p[...] = new_p

    @staticmethod
    def _check_decay(decay, params) -> set[str]:
        if isinstance(decay, str) or not isinstance(decay, Iterable):
            raise TypeError(f"decay must be a collection of parameter names or None, got "
                            f"{type(decay).__name__}")
        decay = set(decay)
        unknown = sorted(decay - set(params))
        if unknown:
            raise ValueError(f"decay names parameters the model does not have: {unknown}")
        return decay

    def _update(self, p, g, state, weight_decay):  # pragma: no cover
        raise NotImplementedError


class SGD(Optimizer):
    r"""Stochastic gradient descent with (heavy-ball) momentum, as ``torch.optim.SGD``.

    .. math:: d_t = g_t + \lambda\theta_{t-1}, \qquad
              b_t = \mu\, b_{t-1} + d_t \quad (b_1 = d_1), \qquad
              \theta_t = \theta_{t-1} - \eta\, b_t

    (:func:`sgd_momentum_step`; with :math:`\mu = 0`, :func:`sgd_step`: plain gradient
    descent).

    Parameters
    ----------
    lr : float
        Learning rate :math:`\eta > 0`.
    momentum : float
        :math:`\mu \in [0, 1)`.
    weight_decay : float
        Coupled L2 coefficient :math:`\lambda \ge 0` (torch's ``weight_decay``).
    """

    def __init__(self, lr: float, momentum: float = 0.0, *, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.momentum = _beta(momentum, "momentum")

    def _update(self, p, g, buf, weight_decay):
        return _sgd_update(p, g, buf, lr=self.lr, momentum=self.momentum or None,
                           weight_decay=weight_decay)

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr}, momentum={self.momentum}, weight_decay={self.weight_decay})"


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``: :func:`adam_step` on every parameter.

    .. math::
        d_t = g_t + \lambda\theta_{t-1}, \qquad
        m_t = \beta_1 m_{t-1} + (1-\beta_1) d_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) d_t^2,
        \\
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
                   \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    ``weight_decay`` is coupled (an L2 gradient, like torch's Adam): use :class:`AdamW` for
    decoupled decay. Keras's Adam places epsilon differently and defaults to ``1e-7``
    (:func:`keras_adam_step`).

    Parameters
    ----------
    lr : float
        :math:`\eta > 0`.
    beta1, beta2 : float
        Decay rates in [0, 1) (PyTorch's ``betas``).
    eps : float
        :math:`\epsilon > 0`.
    weight_decay : float
        Coupled L2 coefficient :math:`\lambda \ge 0`.
    """

    _decoupled = False

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, *, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.beta1 = _beta(beta1, "beta1")
        self.beta2 = _beta(beta2, "beta2")
        self.eps = _eps(eps)

    def _update(self, p, g, state, weight_decay):
        if state is None:
            state = AdamState(np.zeros_like(p), np.zeros_like(p), 0)
        return _adam_update(p, g, state, lr=self.lr, beta1=self.beta1, beta2=self.beta2,
                            eps=self.eps, weight_decay=weight_decay, decoupled=self._decoupled)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(lr={self.lr}, beta1={self.beta1}, beta2={self.beta2}, "
                f"eps={self.eps}, weight_decay={self.weight_decay})")


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``: decoupled weight decay.

    .. math::
        u = (1 - \eta\lambda)\,\theta_{t-1}, \qquad
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,
        \\
        \theta_t = u - \frac{\eta}{1-\beta_1^t}\,
                   \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    (:func:`adam_step` with ``decoupled=True``): the gradient's moments never see the decay,
    and every weight shrinks by the same factor per step.

    Parameters
    ----------
    lr, beta1, beta2, eps : float
        As in :class:`Adam`.
    weight_decay : float
        Decoupled rate :math:`\lambda \ge 0`. The default is 0, like every ``weight_decay`` in
        the book; ``torch.optim.AdamW``'s own default is ``1e-2``.
    """

    _decoupled = True


# --- Keras's update rules --------------------------------------------------------------------

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
    lr, momentum, weight_decay : float
        :math:`\eta > 0` (Keras's ``learning_rate``), :math:`\mu \in [0, 1)`,
        :math:`\lambda \ge 0`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        New weights :math:`w_t` and velocity :math:`s_t`.
    """
    w, grad = _check_w_grad(w, grad)
    velocity = (np.zeros_like(w) if velocity is None
                else _check_state_array(velocity, "velocity", w.shape))
    return _keras_sgd_update(w, grad, velocity, lr=_lr(lr), momentum=_beta(momentum, "momentum"),
                             weight_decay=_wd(weight_decay))


def keras_adam_step(w: np.ndarray, grad: np.ndarray, state: AdamState, *, lr: float,
                    beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7,
                    weight_decay: float = 0.0) -> tuple[np.ndarray, AdamState]:
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

    The settings are spelled as everywhere in :mod:`regbook.np`; Keras spells them
    ``learning_rate``, ``beta_1``, ``beta_2`` and ``epsilon``.

    Parameters
    ----------
    w, grad : array_like
        Weights and data-loss gradient, same shape.
    state : AdamState
        From :func:`adam_init` or the previous call.
    lr : float
        :math:`\eta > 0` (Keras's ``learning_rate``).
    beta1, beta2 : float
        Each in [0, 1) (Keras's ``beta_1``, ``beta_2``).
    eps : float
        :math:`\hat\epsilon > 0` (Keras's ``epsilon``; Keras's default 1e-7).
    weight_decay : float
        :math:`\lambda \ge 0`.

    Returns
    -------
    (numpy.ndarray, AdamState)
    """
    w, grad = _check_w_grad(w, grad)
    state = _check_adam_state(state, w.shape)
    return _keras_adam_update(w, grad, state, lr=_lr(lr), beta1=_beta(beta1, "beta1"),
                              beta2=_beta(beta2, "beta2"), eps=_eps(eps),
                              weight_decay=_wd(weight_decay))


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
        The rule's keyword arguments (``lr``, ``weight_decay``, ``momentum``, ``beta1``, ...).

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
