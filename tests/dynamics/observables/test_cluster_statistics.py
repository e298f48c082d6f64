"""Pair-collision fraction, span dimension and cluster sizes on clouds of known structure."""

from __future__ import annotations

import math

import pytest
import torch

import dynamics


def clusters_at(directions: torch.Tensor, sizes: list[int], spread: float) -> torch.Tensor:
    """Tokens in clusters of ``sizes`` around orthonormal ``directions``, each token moved by
    ``spread`` along a fixed other axis (so tokens of a cluster are within angle ~2 spread)."""
    generator = torch.Generator().manual_seed(0)
    tokens = []
    for direction, size in zip(directions, sizes, strict=False):
        noise = spread * torch.randn(size, directions.shape[-1], generator=generator)
        tokens.append(direction + noise.to(directions.dtype))
    return dynamics.normalize(torch.cat(tokens))


def test_pair_collision_fraction_counts_the_collided_pairs():
    """Clusters of 3, 2, 1 tight tokens on orthogonal axes: C(3,2) + C(2,2) = 4 of C(6,2) = 15
    pairs are above 0.999; 0 when every pair is orthogonal; 1 when all coincide."""
    eye = torch.eye(4, dtype=torch.float64)
    x = clusters_at(eye, [3, 2, 1], spread=1e-3)
    assert float(dynamics.pair_collision_fraction(x)) == pytest.approx(4 / 15, abs=1e-15)
    assert float(dynamics.pair_collision_fraction(eye)) == 0.0
    assert float(dynamics.pair_collision_fraction(eye[:1].expand(5, 4))) == 1.0
    assert float(dynamics.pair_collision_fraction(x, cosine=-1.0)) == 1.0
    batch = torch.stack([x, x.flip(0)])
    assert dynamics.pair_collision_fraction(batch).shape == (2,)


def test_span_dimension_is_the_dimension_of_the_tokens_subspace():
    """Tokens drawn in an r-dimensional subspace of R^d span r dimensions; tight clusters on
    r orthogonal axes count r at rtol = 1e-2, and their spread shows at a smaller rtol."""
    generator = torch.Generator().manual_seed(1)
    d, n = 10, 20
    for r in (1, 3, 7):
        basis = torch.linalg.qr(torch.randn(d, r, generator=generator, dtype=torch.float64))[0]
        x = torch.randn(n, r, generator=generator, dtype=torch.float64) @ basis.T
        assert int(dynamics.span_dimension(x)) == r
    clusters = clusters_at(torch.eye(d, dtype=torch.float64)[:3], [4, 4, 4], spread=1e-4)
    assert int(dynamics.span_dimension(clusters)) == 3
    assert int(dynamics.span_dimension(clusters, rtol=1e-6)) > 3
    assert int(dynamics.span_dimension(clusters[:8])) == 2


def test_span_dimension_uses_the_smaller_gram_matrix_either_way():
    """n < d and n > d give the singular-value rank of the direction matrix."""
    generator = torch.Generator().manual_seed(2)
    for n, d in ((5, 9), (9, 5)):
        x = torch.randn(n, d, generator=generator, dtype=torch.float64)
        x[:, -1] = 1e-4 * x[:, 0]  # a direction far below rtol = 1e-2 of the largest
        unit = dynamics.normalize(x)
        expected = int(torch.linalg.matrix_rank(unit, rtol=1e-2))
        assert int(dynamics.span_dimension(x)) == expected


def test_span_dimension_refuses_an_unresolvable_tolerance():
    x = torch.eye(3, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"rtol=1e-06 is not accepted in torch.float32"):
        dynamics.span_dimension(x, rtol=1e-6)
    with pytest.raises(ValueError, match="rtol"):
        dynamics.span_dimension(x, rtol=1.0)


def test_cluster_sizes_and_the_largest_cluster_fraction():
    x = clusters_at(torch.eye(4, dtype=torch.float64), [3, 2, 1], spread=1e-3)
    sizes = dynamics.cluster_sizes(dynamics.cluster_labels(x))
    assert sorted(sizes[sizes > 0].tolist()) == [1, 2, 3]
    assert int(sizes.sum()) == 6
    assert float(dynamics.largest_cluster_fraction(x)) == pytest.approx(0.5, abs=1e-15)
    spread = torch.eye(5, dtype=torch.float64)
    assert float(dynamics.largest_cluster_fraction(spread)) == pytest.approx(1 / 5)
    assert math.isclose(float(dynamics.largest_cluster_fraction(spread[:1].expand(4, 5))), 1.0)
