"""One friction value for every momentum field: gamma(t) and its exact flow.

Momentum fields damp their momentum by p' = ... - gamma(t) p with

    gamma(t) = c_log / (t + t0) + c_lin      (log-linear), or any callable gamma(t) >= 0,

where t0 >= 0 shifts the time origin of the 1/t term (the one meaning of t0). c_log = 3, c_lin = 0
is the 3/t of Nesterov's method (Su, Boyd, Candes, "A differential equation for modeling
Nesterov's accelerated gradient method"); c_log = 0 a constant (heavy-ball) friction. The exact
flow of the friction over [t, t + h] multiplies p by

    D(t, h) = exp(-int_t^{t+h} gamma) = ((t + t0) / (t + h + t0))^c_log e^{-c_lin h}

(closed form), or, for a callable gamma, exp of its two-point Gauss-Legendre quadrature (exact for
cubics, so local error O(h^5)): the factor the conformal-symplectic steppers apply. With c_log > 0
the friction is defined for t + t0 > 0 only. Used by ``Accelerated`` and the damped Hamiltonian
fields (``HamiltonianAttention``, ``LinearHamiltonianAttention``, ``HamiltonianBlock``; Stein, Li,
Steidl, "SympFormer: accelerated attention blocks via inertial dynamics on density manifolds").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from dynamics.checks import check_phase_state, check_real

# Two-point Gauss-Legendre nodes on [0, 1]: exact for cubics, so order 4 for the damping integral.
_GAUSS_NODES = (0.5 - math.sqrt(3) / 6, 0.5 + math.sqrt(3) / 6)


@dataclass(frozen=True)
class Friction:
    """gamma(t) = c_log / (t + t0) + c_lin, or ``rate(t)`` when given (module docstring).

    c_log, c_lin, t0 must be >= 0 (ValueError naming the value otherwise).
    """

    c_log: float = 0.0
    c_lin: float = 0.0
    t0: float = 0.0
    rate: Callable[[Tensor], Tensor | float] | None = None

    def __post_init__(self) -> None:
        for name in ("c_log", "c_lin", "t0"):
            object.__setattr__(self, name, check_real(name, getattr(self, name), minimum=0.0))
        if self.rate is not None and not callable(self.rate):
            raise TypeError(f"rate={self.rate!r} must be a callable t -> gamma(t)")

    def check_time(self, t: Tensor | float) -> None:
        """Raise ValueError if c_log > 0 and some t + t0 <= 0 (where gamma is undefined)."""
        earliest = float(torch.as_tensor(t).min())
        if self.c_log > 0 and earliest + self.t0 <= 0:
            raise ValueError(
                f"t={earliest:g}: with c_log={self.c_log:g} > 0 the friction "
                f"gamma(t) = c_log / (t + t0) + c_lin needs t > {0 - self.t0:g}; start the "
                "integration later"
            )

    def gamma(self, t: Tensor | float) -> Tensor | float:
        """gamma(t)."""
        if self.rate is not None:
            return self.rate(t)
        if self.c_log == 0:
            return self.c_lin
        self.check_time(t)
        return self.c_log / (t + self.t0) + self.c_lin

    def factor(self, t: Tensor, h: Tensor) -> Tensor:
        """D(t, h) = exp(-int_t^{t+h} gamma(s) ds), the exact flow of p' = -gamma(t) p over
        [t, t + h] (h may be negative)."""
        t = torch.as_tensor(t)
        h = torch.as_tensor(h, dtype=t.dtype)
        if self.rate is not None:
            integral = sum(0.5 * h * torch.as_tensor(self.rate(t + c * h)) for c in _GAUSS_NODES)
            return torch.exp(-integral)
        factor = torch.ones_like(h)
        if self.c_log > 0:
            self.check_time(t)
            self.check_time(t + h)
            factor = ((t + self.t0) / (t + h + self.t0)) ** self.c_log
        if self.c_lin > 0:
            factor = factor * torch.exp(-self.c_lin * h)
        return factor


class LogLinearDamping:
    """Mixin giving a damped Hamiltonian field the friction alpha(t) = c_log / t + c_lin
    (``Friction(c_log, c_lin)``) and the conformal exponent eta(t) = c_log log(t / t0) + c_lin t,
    eta' = alpha, with t0 > 0 the reference time of eta (it cancels in alpha and in D).

    Call ``init_damping(c_log, c_lin, t0)`` in ``__init__``.
    """

    schedule: Friction
    t0: float

    def init_damping(self, c_log: float, c_lin: float, t0: float) -> None:
        """Check and store the friction and the reference time of eta."""
        self.schedule = Friction(c_log=c_log, c_lin=c_lin)
        self.t0 = check_real("t0", t0, minimum=0.0, strict=True)

    def eta(self, t: Tensor) -> Tensor:
        """eta(t) = c_log log(t / t0) + c_lin t (the log term only when c_log > 0)."""
        t = torch.as_tensor(t)
        self.schedule.check_time(t)
        c_log = self.schedule.c_log
        log_term = c_log * torch.log(t / self.t0) if c_log > 0 else 0.0
        return log_term + self.schedule.c_lin * t

    def friction(self, t: Tensor | float) -> Tensor | float:
        """alpha(t) = eta'(t) = c_log / t + c_lin."""
        return self.schedule.gamma(t)

    def damping_factor(self, t: Tensor, h: Tensor) -> Tensor:
        """(t / (t + h))^c_log e^{-c_lin h}: the exact flow of p' = -alpha(t) p over [t, t + h]."""
        return self.schedule.factor(t, h)

    def damping_repr(self) -> str:
        """'c_log=..., c_lin=..., t0=...' for ``extra_repr``."""
        return f"c_log={self.schedule.c_log:g}, c_lin={self.schedule.c_lin:g}, t0={self.t0:g}"


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
        check_phase_state(x, p, d=self.d)
