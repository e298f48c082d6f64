"""Geometry of the unit sphere S^{d-1}, where post-LayerNorm tokens live."""

from __future__ import annotations

import torch
from torch import Tensor


def project_tangent(x: Tensor, v: Tensor) -> Tensor:
    """Tangent projection at a unit vector x: P_x v = v - <x, v> x (row-wise over the last dim)."""
    return v - (x * v).sum(-1, keepdim=True) * x


def normalize(x: Tensor) -> Tensor:
    """Radial retraction onto the sphere: x / |x| (row-wise), the map a LayerNorm applies."""
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True)


def exp_map(x: Tensor, v: Tensor) -> Tensor:
    """Geodesic step on the sphere: exp_x(v) = cos(|v|) x + sin(|v|) v / |v| for tangent v.

    Written as cos(|v|) x + sinc(|v|) v so that v -> 0 needs no special case.
    """
    speed = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    return torch.cos(speed) * x + torch.sinc(speed / torch.pi) * v
