"""One-step maps for momentum dynamics x' = v, v' = -gamma(t) v + F(t, x) in R^d.

The field must expose ``force(t, x)`` (F) and ``damping_factor(t, h)`` (exp(-int_t^{t+h} gamma),
the exact flow of the friction), as ``dynamics.Accelerated`` does. The friction is applied by its
exact flow and the force by symplectic kicks, so with gamma = 0 both steps are symplectic and with
constant gamma they are conformal symplectic: each step contracts phase-space volume by exactly
e^{-gamma h} per dimension, as the flow does (McLachlan, Quispel, "Splitting methods"). One force
evaluation per step.
"""

from __future__ import annotations

from torch import Tensor

from dynamics.field import State, VectorField


def check_phase_space(name: str, field: VectorField, x0: State) -> None:
    """The state must be (x, v) and the field an ``Accelerated``-like Euclidean momentum field."""
    if not (isinstance(x0, tuple) and len(x0) == 2):
        raise TypeError(f"method {name!r} integrates momentum states: x0 must be a tuple (x, v)")
    if not (hasattr(field, "force") and hasattr(field, "damping_factor")):
        raise TypeError(
            f"method {name!r} needs a momentum field with force(t, x) and damping_factor(t, h), "
            f"such as dynamics.Accelerated; got {type(field).__name__}"
        )
    if getattr(field, "manifold", "euclidean") != "euclidean":
        raise ValueError(
            f"method {name!r} integrates Euclidean momentum dynamics; for the sphere use an "
            "adaptive method such as dopri5 on the Accelerated field"
        )


def symplectic_euler_step(field: VectorField, t: Tensor, state: State, h: Tensor) -> State:
    """v <- e^{-int gamma} v + h F(t, x);  x <- x + h v (kick, then drift). Order 1."""
    x, v = state
    v = field.damping_factor(t, h) * v + h * field.force(t, x)
    return x + h * v, v


def leapfrog_step(field: VectorField, t: Tensor, state: State, h: Tensor) -> State:
    """Stormer-Verlet in drift-kick-drift form, the friction split symmetrically around the kick:

    x <- x + (h/2) v;  v <- D(t, h/2) v;  v <- v + h F(t + h/2, x);  v <- D(t + h/2, h/2) v;
    x <- x + (h/2) v,   with D(t, s) = exp(-int_t^{t+s} gamma). Symmetric, so order 2.
    """
    x, v = state
    half = h / 2
    x = x + half * v
    v = field.damping_factor(t, half) * v + h * field.force(t + half, x)
    v = field.damping_factor(t + half, half) * v
    return x + half * v, v


def nesterov_layer_step(field: VectorField, t: Tensor, state: State, h: Tensor) -> State:
    """The accelerated layer of Nesterov / SympFormer type, with mu = D(t, h) = exp(-int gamma):

    v <- mu v + h F(t + h, x + h mu v);  x <- x + h v.

    The force is taken at the look-ahead point x + h mu v, where the damped momentum alone would
    carry x; that point differs from x by O(h), so the layer is a consistent discretisation of
    x' = v, v' = -gamma v + F of order 1 (the look-ahead changes the error constant, not the order).
    """
    x, v = state
    v = field.damping_factor(t, h) * v
    v = v + h * field.force(t + h, x + h * v)
    return x + h * v, v
