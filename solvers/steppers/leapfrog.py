"""Stormer-Verlet (leapfrog) for momentum fields; see ``solvers.steppers.momentum``.

Order 2, one force evaluation per step; symplectic (conformally with friction) and time
reversible; on the sphere |x| = 1 and <x, v> = 0 hold to rounding.
"""

from __future__ import annotations

from torch import Tensor

from dynamics.field import MomentumField, State
from solvers.steppers.momentum import drift, kick_force


def leapfrog_step(field: MomentumField, t: Tensor, state: State, h: Tensor) -> State:
    """Stormer-Verlet in drift-kick-drift form, the friction split symmetrically around the kick:

    drift h/2;  v <- D(t, h/2) v;  v <- v + h F(t + h/2, x);  v <- D(t + h/2, h/2) v;  drift h/2,
    with D(t, s) = exp(-int_t^{t+s} gamma). Symmetric, so order 2 (also on the sphere, where the
    drift is the geodesic flow).
    """
    x, v = state
    half = h / 2
    x, v = drift(field, x, v, half)
    v = field.damping_factor(t, half) * v + h * kick_force(field, t + half, x)
    v = field.damping_factor(t + half, half) * v
    return drift(field, x, v, half)
