"""Token clouds in coordinates of their own span.

For a cloud x (n tokens in R^d) with d > n, write x^T = B R (QR: B has n orthonormal columns in
R^d, R is n x n upper triangular). The coordinates c_i = B^T x_i, that is c = R^T, keep every
inner product, <c_i, c_j> = <x_i, x_j>, in n numbers per token instead of d.

Self-attention with Q = K = V = I (any normalization, on the sphere or in R^d) moves token i
along sum_j w_ij x_j (minus a multiple of x_i, for the tangent projection) with weights that
depend on inner products only, so f(B c) = B f(c) for the n-token clouds c: the span of the
initial tokens is invariant and solving in span coordinates gives x(t) = B c(t) exactly. Every
rotation-invariant observable (cosines, norms, cluster counts, energies) can be read off c(t).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.checks import check_cloud


def span_width(n: int, d: int) -> int:
    """The token dimension of the span coordinates of n tokens in R^d: min(d, max(n, 2)), at
    least 2 so that the coordinates stay on a sphere S^{k-1} with k >= 2."""
    return min(d, max(n, 2))


def span_coordinates(x: Tensor) -> Tensor:
    """The cloud x (..., n, d) in an orthonormal basis of a subspace holding its tokens: shape
    (..., n, ``span_width(n, d)``), every inner product <x_i, x_j> kept (to rounding). A cloud
    with d <= max(n, 2) is returned as it is."""
    check_cloud("x", x)
    n, d = x.shape[-2:]
    width = span_width(n, d)
    if width == d:
        return x
    upper = torch.linalg.qr(x.transpose(-1, -2), mode="r").R  # (..., n, n), Q not formed
    coordinates = upper.transpose(-1, -2)
    return torch.nn.functional.pad(coordinates, (0, width - n))
