"""What the normalization scenario measures on a stack of hidden states x_0..x_L (shape
(L + 1, ..., n, d); every observable is averaged over the leading batch dims, e.g. sentences):

- ``mean_cosine``: mean of cos(x_i, x_j) over pairs i != j (``dynamics.mean_pairwise_cosine``);
- ``effective_rank``: exp of the entropy of the normalised singular values of the unit tokens
  (``dynamics.effective_rank``);
- ``clusters``: connected groups of tokens with cosine > 1 - cluster_tol
  (``dynamics.cluster_count``);
- ``radius``: mean |x_i|;
- ``update``: the relative update of layer l, |x_l - x_{l-1}|_F / |x_{l-1}|_F (l = 1..L; the curse
  of depth is this going to 0 in the deep layers);
- ``speed``: the direction's speed against the Post-LN velocity, layer by layer:
  sum_i |theta_{l,i} - theta_{l-1,i}| / (h sum_i |P_theta A(theta_{l-1})_i|) (l = 1..L; 1 for a
  Post-LN layer up to O(h)).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

import dynamics

OBSERVABLES = ("mean_cosine", "effective_rank", "clusters", "radius", "update", "speed")
"""The per-depth observables; ``update`` and ``speed`` have L entries, the others L + 1."""


def observe(
    states: Tensor,
    attention: torch.nn.Module | None,
    h: float,
    cluster_tol: float,
    mask: Tensor | None = None,
) -> dict[str, np.ndarray]:
    """Every observable of ``OBSERVABLES`` against depth, from states (L + 1, ..., n, d);
    ``mask`` (B, n) marks the real tokens of a padded batch (all real when None); ``speed`` only
    with the ``attention`` sublayer."""
    if mask is None:
        mask = torch.ones(states.shape[-2], dtype=torch.bool, device=states.device)
        mask = mask.expand(*states.shape[1:-2], -1) if states.ndim > 3 else mask[None]
    batch = states if states.ndim > 3 else states[:, None]
    real = mask[..., None].to(states.dtype)
    theta = dynamics.normalize(batch) * real
    found = {}
    if attention is not None:
        before = theta[:-1]
        t = torch.zeros((), dtype=states.dtype, device=states.device)
        post_velocity = dynamics.project_tangent(before, attention(t, before)) * real
        moved = torch.linalg.vector_norm(theta[1:] - before, dim=-1).sum(-1)
        found["speed"] = moved / (h * torch.linalg.vector_norm(post_velocity, dim=-1).sum(-1))
    flat = (batch * real).flatten(-2)
    update = torch.linalg.vector_norm(flat[1:] - flat[:-1], dim=-1)
    update = update / torch.linalg.vector_norm(flat[:-1], dim=-1)
    radius = (torch.linalg.vector_norm(batch, dim=-1) * real[..., 0]).sum(-1) / real[..., 0].sum(-1)
    found |= {
        "mean_cosine": dynamics.mean_pairwise_cosine(batch, mask),
        "effective_rank": dynamics.effective_rank(batch, mask),
        "clusters": dynamics.masked_cluster_count(batch, mask, cluster_tol).to(states.dtype),
        "radius": radius,
        "update": update,
    }
    return {name: value.mean(-1).cpu().numpy() for name, value in found.items()}


def first_depth(condition: np.ndarray) -> int | None:
    """The first index where ``condition`` holds, None if it never does."""
    hits = np.flatnonzero(condition)
    return int(hits[0]) if hits.size else None
