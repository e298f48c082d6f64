"""Comparing two partitions of the same tokens.

Hubert, Arabie, "Comparing partitions": for two partitions of n items with a contingency table
n_ij (items in class i of the first and class j of the second), row sums a_i and column sums b_j,

    ARI = (sum_ij C(n_ij, 2) - E) / ((sum_i C(a_i, 2) + sum_j C(b_j, 2)) / 2 - E),
    E   = sum_i C(a_i, 2) sum_j C(b_j, 2) / C(n, 2),

the Rand index corrected for chance: 1 for identical partitions (whatever the labels), expected
value 0 when one partition is a random permutation of the items with the class sizes fixed.
Each C(., 2) sum counts pairs of items: sum_ij C(n_ij, 2) the pairs together in both partitions,
sum_i C(a_i, 2) and sum_j C(b_j, 2) those together in each, so the index is computed from the pair
indicators [a_p = a_q] and [b_p = b_q] without forming the table (O(n^2) per system).

The denominator is (A + B) / 2 - A B / N with A, B in [0, N], N = C(n, 2); it is >= sqrt(A B) -
A B / N >= 0 and vanishes only when A = B in {0, N}: both partitions all singletons or both a
single class, so they are identical, and the index is 1 there (as for n < 2).
"""

from __future__ import annotations

import torch
from torch import Tensor


def adjusted_rand_index(labels_a: Tensor, labels_b: Tensor) -> Tensor:
    """The adjusted Rand index of two labelings of shape (..., n), shape (...), float64.

    Labels are any integers; only which tokens share a label matters (e.g. ``cluster_labels``).
    """
    for name, labels in (("labels_a", labels_a), ("labels_b", labels_b)):
        if not isinstance(labels, Tensor) or labels.is_floating_point() or labels.ndim < 1:
            raise TypeError(f"{name} must be an integer torch.Tensor of shape (..., n)")
    if labels_a.shape != labels_b.shape:
        raise ValueError(
            f"labels_a {tuple(labels_a.shape)} and labels_b {tuple(labels_b.shape)} must have "
            "the same shape"
        )
    n = labels_a.shape[-1]
    upper = torch.ones(n, n, dtype=torch.bool, device=labels_a.device).triu(1)

    def together(labels: Tensor) -> Tensor:  # pairs p < q with one label, shape (..., n, n)
        return (labels[..., :, None] == labels[..., None, :]) & upper

    same_a, same_b = together(labels_a), together(labels_b)
    pairs_a, pairs_b = (s.sum((-1, -2), dtype=torch.float64) for s in (same_a, same_b))
    both = (same_a & same_b).sum((-1, -2), dtype=torch.float64)
    expected = pairs_a * pairs_b / max(n * (n - 1) / 2, 1.0)
    denominator = (pairs_a + pairs_b) / 2 - expected
    index = (both - expected) / torch.where(denominator > 0, denominator, 1.0)
    return torch.where(denominator > 0, index, 1.0)
