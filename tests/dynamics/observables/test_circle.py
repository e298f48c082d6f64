"""circle_cluster_count against the general single-linkage count."""

from __future__ import annotations

import math

import pytest
import torch

import dynamics
from tests.reference import F64


@pytest.mark.parametrize("tol", [1e-4, 1e-2, 0.3])
def test_matches_cluster_count_on_random_and_clustered_clouds(tol, generator):
    uniform = dynamics.uniform_sphere(60, 2, batch_shape=(5,), generator=generator, dtype=F64)
    centers = torch.rand(5, 4, 1, generator=generator, dtype=F64) * 2 * math.pi
    angles = (centers + 0.01 * torch.randn(5, 4, 15, generator=generator, dtype=F64)).flatten(1)
    clustered = torch.stack([angles.cos(), angles.sin()], -1)
    for x in (uniform, clustered, 3.0 * uniform.float()):
        assert torch.equal(dynamics.circle_cluster_count(x, tol), dynamics.cluster_count(x, tol))


def test_counts_by_hand():
    """Angles 0, 0.1, 3, 3.05, 6.2 with a = 0.2: 6.2 is 0.083 from 0 across 2 pi, so two arcs."""
    angles = torch.tensor([0.0, 0.1, 3.0, 3.05, 6.2], dtype=F64)
    x = torch.stack([angles.cos(), angles.sin()], -1)
    assert dynamics.circle_cluster_count(x, 1 - math.cos(0.2)).item() == 2
    assert dynamics.circle_cluster_count(x[:1], 0.01).item() == 1


def test_refuses_other_dimensions():
    with pytest.raises(ValueError, match="d=2"):
        dynamics.circle_cluster_count(torch.zeros(4, 3), 0.1)
