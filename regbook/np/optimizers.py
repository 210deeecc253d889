r"""Optimizers for the NumPy network toolkit, written to match ``torch.optim`` step for step.

``step(model)`` reads ``model.params`` and ``model.grads`` (same keys; any object following the
layer protocol, usually a :class:`regbook.np.Sequential`) and updates the parameters in place.
State (momentum buffers, moment estimates) is kept per parameter name.
"""

from __future__ import annotations

import numpy as np

from regbook._validate import check_float

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    """Base class: pairs every parameter with its gradient and applies :meth:`_update`."""

    def __init__(self, lr: float, weight_decay: float = 0.0):
        self.lr = check_float(lr, "lr", minimum=0.0, include_min=False)
        self.weight_decay = check_float(weight_decay, "weight_decay", minimum=0.0)
        self.state: dict[str, dict] = {}
        self.iterations = 0

    def step(self, model) -> None:
        """Update every parameter of ``model`` in place from its gradient."""
        params, grads = model.params, model.grads
        missing = sorted(set(params) - set(grads))
        if missing:
            raise RuntimeError(f"no gradient for {missing}: call model.backward before step")
        for name, p in params.items():
            if grads[name].shape != p.shape:
                raise ValueError(f"gradient of {name!r} has shape {grads[name].shape}, "
                                 f"parameter has {p.shape}")
        self.iterations += 1
        for name, p in params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * p  # coupled L2, as torch.optim's weight_decay
            self._update(p, g, self.state.setdefault(name, {}))

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict) -> None:  # pragma: no cover
        raise NotImplementedError


class SGD(Optimizer):
    r"""Stochastic gradient descent with (heavy-ball) momentum, as ``torch.optim.SGD``.

    .. math:: b_t = \mu\, b_{t-1} + g_t \quad (b_1 = g_1), \qquad
              \theta_t = \theta_{t-1} - \eta\, b_t

    with :math:`g_t = \nabla L(\theta_{t-1}) + \lambda \theta_{t-1}` when ``weight_decay``
    :math:`\lambda > 0`. With :math:`\mu = 0` this is plain gradient descent.

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
        self.momentum = check_float(momentum, "momentum", minimum=0.0, maximum=1.0,
                                    include_max=False)

    def _update(self, p, g, state):
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
            else:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += g
            g = state["momentum_buffer"]
        p -= self.lr * g


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), as ``torch.optim.Adam`` (epsilon outside the square root of
    the bias-corrected second moment).

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,
        \\
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
                   \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    ``weight_decay`` adds :math:`\lambda\theta` to :math:`g_t` (coupled L2, like torch's Adam;
    not AdamW). Keras's Adam places epsilon differently and defaults to ``1e-7``.

    Parameters
    ----------
    lr : float
        :math:`\eta > 0`.
    beta1, beta2 : float
        Decay rates in [0, 1).
    eps : float
        :math:`\epsilon > 0`.
    weight_decay : float
        Coupled L2 coefficient :math:`\lambda \ge 0`.
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, *, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.beta1 = check_float(beta1, "beta1", minimum=0.0, maximum=1.0, include_max=False)
        self.beta2 = check_float(beta2, "beta2", minimum=0.0, maximum=1.0, include_max=False)
        self.eps = check_float(eps, "eps", minimum=0.0, include_min=False)

    def _update(self, p, g, state):
        if not state:
            state.update(step=0, m=np.zeros_like(p), v=np.zeros_like(p))
        state["step"] += 1
        t, m, v = state["step"], state["m"], state["v"]
        m += (1.0 - self.beta1) * (g - m)          # torch: exp_avg.lerp_(grad, 1 - beta1)
        v *= self.beta2
        v += (1.0 - self.beta2) * g * g
        step_size = self.lr / (1.0 - self.beta1**t)
        denom = np.sqrt(v) / (1.0 - self.beta2**t) ** 0.5 + self.eps
        p -= step_size * (m / denom)
