"""The accelerated layer of Nesterov / SympFormer type for momentum fields (see
``solvers.steppers.momentum``). Order 1, one force evaluation per step; on the sphere |x| = 1
and <x, v> = 0 hold to rounding.
"""

from __future__ import annotations

from torch import Tensor

from dynamics.field import MomentumField, State
from solvers.steppers.momentum import drift, kick_force


def nesterov_layer_step(field: MomentumField, t: Tensor, state: State, h: Tensor) -> State:
    """The accelerated layer of Nesterov / SympFormer type, with mu = D(t, h) = exp(-int gamma):

    v <- mu v + h F(t + h, y),  y = x + h mu v (the look-ahead point);  x <- x + h v.

    The force is taken where the damped momentum alone would carry x; y differs from x by O(h),
    so the layer is a consistent discretisation of x' = v, v' = -gamma v + F of order 1 (the
    look-ahead changes the error constant, not the order). On the sphere y is reached along the
    great circle, the force at y is projected onto the tangent space at x, and the final drift is
    geodesic.
    """
    x, v = state
    v = field.damping_factor(t, h) * v
    look_ahead, _ = drift(field, x, v, h)
    v = v + h * kick_force(field, t + h, x, at=look_ahead)
    return drift(field, x, v, h)
