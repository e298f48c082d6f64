"""Clusters of clouds on the circle S^1 in O(n log n) time and O(n) memory."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dynamics.checks import check_cloud, check_real


def circle_cluster_count(x: Tensor, tol: float = 1e-2) -> Tensor:
    """``dynamics.cluster_count`` for clouds x (..., n, 2) on the circle, shape (...), long.

    Single linkage at cos(x_i, x_j) > 1 - tol links tokens whose angles differ by less than
    a = arccos(1 - tol); on S^1 the components are arcs, separated by the gaps of at least a
    between angularly consecutive tokens. So the count is the number of such gaps (sorting the
    angles, the circular gap from the last token to the first included), or 1 if there are none
    or one. Angles and gaps are compared as a = arccos(1 - tol) rather than through cosines.
    """
    check_cloud("x", x, d=2)
    tol = check_real("tol", tol, minimum=0.0, strict=True)
    threshold = math.acos(max(1.0 - tol, -1.0))
    angles, _ = torch.sort(torch.atan2(x[..., 1], x[..., 0]), dim=-1)
    wrapped = torch.cat([angles, angles[..., :1] + 2 * math.pi], dim=-1)
    gaps = (wrapped.diff(dim=-1) >= threshold).sum(-1)
    return gaps.clamp(min=1)
