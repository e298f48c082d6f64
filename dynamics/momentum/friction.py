"""The log-linear friction of the damped Hamiltonian attention fields.

    eta(t) = c_log log(t / t0) + c_lin t,   alpha(t) = eta'(t) = c_log / t + c_lin,

acting on the momentum as p' = ... - alpha(t) p (c_log = 3, c_lin = 0 is the 3/t of Nesterov's
method; Su, Boyd, Candes, "A differential equation for modeling Nesterov's accelerated gradient
method"). Its exact flow over [t, t + h] multiplies p by

    D(t, h) = exp(-(eta(t + h) - eta(t))) = (t / (t + h))^c_log e^{-c_lin h},

the factor the conformal-symplectic steppers of ``solvers.steppers.tao`` apply. With c_log > 0 the
friction is defined for t > 0 only. Shared by ``HamiltonianAttention`` and
``LinearHamiltonianAttention`` (Stein, Li, Steidl, "SympFormer: accelerated attention blocks via
inertial dynamics on density manifolds").
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.checks import check_cloud, check_real


class LogLinearDamping:
    """Mixin giving a field the friction alpha(t) = c_log / t + c_lin (module docstring).

    Call ``init_damping(c_log, c_lin, t0)`` in ``__init__``; it checks c_log, c_lin >= 0 and
    t0 > 0 and stores them as attributes.
    """

    c_log: float
    c_lin: float
    t0: float

    def init_damping(self, c_log: float, c_lin: float, t0: float) -> None:
        """Check and store the damping constants."""
        self.c_log = check_real("c_log", c_log, minimum=0.0)
        self.c_lin = check_real("c_lin", c_lin, minimum=0.0)
        self.t0 = check_real("t0", t0, minimum=0.0, strict=True)

    def check_time(self, t: Tensor | float) -> None:
        """Raise ValueError if c_log > 0 and some t <= 0 (where alpha is undefined)."""
        if self.c_log > 0 and float(torch.as_tensor(t).min()) <= 0:
            raise ValueError(
                f"t={float(torch.as_tensor(t).min()):g}: with c_log={self.c_log:g} > 0 the damping "
                "alpha(t) = c_log / t + c_lin needs t > 0; start the integration at t0 > 0"
            )

    def eta(self, t: Tensor) -> Tensor:
        """eta(t) = c_log log(t / t0) + c_lin t (the log term only when c_log > 0)."""
        t = torch.as_tensor(t)
        self.check_time(t)
        log_term = self.c_log * torch.log(t / self.t0) if self.c_log > 0 else 0.0
        return log_term + self.c_lin * t

    def friction(self, t: Tensor | float) -> Tensor | float:
        """alpha(t) = eta'(t) = c_log / t + c_lin."""
        if self.c_log == 0:
            return self.c_lin
        self.check_time(t)
        return self.c_log / t + self.c_lin

    def damping_factor(self, t: Tensor, h: Tensor) -> Tensor:
        """exp(-(eta(t + h) - eta(t))) = (t / (t + h))^c_log e^{-c_lin h}: the exact flow of
        p' = -alpha(t) p over [t, t + h] (h may be negative)."""
        t = torch.as_tensor(t)
        h = torch.as_tensor(h, dtype=t.dtype)
        return torch.exp(self.eta(t) - self.eta(t + h))

    def damping_repr(self) -> str:
        """'c_log=..., c_lin=..., t0=...' for ``extra_repr``."""
        return f"c_log={self.c_log:g}, c_lin={self.c_lin:g}, t0={self.t0:g}"


class DampedHamiltonianField(LogLinearDamping):
    """Mixin for the damped Hamiltonian fields on (x, p): given ``d`` and
    ``gradients(x, p) -> (dH/dx, dH/dp)``, the field is

        (x', p') = (dH/dp, -dH/dx - alpha(t) p).
    """

    d: int

    def forward(self, t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """(x', p') = (dH/dp, -dH/dx - alpha(t) p)."""
        if not (isinstance(state, tuple) and len(state) == 2):
            raise TypeError(f"{type(self).__name__} takes the state as a tuple (x, p)")
        x, p = state
        grad_x, grad_p = self.gradients(x, p)
        return grad_p, -grad_x - self.friction(t) * p

    def _check_state(self, x: Tensor, p: Tensor) -> None:
        check_cloud("x", x, d=self.d)
        check_cloud("p", p, d=self.d)
        if x.shape != p.shape:
            raise ValueError(
                f"x has shape {tuple(x.shape)} and p has shape {tuple(p.shape)}; they must match"
            )
