"""Geometry of the unit sphere S^{d-1}, where post-LayerNorm tokens live."""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.checks import check_cloud, first_token


def project_tangent(x: Tensor, v: Tensor) -> Tensor:
    """Tangent projection at a unit vector x: P_x v = v - <x, v> x (row-wise over the last dim)."""
    return v - (x * v).sum(-1, keepdim=True) * x


def normalize(x: Tensor) -> Tensor:
    """Radial retraction onto the sphere: x / |x| (row-wise), the map a LayerNorm applies."""
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True)


def directions(name: str, x: Tensor) -> Tensor:
    """u_i = x_i / |x_i| for a cloud ``x`` (..., n, d); ValueError naming the first token that has
    no direction (zero, NaN or infinite, or a norm beyond the dtype)."""
    check_cloud(name, x)
    norms = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    lost = ~((norms > 0) & torch.isfinite(norms))
    if bool(lost.any()):
        raise ValueError(
            f"{name} {first_token(lost[..., 0])} has no direction (it is zero, NaN or infinite); "
            "the cosines and clusters of a cloud are defined by the directions x_i / |x_i| of "
            "nonzero finite tokens"
        )
    return x / norms


def exp_map(x: Tensor, v: Tensor) -> Tensor:
    """Geodesic step on the sphere: exp_x(v) = cos(|v|) x + sin(|v|) v / |v| for tangent v.

    Written as cos(|v|) x + sinc(|v|) v so that v -> 0 needs no special case.
    """
    speed = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    return torch.cos(speed) * x + torch.sinc(speed / torch.pi) * v


def geodesic_flow(x: Tensor, v: Tensor, h: Tensor | float) -> tuple[Tensor, Tensor]:
    """The exact flow over time h of free motion on the sphere, x' = v, v' = -|v|^2 x:

        x(h) = cos(h|v|) x + sin(h|v|) v / |v|,   v(h) = cos(h|v|) v - |v| sin(h|v|) x,

    the great circle through x with initial velocity v, travelled at constant speed |v|. For unit
    x and tangent v the result is unit and tangent; it is renormalized and reprojected, which
    changes it only by rounding error, so neither invariant drifts over many steps.
    """
    speed = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    angle = h * speed
    moved = normalize(torch.cos(angle) * x + h * torch.sinc(angle / torch.pi) * v)
    velocity = torch.cos(angle) * v - speed * torch.sin(angle) * x
    return moved, project_tangent(moved, velocity)
