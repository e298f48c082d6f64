"""The adjusted Rand index against its definition (Hubert, Arabie, "Comparing partitions")."""

from __future__ import annotations

import math

import pytest
import torch

from dynamics import adjusted_rand_index


def test_identical_partitions_give_one(generator):
    labels = torch.randint(0, 4, (3, 5, 20), generator=generator)
    index = adjusted_rand_index(labels, labels)
    assert index.shape == (3, 5) and index.dtype == torch.float64
    assert torch.equal(index, torch.ones(3, 5, dtype=torch.float64))


def test_relabelled_partitions_give_one(generator):
    """Only which tokens share a label matters: any injective relabelling gives 1."""
    labels = torch.randint(0, 5, (4, 30), generator=generator)
    relabel = torch.tensor([17, 3, 250, -4, 9])  # injective, not order-preserving
    assert torch.equal(adjusted_rand_index(labels, relabel[labels]), torch.ones(4).double())


def test_a_small_example_computed_by_hand():
    """a = {0,1,2}{3,4,5}, b = {0,1}{2,3}{4,5}, n = 6, C(6, 2) = 15 pairs.

    Contingency table rows a, columns b: [[2, 1, 0], [0, 1, 2]].
    sum_ij C(n_ij, 2) = C(2,2) + C(2,2) = 2 (pairs {0,1} and {4,5} together in both);
    sum_i C(a_i, 2) = 2 C(3,2) = 6; sum_j C(b_j, 2) = 3 C(2,2) = 3;
    E = 6 * 3 / 15 = 6/5; max = (6 + 3) / 2 = 9/2;
    ARI = (2 - 6/5) / (9/2 - 6/5) = (4/5) / (33/10) = 8/33.
    """
    a = torch.tensor([0, 0, 0, 1, 1, 1])
    b = torch.tensor([0, 0, 1, 1, 2, 2])
    assert adjusted_rand_index(a, b).item() == pytest.approx(8 / 33, rel=1e-15)
    assert adjusted_rand_index(b, a).item() == pytest.approx(8 / 33, rel=1e-15)


def test_trivial_partitions():
    """One class against one class, singletons against singletons: identical, so 1 (the
    denominator vanishes); one class against singletons: 0 (E = sum_ij C(n_ij, 2) = 0)."""
    one, singletons = torch.zeros(6, dtype=torch.long), torch.arange(6)
    assert adjusted_rand_index(one, one).item() == 1.0
    assert adjusted_rand_index(singletons, singletons).item() == 1.0
    assert adjusted_rand_index(one, singletons).item() == 0.0


def test_independent_partitions_give_zero_on_average(generator):
    """Under the permutation model (b a uniformly random permutation of a fixed labelling, class
    sizes kept) E[ARI] = 0 exactly. The mean of 4000 draws is within 4 standard errors of 0."""
    n, draws = 40, 4000
    a = torch.randint(0, 4, (n,), generator=generator)
    b = torch.randint(0, 3, (n,), generator=generator)
    permutations = torch.argsort(torch.rand(draws, n, generator=generator), dim=-1)
    index = adjusted_rand_index(a.expand(draws, n), b[permutations])
    standard_error = index.std().item() / math.sqrt(draws)
    assert abs(index.mean().item()) < 4 * standard_error
    assert index.std().item() > 0.005  # the draws do vary: the mean is not trivially zero


def test_bad_labels_are_refused():
    with pytest.raises(TypeError, match="labels_a"):
        adjusted_rand_index(torch.zeros(4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="same shape"):
        adjusted_rand_index(torch.zeros(4, dtype=torch.long), torch.zeros(5, dtype=torch.long))
