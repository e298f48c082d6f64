"""Symplectic Euler (kick, then drift) for momentum fields; see ``solvers.steppers.momentum``.

    v <- D(t, h) v + h F(t, x);   (x, v) <- drift for time h,

with D(t, h) = exp(-int_t^{t+h} gamma). Order 1, one force evaluation per step; symplectic
(conformally with friction); on the sphere |x| = 1 and <x, v> = 0 hold to rounding.
"""

from __future__ import annotations

from torch import Tensor

from dynamics.field import MomentumField, State
from solvers.steppers.momentum import drift, kick_force


def symplectic_euler_step(field: MomentumField, t: Tensor, state: State, h: Tensor) -> State:
    """v <- e^{-int gamma} v + h F(t, x);  then drift for time h (kick, then drift). Order 1."""
    x, v = state
    v = field.damping_factor(t, h) * v + h * kick_force(field, t, x)
    return drift(field, x, v, h)
