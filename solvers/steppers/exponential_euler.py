"""Geodesic (exponential) Euler on the unit sphere.

    x <- exp_x(h P_x f(t, x)) = cos(h|v|) x + sin(h|v|) v/|v|,   v = P_x f(t, x).

Order 1, one evaluation per step. Contract (``solvers.METHODS``): a field with geometry
``SPHERE``, one cloud with unit rows.
"""

from __future__ import annotations

from torch import Tensor

from dynamics.field import VectorField
from dynamics.geometry.sphere import exp_map, normalize, project_tangent


def exponential_euler_step(field: VectorField, t: Tensor, x: Tensor, h: Tensor) -> Tensor:
    """Geodesic Euler: x <- exp_x(h P_x f(t, x)) = cos(h|v|) x + sin(h|v|) v/|v|. Order 1.

    The result is renormalized, which changes it only by rounding error, so |x| = 1 does not drift
    over many steps in float32.
    """
    return normalize(exp_map(x, h * project_tangent(x, field(t, x))))
