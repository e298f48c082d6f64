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


def gram_count(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """The definition: #{eigenvalues of U U^T (n x n) > threshold}, by eigvalsh in float64."""
    unit = dynamics.normalize(x.double())
    return (torch.linalg.eigvalsh(unit @ unit.mT) > threshold).sum(-1)


@pytest.mark.parametrize(
    ("labels", "error", "pattern"),
    [
        (torch.tensor([0, 5, 1]), ValueError, r"\[0, 3\).* values from 0 to 5"),
        (torch.tensor([[0, -1], [0, 0]]), ValueError, r"values from -1 to 0"),
        (torch.tensor([0.0, 1.0]), TypeError, r"torch.long tensor .* got torch.float32"),
    ],
)
def test_cluster_sizes_refuse_labels_that_are_not_token_indices(labels, error, pattern):
    with pytest.raises(error, match=pattern):
        dynamics.cluster_sizes(labels)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("d", [8, 64])
def test_span_dimension_counts_tight_clusters_in_general_position(dtype, d):
    """k tight clusters (angle ~1e-4) around random centres span k dimensions, with n = 32 tokens
    in d = 8 < n (the d x d Gram matrix) and d = 64 > n (the n x n one)."""
    generator = torch.Generator().manual_seed(1)
    for k in range(1, 7):
        centres = torch.randn(k, d, generator=generator, dtype=torch.float64)
        centres = torch.linalg.qr(centres.T)[0].T  # k orthonormal directions
        mixed = torch.randn(k, k, generator=generator, dtype=torch.float64) @ centres
        for directions in (centres, mixed):  # orthogonal and in general position
            x = clusters_at(directions, [32 // k] * (k - 1) + [32 - (k - 1) * (32 // k)], 1e-4)
            assert int(dynamics.span_dimension(x.to(dtype))) == k


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("d", [2, 40])
def test_span_dimension_thresholds_between_known_eigenvalues(dtype, d):
    """n tokens at angles +-a from e_1 in the plane (e_1, e_2): U^T U = diag(n cos^2 a,
    n sin^2 a), so the count is 2 below n sin^2 a, 1 between it and n cos^2 a, 0 above (up to
    n); and coinciding tokens in clusters of 5, 3, 1 on orthogonal axes: U U^T = diag(J_5, J_3,
    J_1), with eigenvalues 5, 3, 1 and 0."""
    n, a = 24, 0.05
    sides = torch.tensor([1.0, -1.0], dtype=torch.float64).repeat(n // 2)
    x = torch.zeros(n, d, dtype=torch.float64)
    x[:, 0], x[:, 1] = math.cos(a), sides * math.sin(a)
    small, large = n * math.sin(a) ** 2, n * math.cos(a) ** 2
    for threshold, expected in ((0.9 * small, 2), (1.1 * small, 1), (0.99 * large, 1)):
        assert int(dynamics.span_dimension(x.to(dtype), threshold)) == expected
    assert int(dynamics.span_dimension(x.to(dtype), (large + n) / 2)) == 0  # below n
    if d < 3:
        return
    axes = torch.eye(d, dtype=torch.float64)
    clusters = torch.cat([axes[0].expand(5, d), axes[1].expand(3, d), axes[2].expand(1, d)])
    for threshold, expected in ((1e-3, 3), (0.5, 3), (2.0, 2), (4.0, 1), (6.0, 0)):
        assert int(dynamics.span_dimension(clusters.to(dtype), threshold)) == expected


@pytest.mark.parametrize("n, d", [(12, 30), (30, 12)])
def test_span_dimension_is_the_count_of_the_gram_eigenvalues_either_way(n, d):
    """Clouds in r-dimensional subspaces, batched, with n < d and n > d: the count of
    eigenvalues of U U^T above the threshold, and r at the default; the same from the cosines
    when the caller has them."""
    generator = torch.Generator().manual_seed(2)
    for r in (1, 3, 7):
        basis = torch.linalg.qr(torch.randn(d, r, generator=generator, dtype=torch.float64))[0]
        x = torch.randn(4, n, r, generator=generator, dtype=torch.float64) @ basis.T
        assert torch.equal(dynamics.span_dimension(x), torch.full((4,), r))
        cosines = dynamics.pairwise_cosines(x)
        kept = cosines.clone()
        for threshold in (0.05, 0.5, 2.0):
            expected = gram_count(x, threshold)
            assert torch.equal(dynamics.span_dimension(x, threshold), expected)
            assert torch.equal(dynamics.span_dimension(x, threshold, cosines=cosines), expected)
        assert torch.equal(cosines, kept)  # the caller's cosines are left as they were


def test_span_dimension_refuses_an_unresolvable_threshold():
    """The threshold must be in [10 eps n, n): 10 eps n = 3.8e-5 for n = 32 in float32, and
    the default 1e-3 passes up to n = 838 in float32."""
    x = torch.eye(32, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"threshold=1e-05 is not accepted for n=32 in torch.flo"):
        dynamics.span_dimension(x, threshold=1e-5)
    assert int(dynamics.span_dimension(x, threshold=4e-5)) == 32
    assert int(dynamics.span_dimension(x.double(), threshold=1e-5)) == 32
    with pytest.raises(ValueError, match=r"threshold=32.0 .* expected .* <= threshold < 32"):
        dynamics.span_dimension(x, threshold=32.0)
    with pytest.raises(ValueError, match=r"threshold=0.0 must be > 0"):
        dynamics.span_dimension(x, threshold=0.0)
    with pytest.raises(TypeError, match="threshold='1e-3' must be a real number"):
        dynamics.span_dimension(x, threshold="1e-3")
    assert dynamics.check_span_threshold(1e-3, 838, torch.float32) == 1e-3
    with pytest.raises(ValueError, match=r"n=839 in torch.float32; .* or float64 tokens"):
        dynamics.check_span_threshold(1e-3, 839, torch.float32)


def test_cluster_sizes_and_the_largest_cluster_fraction():
    x = clusters_at(torch.eye(4, dtype=torch.float64), [3, 2, 1], spread=1e-3)
    sizes = dynamics.cluster_sizes(dynamics.cluster_labels(x))
    assert sorted(sizes[sizes > 0].tolist()) == [1, 2, 3]
    assert int(sizes.sum()) == 6
    assert float(dynamics.largest_cluster_fraction(x)) == pytest.approx(0.5, abs=1e-15)
    spread = torch.eye(5, dtype=torch.float64)
    assert float(dynamics.largest_cluster_fraction(spread)) == pytest.approx(1 / 5)
    assert math.isclose(float(dynamics.largest_cluster_fraction(spread[:1].expand(4, 5))), 1.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_span_dimension_of_one_tight_cluster_needs_no_factorisation(dtype):
    """Clusters of n = 16 tokens within angle a of a centre, a from 1e-3 to 0.1, batched: with
    the cosines given, the clouds whose cosines all exceed 1 - threshold / (n - 1) count 1 by the
    trace bound, the others by the factorisation; all equal the eigenvalue count (and so do the
    single-cloud call and the call without cosines)."""
    generator = torch.Generator().manual_seed(5)
    n, d, threshold = 16, 6, 1e-3
    spreads = torch.tensor([1e-3, 2e-3, 3e-3, 1e-2, 3e-2, 0.1], dtype=torch.float64)
    centre = torch.zeros(d, dtype=torch.float64)
    centre[0] = 1.0
    offsets = torch.randn(len(spreads), n, d, generator=generator, dtype=torch.float64)
    offsets[..., 0] = 0.0
    offsets = offsets / torch.linalg.vector_norm(offsets, dim=-1, keepdim=True)
    x = (centre + spreads[:, None, None] * offsets).to(dtype)
    cosines = dynamics.pairwise_cosines(x)
    shortcut = cosines.flatten(-2).amin(-1) >= 1 - threshold / (n - 1)
    assert bool(shortcut.any()) and not bool(shortcut.all())
    expected = gram_count(x, threshold)
    assert int(expected.max()) > 1
    assert torch.equal(dynamics.span_dimension(x, threshold, cosines=cosines), expected)
    assert torch.equal(dynamics.span_dimension(x, threshold), expected)
    assert int(dynamics.span_dimension(x[0], threshold, cosines=cosines[0])) == 1
