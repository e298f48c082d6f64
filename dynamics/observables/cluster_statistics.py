"""Statistics of the clustering of a token cloud x (..., n, d), one value per cloud, shape (...).

Each is measured on the directions u_i = x_i / |x_i|:

- ``pair_collision_fraction``: #{i < j : <u_i, u_j> > c} / C(n, 2), the fraction of pairs that
  have collided; c = 0.999 is the threshold of the phase diagrams of Geshkovski, Letrouit,
  Polyanskiy, Rigollet, "A mathematical perspective on Transformers" (their script records this
  fraction over (t, beta)). It is 1 exactly when every pair is within angle arccos(c).
- ``span_dimension``: the numerical rank of the n x d matrix U of directions, #{k : s_k > rtol s_1}
  over its singular values s_1 >= s_2 >= ...: the dimension of the subspace the tokens span, up
  to a relative tolerance (1 for one cluster, the number of clusters when their centres are in
  general position and each cluster is tight compared with rtol). The s_k^2 are the eigenvalues
  of the smaller Gram matrix, U U^T (n x n) or U^T U (d x d), whose ``eigvalsh`` costs less than
  an SVD; computed to about eps s_1^2, so rtol^2 must stay well above the dtype's eps.
- ``cluster_sizes``: from labels (``dynamics.cluster_labels``), the number of tokens of each
  cluster at the index of its label (0 elsewhere); ``largest_cluster_fraction``: the largest
  cluster's size over n (single linkage at cos > 1 - tol): 1 for a single cluster, 1/n when no
  two tokens are linked.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dynamics.checks import check_cloud, check_real
from dynamics.geometry.sphere import normalize
from dynamics.observables.cloud import cluster_labels, pairwise_cosines

COLLISION_COSINE = 0.999
"""The paper's threshold: two tokens have collided when their cosine exceeds it."""

SPAN_RTOL = 1e-2
"""Default relative tolerance of ``span_dimension`` on the singular values."""

_RESOLVED_EPS = 100.0
"""``span_dimension`` needs rtol^2 >= this many eps of the dtype."""


def pair_collision_fraction(x: Tensor, cosine: float = COLLISION_COSINE) -> Tensor:
    """The fraction of pairs i < j with <u_i, u_j> > ``cosine``, shape (...), x's dtype
    (0 for n = 1)."""
    cosine = check_real("cosine", cosine, minimum=-1.0)
    cosines = pairwise_cosines(x)
    n = cosines.shape[-1]
    above = (cosines > cosine).sum((-1, -2)) - (cosines.diagonal(0, -2, -1) > cosine).sum(-1)
    return above.to(cosines.dtype) / max(n * (n - 1), 1)


def span_dimension(x: Tensor, rtol: float = SPAN_RTOL) -> Tensor:
    """#{k : s_k > rtol s_1} over the singular values of the directions' matrix, shape (...),
    dtype long."""
    check_cloud("x", x)
    rtol = check_real("rtol", rtol, minimum=0.0, strict=True)
    lowest = math.sqrt(_RESOLVED_EPS * torch.finfo(x.dtype).eps)
    if not lowest <= rtol < 1:
        raise ValueError(
            f"rtol={rtol!r} is not accepted in {x.dtype}; expected {lowest:.2g} <= rtol < 1 "
            "(the squared singular values are resolved to about eps s_1^2)"
        )
    unit = normalize(x)
    n, d = x.shape[-2:]
    gram = unit @ unit.transpose(-1, -2) if n <= d else unit.transpose(-1, -2) @ unit
    squares = torch.linalg.eigvalsh(gram)  # ascending
    return (squares > rtol**2 * squares[..., -1:]).sum(-1)


def cluster_sizes(labels: Tensor) -> Tensor:
    """sizes[..., r] = #{i : labels[..., i] = r} for labels (..., n) in [0, n), dtype long."""
    return torch.zeros_like(labels).scatter_add_(-1, labels, torch.ones_like(labels))


def largest_cluster_fraction(x: Tensor, tol: float = 1e-2) -> Tensor:
    """The largest cluster's share of the n tokens (``dynamics.cluster_labels``' rule), shape
    (...), x's dtype."""
    sizes = cluster_sizes(cluster_labels(x, tol))
    return sizes.amax(-1).to(x.dtype) / x.shape[-2]
