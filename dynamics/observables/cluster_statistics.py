"""Statistics of the clustering of a token cloud x (..., n, d), one value per cloud, shape (...).

Each is measured on the directions u_i = x_i / |x_i|:

- ``pair_collision_fraction``: #{i < j : <u_i, u_j> > c} / C(n, 2), the fraction of pairs that
  have collided; c = 0.999 is the threshold of the phase diagrams of Geshkovski, Letrouit,
  Polyanskiy, Rigollet, "A mathematical perspective on Transformers" (their script records this
  fraction over (t, beta)). It is 1 exactly when every pair is within angle arccos(c).
- ``span_dimension``: #{k : lambda_k(G) > threshold} over the eigenvalues of the Gram matrix of
  the directions, G = U U^T (G_ij = <u_i, u_j>), threshold = 1e-3: the dimension of the subspace
  the tokens span, as the plotdim mode of that paper's phase-diagram script counts it (1 for one
  cluster, the number of clusters when their centres are in general position and each cluster is
  tight). The eigenvalues lie in [0, n] (G >= 0, trace n) and are those of U^T U (d x d) but for
  zeros, so the smaller Gram matrix serves; the count is the number of positive eigenvalues of
  G - threshold I, read from its LDL^T factorisation (``dynamics.positive_eigenvalue_count``)
  without an eigendecomposition. G is formed and factored to about eps n, so the threshold must
  stay well above it.
- ``cluster_sizes``: from labels (``dynamics.cluster_labels``), the number of tokens of each
  cluster at the index of its label (0 elsewhere); ``largest_cluster_fraction``: the largest
  cluster's size over n (single linkage at cos > 1 - tol): 1 for a single cluster, 1/n when no
  two tokens are linked.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.checks import check_cloud, check_real
from dynamics.geometry.sphere import directions, normalize
from dynamics.inertia import positive_eigenvalue_count
from dynamics.observables.cloud import cluster_labels, pairwise_cosines

COLLISION_COSINE = 0.999
"""The paper's threshold: two tokens have collided when their cosine exceeds it."""

SPAN_THRESHOLD = 1e-3
"""The paper's threshold: ``span_dimension`` counts the Gram eigenvalues above it."""

_RESOLVED_EPS = 10.0
"""``span_dimension`` needs threshold >= this many eps n of the dtype (the rounding of its Gram
eigenvalues, measured up to 5.4 eps n on sweep clouds up to n = 512)."""


def pair_collision_fraction(x: Tensor, cosine: float = COLLISION_COSINE) -> Tensor:
    """The fraction of pairs i < j with <u_i, u_j> > ``cosine``, shape (...), x's dtype
    (0 for n = 1)."""
    cosine = check_real("cosine", cosine, minimum=-1.0, maximum=1.0)
    cosines = pairwise_cosines(x)
    n = cosines.shape[-1]
    above = (cosines > cosine).sum((-1, -2)) - (cosines.diagonal(0, -2, -1) > cosine).sum(-1)
    return above.to(cosines.dtype) / max(n * (n - 1), 1)


def check_span_threshold(threshold: float, n: int, dtype: torch.dtype) -> float:
    """``threshold`` if ``span_dimension`` resolves it on n tokens in ``dtype``: 10 eps n <=
    threshold < n (the Gram eigenvalues lie in [0, n] and are resolved to about eps n); else
    ValueError (TypeError if it is not a real number)."""
    threshold = check_real("threshold", threshold, minimum=0.0, strict=True)
    lowest = _RESOLVED_EPS * torch.finfo(dtype).eps * n
    if not lowest <= threshold < n:
        wider = "" if dtype == torch.float64 else ", or float64 tokens"
        raise ValueError(
            f"threshold={threshold!r} is not accepted for n={n} in {dtype}; expected "
            f"{lowest:.2g} <= threshold < {n} (the Gram eigenvalues lie in [0, n] and are "
            f"resolved to about eps n){wider}"
        )
    return threshold


def span_dimension(
    x: Tensor, threshold: float = SPAN_THRESHOLD, *, cosines: Tensor | None = None
) -> Tensor:
    """#{k : lambda_k(U U^T) > threshold} over the eigenvalues of the directions' Gram matrix,
    shape (...), dtype long; ``threshold`` as ``check_span_threshold`` accepts. ``cosines``, if
    given, must be ``pairwise_cosines(x)`` (not checked): with n <= d it is the Gram matrix, and
    a cloud whose cosines are all at least c = 1 - threshold / (n - 1) counts 1 without a
    factorisation (for threshold < n / 2): the Rayleigh quotient at the mean direction gives
    lambda_1 >= 1 + (n - 1) c > threshold, so the others, summing to n - lambda_1 (trace n), are
    at most (n - 1)(1 - c) = threshold. Without ``cosines``, ValueError if a token has no
    direction (``dynamics.directions``)."""
    if cosines is None:
        x = directions("x", x)
    else:
        check_cloud("x", x)
    n = x.shape[-2]
    threshold = check_span_threshold(threshold, n, x.dtype)
    if cosines is None or threshold >= n / 2:
        return _eigenvalues_above(x, threshold, cosines)
    single = cosines.flatten(-2).amin(-1) >= 1 - threshold / max(n - 1, 1)
    if not bool(single.any()):
        return _eigenvalues_above(x, threshold, cosines)
    counts = torch.ones(single.shape, dtype=torch.long, device=x.device)
    others = ~single
    if bool(others.any()):
        counts[others] = _eigenvalues_above(x[others], threshold, cosines[others])
    return counts


def _eigenvalues_above(x: Tensor, threshold: float, cosines: Tensor | None) -> Tensor:
    """The count of ``span_dimension`` by the inertia of G - threshold I, G the smaller Gram
    matrix (``cosines`` when given and n <= d); without ``cosines``, x holds the directions."""
    n, d = x.shape[-2:]
    if n <= d and cosines is not None:
        gram = cosines
    else:
        unit = x if cosines is None else normalize(x)
        gram = unit @ unit.transpose(-1, -2) if n <= d else unit.transpose(-1, -2) @ unit
    diagonal = gram.diagonal(0, -2, -1) - threshold
    return positive_eigenvalue_count(gram.diagonal_scatter(diagonal, 0, -2, -1))


def cluster_sizes(labels: Tensor) -> Tensor:
    """sizes[..., r] = #{i : labels[..., i] = r} for labels (..., n) in [0, n), dtype long
    (TypeError or ValueError otherwise)."""
    if not isinstance(labels, Tensor) or labels.dtype != torch.long or labels.ndim < 1:
        got = labels.dtype if isinstance(labels, Tensor) else type(labels).__name__
        raise TypeError(f"labels must be a torch.long tensor (..., n), got {got}")
    n = labels.shape[-1]
    low, high = torch.stack(torch.aminmax(labels)).tolist() if labels.numel() else (0, 0)
    if low < 0 or high >= n:
        raise ValueError(
            f"labels must lie in [0, n) = [0, {n}) (a token's label is a token index, as "
            f"dynamics.cluster_labels gives), got values from {low} to {high}"
        )
    return torch.zeros_like(labels).scatter_add_(-1, labels, torch.ones_like(labels))


def largest_cluster_fraction(x: Tensor, tol: float = 1e-2) -> Tensor:
    """The largest cluster's share of the n tokens (``dynamics.cluster_labels``' rule), shape
    (...), x's dtype."""
    sizes = cluster_sizes(cluster_labels(x, tol))
    return sizes.amax(-1).to(x.dtype) / x.shape[-2]
