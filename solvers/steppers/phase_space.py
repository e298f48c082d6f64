"""One-step maps for momentum dynamics x' = v, v' = -gamma(t) v + F(t, x), in R^d or on a sphere.

The field must expose ``force(t, x)`` (F), ``damping_factor(t, h)`` (exp(-int_t^{t+h} gamma), the
exact flow of the friction) and ``manifold``, as ``dynamics.Accelerated`` does. Each step is a
splitting into three exactly solved pieces:

- drift: x' = v (Euclidean), or free geodesic motion x' = v, v' = -|v|^2 x (sphere), solved by
  ``dynamics.geodesic_flow``;
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

from dynamics.field import State, VectorField
from dynamics.geometry.sphere import geodesic_flow, project_tangent
from solvers.steppers.sphere import check_unit_rows

# Largest |<x_i, v_i>| accepted as "tangent" in an initial sphere state.
TANGENCY_TOLERANCE = 1e-5


def check_phase_space(name: str, field: VectorField, x0: State) -> None:
    """The state must be (x, v), the field an ``Accelerated``-like momentum field, and on the
    sphere x must have unit rows and v must be tangent."""
    if not (isinstance(x0, tuple) and len(x0) == 2):
        raise TypeError(f"method {name!r} integrates momentum states: x0 must be a tuple (x, v)")
    if not (hasattr(field, "force") and hasattr(field, "damping_factor")):
        raise TypeError(
            f"method {name!r} needs a momentum field with force(t, x) and damping_factor(t, h), "
            f"such as dynamics.Accelerated; got {type(field).__name__}"
        )
    if getattr(field, "manifold", "euclidean") == "sphere":
        x, v = x0
        check_unit_rows(name, x)
        radial = (x * v).sum(-1).abs().max()
        if float(radial) > TANGENCY_TOLERANCE:
            raise ValueError(
                f"method {name!r} on the sphere needs tangent velocities, <x_i, v_i> = 0; found "
                f"|<x_i, v_i>| up to {float(radial):.3g} (project them with "
                "dynamics.project_tangent)"
            )


def _on_sphere(field: VectorField) -> bool:
    return getattr(field, "manifold", "euclidean") == "sphere"


def _drift(field: VectorField, x: Tensor, v: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
    """Free motion for time h: x + h v, or the great circle through x with velocity v."""
    if _on_sphere(field):
        return geodesic_flow(x, v, h)
    return x + h * v, v


def _kick_force(field: VectorField, t: Tensor, x: Tensor, at: Tensor | None = None) -> Tensor:
    """F(t, at) (``at`` = x by default), on the sphere projected onto the tangent space at x."""
    force = field.force(t, x if at is None else at)
    return project_tangent(x, force) if _on_sphere(field) else force


def symplectic_euler_step(field: VectorField, t: Tensor, state: State, h: Tensor) -> State:
    """v <- e^{-int gamma} v + h F(t, x);  then drift for time h (kick, then drift). Order 1."""
    x, v = state
    v = field.damping_factor(t, h) * v + h * _kick_force(field, t, x)
    return _drift(field, x, v, h)


def leapfrog_step(field: VectorField, t: Tensor, state: State, h: Tensor) -> State:
    """Stormer-Verlet in drift-kick-drift form, the friction split symmetrically around the kick:

    drift h/2;  v <- D(t, h/2) v;  v <- v + h F(t + h/2, x);  v <- D(t + h/2, h/2) v;  drift h/2,
    with D(t, s) = exp(-int_t^{t+s} gamma). Symmetric, so order 2 (also on the sphere, where the
    drift is the geodesic flow).
    """
    x, v = state
    half = h / 2
    x, v = _drift(field, x, v, half)
    v = field.damping_factor(t, half) * v + h * _kick_force(field, t + half, x)
    v = field.damping_factor(t + half, half) * v
    return _drift(field, x, v, half)


def nesterov_layer_step(field: VectorField, t: Tensor, state: State, h: Tensor) -> State:
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
    look_ahead, _ = _drift(field, x, v, h)
    v = v + h * _kick_force(field, t + h, x, at=look_ahead)
    return _drift(field, x, v, h)
