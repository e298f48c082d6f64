"""Observables of padded batches of token clouds (sentences of different lengths).

A batch x (..., B, n, d) with a mask m (B, n), True on the n_b real tokens of sentence b; every
function measures each sentence on its real tokens only and returns one value per sentence,
shape (..., B).

- ``mean_pairwise_cosine``: (1 / (n_b (n_b - 1))) sum_{i != j} cos(x_i, x_j), from
  |sum_i u_i|^2 = n_b + sum_{i != j} <u_i, u_j> with u_i = x_i / |x_i| (O(n d), no n x n matrix);
- ``masked_cluster_count``: ``dynamics.cluster_count`` (connected components of
  cos(x_i, x_j) > 1 - tol) with every padding token replaced by the sentence's first token, so
  that it joins that token's cluster and adds none;
- ``effective_rank``: exp(H(p)), H(p) = -sum_k p_k log p_k, p_k = s_k / sum_l s_l over the
  singular values s_k of the matrix of unit tokens u_i (Roy and Vetterli, "The effective rank: a
  measure of effective dimensionality"): 1 when all tokens are parallel, n_b when they are
  orthonormal. Padding rows are set to zero, which leaves the singular values unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynamics.checks import check_cloud
from dynamics.geometry.sphere import normalize
from dynamics.observables.cloud import cluster_count


def _checked(x: Tensor, mask: Tensor) -> Tensor:
    check_cloud("x", x)
    if mask.shape != x.shape[-3:-1]:
        raise ValueError(f"mask has shape {tuple(mask.shape)}, expected {tuple(x.shape[-3:-1])}")
    if not bool((mask.sum(-1) >= 2).all()):
        raise ValueError("every sentence needs at least 2 real tokens")
    return mask.to(device=x.device, dtype=torch.bool)


def mean_pairwise_cosine(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of cos(x_i, x_j) over ordered pairs i != j of real tokens, shape (..., B)."""
    mask = _checked(x, mask)
    unit = normalize(x) * mask[..., None].to(x.dtype)
    n = mask.sum(-1).to(x.dtype)
    total = unit.sum(-2).square().sum(-1)
    return (total - n) / (n * (n - 1))


def masked_cluster_count(x: Tensor, mask: Tensor, tol: float = 1e-2) -> Tensor:
    """Clusters among the real tokens (``dynamics.cluster_count``' rule), shape (..., B)."""
    mask = _checked(x, mask)
    filled = torch.where(mask[..., None], x, x[..., :1, :].expand_as(x))
    return cluster_count(filled, tol)


def effective_rank(x: Tensor, mask: Tensor) -> Tensor:
    """exp of the entropy of the normalised singular values of the unit real tokens, (..., B)."""
    mask = _checked(x, mask)
    unit = normalize(x) * mask[..., None].to(x.dtype)
    singular = torch.linalg.svdvals(unit)
    p = singular / singular.sum(-1, keepdim=True)
    entropy = -torch.special.xlogy(p, p).sum(-1)
    return entropy.exp()
