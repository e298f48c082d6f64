"""Projected Euler on the unit sphere: one post-LayerNorm residual layer.

    x <- (x + h f(t, x)) / |x + h f(t, x)|.

Order 1, one evaluation per step; every row of x stays a unit vector. Contract
(``solvers.METHODS``): a field with geometry ``SPHERE``, one cloud with unit rows.
"""

from __future__ import annotations

from torch import Tensor

from dynamics.field import VectorField
from dynamics.geometry.sphere import normalize


def projected_euler_step(field: VectorField, t: Tensor, x: Tensor, h: Tensor) -> Tensor:
    """x <- (x + h f(t, x)) / |x + h f(t, x)|: one post-LayerNorm residual layer. Order 1."""
    return normalize(x + h * field(t, x))
