"""Shared pieces of the momentum steppers for x' = v, v' = -gamma(t) v + F(t, x), in R^d or on
the sphere.

The field is a ``dynamics.MomentumField``: ``force(t, x)`` (F), ``damping_factor(t, h)``
(exp(-int_t^{t+h} gamma), the exact flow of the friction) and ``geometry``, as
``dynamics.Accelerated`` has. Each step (``symplectic_euler``, ``leapfrog``, ``nesterov_layer``) is
a splitting into three exactly solved pieces:

- drift: x' = v (Euclidean), or free geodesic motion x' = v, v' = -|v|^2 x (sphere), solved by
  the geometry's ``free_flow``;
- friction: v' = -gamma(t) v, solved by the damping factor;
- kick: v' = F(t, x) with x frozen (on the sphere its tangent part P_x F, so v stays tangent).

With gamma = 0 every piece is a symplectic map, so the steps are symplectic; with constant gamma
they are conformal symplectic: each step contracts phase-space volume by exactly e^{-gamma h} per
dimension, as the flow does (McLachlan, Quispel, "Splitting methods"). On the sphere this is the
geodesic integrator of Leimkuhler, Matthews, "Efficient molecular dynamics using geodesic
integration and solvent-solute splitting": tokens stay on S^{d-1} and velocities tangent to
rounding error, with no projection of the update. One force evaluation per step.
"""

from __future__ import annotations

from torch import Tensor

from dynamics.field import MomentumField


def drift(field: MomentumField, x: Tensor, v: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
    """Free motion for time h: x + h v, or the great circle through x with velocity v."""
    return field.geometry.free_flow(x, v, h)


def kick_force(field: MomentumField, t: Tensor, x: Tensor, at: Tensor | None = None) -> Tensor:
    """F(t, at) (``at`` = x by default), on the sphere projected onto the tangent space at x."""
    return field.geometry.project(x, field.force(t, x if at is None else at))
