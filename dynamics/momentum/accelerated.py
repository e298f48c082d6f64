"""Momentum (second-order) dynamics built from any first-order field.

Tokens carry a position x and a velocity v; with F the first-order field,

    x' = v,   v' = -gamma(t) v + F(t, x).

``damping`` picks gamma: "nesterov" gamma = r / (t + t0) (r = 3 is the ODE of Nesterov's method,
Su, Boyd, Candes, "A differential equation for modeling Nesterov's accelerated gradient method"),
"heavy_ball" a constant gamma (Polyak's heavy ball), "none" gamma = 0 (then, when F = grad E, the
energy H = |v|^2 / 2 - E(x) is conserved), or any callable t -> gamma(t) >= 0. These are the
inertial dynamics behind the accelerated attention blocks of Stein, Li, Steidl, "SympFormer:
accelerated attention blocks via inertial dynamics on density manifolds".

On the sphere (``geometry`` ``SPHERE``) the velocity stays tangent:

    x' = v,   v' = P_x(F(t, x) - gamma(t) v) - |v|^2 x,

the forced, damped geodesic equation of S^{d-1}: the centripetal term -|v|^2 x makes
d/dt <x, v> = |v|^2 + <x, v'> = 0, so |x| = 1 and <x, v> = 0 hold along the exact flow.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from dynamics.checks import check_choice, check_phase_state, check_real
from dynamics.field import geometry_of
from dynamics.geometry.spaces import geometry_named
from dynamics.momentum.friction import Friction

DAMPINGS = ("nesterov", "heavy_ball", "none")


class Accelerated(nn.Module):
    """The momentum field (x, v) -> (x', v') of a first-order field ``field``.

    Args:
        field: the first-order field F(t, x) (e.g. ``SelfAttention``).
        damping: "nesterov", "heavy_ball", "none", or a callable t -> gamma(t) (a float or tensor,
            taken as given: gamma(t) < 0 feeds energy in).
        gamma: the constant friction of "heavy_ball" (>= 0).
        r, t0: gamma(t) = r / (t + t0) for "nesterov" (r >= 0, t0 > 0).
        manifold: "euclidean" or "sphere", stored as ``geometry``; by default the field's own
            ``geometry``.
    """

    def __init__(
        self,
        field: nn.Module,
        *,
        damping: str | Callable[[Tensor], Tensor | float] = "nesterov",
        gamma: float = 1.0,
        r: float = 3.0,
        t0: float = 1.0,
        manifold: str | None = None,
    ) -> None:
        super().__init__()
        if not callable(field):
            raise TypeError(f"field must be a vector field f(t, x), got {type(field).__name__}")
        self.field = field
        if not callable(damping):
            check_choice("damping", damping, DAMPINGS)
        self.damping = damping
        self.gamma = check_real("gamma", gamma, minimum=0.0)
        self.r = check_real("r", r, minimum=0.0)
        self.t0 = check_real("t0", t0, minimum=0.0, strict=True)
        self.schedule = _schedule(damping, self.gamma, self.r, self.t0)
        self.geometry = geometry_of(field) if manifold is None else geometry_named(manifold)

    def extra_repr(self) -> str:
        damping = self.damping if isinstance(self.damping, str) else "callable"
        return f"damping={damping!r}, gamma={self.gamma:g}, r={self.r:g}, t0={self.t0:g}"

    def friction(self, t: Tensor | float) -> Tensor | float:
        """gamma(t)."""
        return self.schedule.gamma(t)

    def damping_factor(self, t: Tensor, h: Tensor) -> Tensor:
        """exp(-int_t^{t+h} gamma(s) ds): the exact flow of v' = -gamma(t) v over [t, t + h].

        Closed form for "nesterov" (((t + t0) / (t + h + t0))^r), "heavy_ball" and "none";
        two-point Gauss-Legendre quadrature (order 4) for a callable gamma (``Friction``).
        """
        return self.schedule.factor(t, h)

    def force(self, t: Tensor, x: Tensor) -> Tensor:
        """F(t, x), the first-order field."""
        return self.field(t, x)

    def forward(self, t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """(x', v') = (v, -gamma(t) v + F(t, x)); on the sphere the tangent form above."""
        if not (isinstance(state, tuple) and len(state) == 2):
            raise TypeError("Accelerated fields take the state as a tuple (x, v)")
        x, v = state
        check_phase_state(x, v, names=("x", "v"))
        return v, self.geometry.acceleration(x, v, self.force(t, x) - self.friction(t) * v)


def _schedule(
    damping: str | Callable[[Tensor], Tensor | float], gamma: float, r: float, t0: float
) -> Friction:
    """The ``Friction`` of a damping choice: r / (t + t0), gamma, 0, or the callable."""
    if callable(damping):
        return Friction(rate=damping)
    return {
        "nesterov": Friction(c_log=r, t0=t0),
        "heavy_ball": Friction(c_lin=gamma),
        "none": Friction(),
    }[damping]
