"""One-step maps that keep every token on the unit sphere S^{d-1}.

Each takes (field, t, x, h) and returns x after one step of size h; x has unit rows.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.field import State, VectorField
from dynamics.geometry.sphere import exp_map, normalize, project_tangent


def check_unit_rows(name: str, x: Tensor) -> None:
    """Every row of ``x`` must have norm 1 (within 1e-5)."""
    norms = torch.linalg.vector_norm(x, dim=-1)
    if not torch.allclose(norms, torch.ones_like(norms), atol=1e-5):
        raise ValueError(
            f"method {name!r} keeps tokens on the unit sphere; x0 rows must have norm 1 "
            f"(found norms from {float(norms.min()):.3g} to {float(norms.max()):.3g})"
        )


def check_on_sphere(name: str, field: VectorField, x0: State) -> None:
    """The state must be one cloud with unit rows."""
    if isinstance(x0, tuple):
        raise TypeError(f"method {name!r} integrates tensor states, got a tuple")
    check_unit_rows(name, x0)


def projected_euler_step(field: VectorField, t: Tensor, x: Tensor, h: Tensor) -> Tensor:
    """x <- (x + h f(t, x)) / |x + h f(t, x)|: one post-LayerNorm residual layer. Order 1."""
    return normalize(x + h * field(t, x))


def exponential_euler_step(field: VectorField, t: Tensor, x: Tensor, h: Tensor) -> Tensor:
    """Geodesic Euler: x <- exp_x(h P_x f(t, x)) = cos(h|v|) x + sin(h|v|) v/|v|. Order 1.

    The result is renormalized, which changes it only by rounding error, so |x| = 1 does not drift
    over many steps in float32.
    """
    return normalize(exp_map(x, h * project_tangent(x, field(t, x))))
