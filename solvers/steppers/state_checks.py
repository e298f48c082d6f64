"""Checks of an initial state's values that a method's contract needs beyond its shape."""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.field import State, VectorField
from dynamics.geometry.spaces import SPHERE

# Largest |<x_i, v_i>| accepted as "tangent" in an initial sphere state.
TANGENCY_TOLERANCE = 1e-5


def check_unit_rows(name: str, x: Tensor) -> None:
    """Every row of ``x`` must have norm 1 (within 1e-5, or 4 eps in a coarser dtype: float16)."""
    norms = torch.linalg.vector_norm(x, dim=-1)
    tolerance = max(1e-5, 4 * torch.finfo(x.dtype).eps)
    if not torch.allclose(norms, torch.ones_like(norms), atol=tolerance):
        raise ValueError(
            f"method {name!r} keeps tokens on the unit sphere; x0 rows must have norm 1 "
            f"(found norms from {float(norms.min()):.3g} to {float(norms.max()):.3g})"
        )


def check_on_sphere(name: str, field: VectorField, x0: State) -> None:
    """One cloud with unit rows."""
    check_unit_rows(name, x0)


def check_phase_space(name: str, field: VectorField, x0: State) -> None:
    """(x, v) on the field's geometry: on the sphere x has unit rows and <x_i, v_i> = 0."""
    if field.geometry != SPHERE:
        return
    x, v = x0
    check_unit_rows(name, x)
    radial = (x * v).sum(-1).abs().max()
    if float(radial) > TANGENCY_TOLERANCE:
        raise ValueError(
            f"method {name!r} on the sphere needs tangent velocities, <x_i, v_i> = 0; found "
            f"|<x_i, v_i>| up to {float(radial):.3g} (project them with dynamics.project_tangent)"
        )
