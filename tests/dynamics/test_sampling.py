"""Samplers of initial measures against their laws: Bessel-ratio means, the exact vMF law on S^2,
Gaussian moments, and the geometry of spread centres."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.special import ive

from dynamics import (
    cluster_count,
    cluster_labels,
    gaussian,
    separated_groups,
    sphere_mixture,
    spread_directions,
    uniform_sphere,
    von_mises_fisher,
)
from tests.reference import F64

# Deterministic seeds make every statistical check below reproducible; bounds are 4 standard
# errors (a fresh seed would fail one check in about 16 000).
SIGMAS = 4.0


def mean_resultant_length(d: int, kappa: float) -> float:
    """A_d(kappa) = I_{d/2}(kappa) / I_{d/2-1}(kappa) = E<x, mu> under vMF(mu, kappa) on S^{d-1}
    (the exponentially scaled Bessel functions ive have the same ratio)."""
    return float(ive(d / 2, kappa) / ive(d / 2 - 1, kappa)) if kappa > 0 else 0.0


def assert_mean_within_sampling_error(samples: torch.Tensor, expected: torch.Tensor) -> None:
    """Each coordinate of the sample mean within SIGMAS standard errors of ``expected``."""
    n = samples.shape[0]
    error = samples.mean(0) - expected
    standard_error = samples.std(0) / math.sqrt(n)
    assert bool((error.abs() <= SIGMAS * standard_error).all()), (error, standard_error)


def unit(v: list[float]) -> torch.Tensor:
    tensor = torch.tensor(v, dtype=F64)
    return tensor / tensor.norm()


@pytest.mark.parametrize(
    ("d", "kappa"), [(2, 1.0), (3, 0.5), (3, 10.0), (5, 2.0), (16, 40.0), (3, 1e5)]
)
def test_von_mises_fisher_mean_is_the_bessel_ratio(d, kappa, generator):
    """E<x, mu> = A_d(kappa), and the part of x orthogonal to mu has mean 0."""
    mu = unit([1.0] + [0.5] * (d - 1))
    x = von_mises_fisher(20_000, mu, kappa, generator=generator, dtype=F64)
    assert x.shape == (20_000, d)
    assert (torch.linalg.vector_norm(x, dim=-1) - 1).abs().max() < 1e-14
    cosine = x @ mu
    expected = torch.tensor([mean_resultant_length(d, kappa)], dtype=F64)
    assert_mean_within_sampling_error(cosine[:, None], expected)
    assert_mean_within_sampling_error(x - cosine[:, None] * mu, torch.zeros(d, dtype=F64))


def test_von_mises_fisher_on_s2_has_the_exact_law(generator):
    """On S^2 the cosine W = <x, mu> has density kappa e^{kappa w} / (2 sinh kappa) on [-1, 1],
    CDF F(w) = expm1(kappa (w + 1)) / expm1(2 kappa). Kolmogorov-Smirnov: sqrt(n) D < 1.95
    (the 0.1% level)."""
    kappa, n = 3.0, 20_000
    mu = unit([0.0, 0.6, -0.8])
    w = (von_mises_fisher(n, mu, kappa, generator=generator, dtype=F64) @ mu).sort().values
    cdf = torch.expm1(kappa * (w + 1)) / math.expm1(2 * kappa)
    steps = torch.arange(n + 1, dtype=F64) / n
    distance = torch.maximum(steps[1:] - cdf, cdf - steps[:-1]).max()
    assert math.sqrt(n) * distance < 1.95


def test_kappa_zero_is_uniform(generator):
    """E[x x^T] = I / d for the uniform law on S^{d-1}."""
    d, n = 4, 20_000
    x = von_mises_fisher(n, unit([1.0, 2.0, 0.0, -1.0]), 0.0, generator=generator, dtype=F64)
    outer = (x[:, :, None] * x[:, None, :]).reshape(n, d * d)
    assert_mean_within_sampling_error(outer, torch.eye(d, dtype=F64).reshape(-1) / d)


def test_huge_kappa_is_stable_in_float32(generator):
    """kappa = 1e8: the angle to mu has E[theta^2] ~ (d - 1) / kappa; in float32 the cosine
    W = 1 - 1e-8 is not representable but sqrt(1 - W^2) is computed without cancellation."""
    d, kappa = 3, 1e8
    mu = unit([1.0, 1.0, 1.0]).float()
    x = von_mises_fisher(4000, mu, kappa, generator=generator)
    assert x.dtype == torch.float32 and torch.isfinite(x).all()
    tangent = x - (x @ mu)[:, None] * mu
    rms_angle = tangent.norm(dim=-1).pow(2).mean().sqrt()
    assert abs(rms_angle / math.sqrt((d - 1) / kappa) - 1) < 0.05


def test_samplers_are_reproducible_and_follow_dtype_and_batch_shape():
    mu = torch.tensor([0.0, 0.0, 1.0], dtype=F64)

    def draw(seed):
        generator = torch.Generator().manual_seed(seed)
        return von_mises_fisher(5, mu, 2.0, batch_shape=(2, 3), generator=generator)

    assert draw(7).shape == (2, 3, 5, 3) and draw(7).dtype == F64  # mean_direction's dtype
    assert torch.equal(draw(7), draw(7)) and not torch.equal(draw(7), draw(8))
    assert von_mises_fisher(4, [1.0, 0.0], 1.0, dtype=F64).dtype == F64
    assert von_mises_fisher(4, mu, 1.0, dtype=torch.float32).dtype == torch.float32
    assert gaussian(3, mu, torch.eye(3, dtype=F64), batch_shape=(4,)).shape == (4, 3, 3)
    assert sphere_mixture(6, torch.eye(3), 5.0, batch_shape=(2,)).shape == (2, 6, 3)
    assert separated_groups(6, 2, 3, spread=0.1, batch_shape=(2,), dtype=F64).dtype == F64


def test_mixture_mean_and_component_fractions(generator):
    """E[x] = sum_c w_c A_d(kappa_c) mu_c; with far-apart concentrated components, the fraction
    of points nearest mu_c is w_c within binomial sampling error."""
    d, n = 3, 20_000
    directions = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]], dtype=F64)
    kappas = torch.tensor([0.5, 4.0, 60.0], dtype=F64)
    weights = torch.tensor([0.2, 0.3, 0.5], dtype=F64)
    x = sphere_mixture(n, directions, kappas, weights, generator=generator)
    lengths = torch.tensor([mean_resultant_length(d, float(k)) for k in kappas], dtype=F64)
    mean = (weights * lengths) @ directions
    assert_mean_within_sampling_error(x, mean)
    y = sphere_mixture(n, directions, 200.0, weights, generator=generator)
    fractions = torch.bincount((y @ directions.T).argmax(-1), minlength=3) / n
    bound = SIGMAS * torch.sqrt(weights * (1 - weights) / n)
    assert bool(((fractions - weights).abs() <= bound).all()), fractions


def test_gaussian_mean_and_covariance_within_sampling_error(generator):
    """Sample mean within 4 SE; sample covariance entries within 4 SE, the variance of the
    estimate of S_ij being (S_ii S_jj + S_ij^2) / n for a Gaussian."""
    n = 20_000
    mean = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    root = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.5, 0.0], [-0.3, 0.2, 0.3]], dtype=F64)
    covariance = root @ root.T
    x = gaussian(n, mean, covariance, generator=generator)
    assert_mean_within_sampling_error(x, mean)
    centred = x - mean
    sample = centred.T @ centred / n
    diagonal = covariance.diagonal()
    standard_error = torch.sqrt((diagonal[:, None] * diagonal[None, :] + covariance**2) / n)
    assert bool(((sample - covariance).abs() <= SIGMAS * standard_error).all())


def test_singular_covariance_gives_a_degenerate_gaussian(generator):
    """S = u u^T: every sample lies on the line mean + R u."""
    u = unit([1.0, -2.0, 2.0])
    x = gaussian(100, torch.zeros(3, dtype=F64), torch.outer(u, u), generator=generator)
    residual = x - (x @ u)[:, None] * u
    assert residual.abs().max() < 1e-14 and (x @ u).std() > 0.5


@pytest.mark.parametrize(
    ("k", "d", "cosine"),
    [
        (2, 3, -1.0),  # antipodal
        (4, 3, -1 / 3),  # regular tetrahedron
        (5, 4, -1 / 4),  # regular simplex, k = d + 1
        (3, 5, -1 / 2),  # simplex in a subspace
        (7, 2, math.cos(2 * math.pi / 7)),  # roots of unity
        (6, 3, 0.0),  # octahedron
        (7, 4, 0.0),  # part of the cross-polytope: right angles are optimal for d + 1 < k <= 2d
        (12, 3, 1 / math.sqrt(5)),  # Riesz repulsion finds the icosahedron (to 1e-4)
    ],
)
def test_spread_directions_reach_the_optimal_separation(k, d, cosine):
    x = spread_directions(k, d, dtype=F64)
    assert x.shape == (k, d)
    torch.testing.assert_close(x.norm(dim=-1), torch.ones(k, dtype=F64), rtol=0, atol=1e-15)
    gram = (x @ x.T).fill_diagonal_(-2.0)
    assert abs(float(gram.max()) - cosine) < (1e-12 if k <= 2 * d else 1e-4)


@pytest.mark.parametrize(("k", "tammes_degrees"), [(7, 77.87), (8, 74.86), (24, 43.69)])
def test_repulsion_is_near_the_best_known_packing(k, tammes_degrees):
    """Best known minimum angles of k points on S^2 (Tammes problem): within 1%."""
    x = spread_directions(k, 3, dtype=F64)
    gram = (x @ x.T).fill_diagonal_(-2.0)
    angle = math.degrees(math.acos(float(gram.max())))
    assert tammes_degrees * 0.99 <= angle <= tammes_degrees * 1.0001


@pytest.mark.parametrize(("k", "d"), [(1, 3), (3, 2), (4, 3), (7, 3), (10, 5)])
def test_separated_groups_are_found_by_cluster_count(k, d, generator):
    n = 5 * k + 2  # groups of unequal sizes
    x = separated_groups(n, k, d, spread=0.01, batch_shape=(2,), generator=generator, dtype=F64)
    assert cluster_count(x, tol=1e-2).tolist() == [k, k]
    group = torch.arange(n) * k // n
    first_of_group = torch.searchsorted(group, group)  # token i's group starts here
    assert torch.equal(cluster_labels(x, tol=1e-2), first_of_group.expand(2, n))


def test_group_spread_is_the_rms_angle(generator):
    """kappa = (d - 1) / spread^2: E<x, centre> = A_d(kappa) exactly, and the root-mean-square
    angle is spread up to O(spread^2)."""
    d, spread, n = 3, 0.05, 20_000
    x = separated_groups(n, 1, d, spread=spread, generator=generator, dtype=F64)
    centre = spread_directions(1, d, dtype=F64)[0]
    cosine = x @ centre
    kappa = (d - 1) / spread**2
    expected = torch.tensor([mean_resultant_length(d, kappa)], dtype=F64)
    assert_mean_within_sampling_error(cosine[:, None], expected)
    rms_angle = torch.arccos(cosine.clamp(max=1.0)).pow(2).mean().sqrt()
    assert abs(rms_angle / spread - 1) < 0.02


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: von_mises_fisher(0, [1.0, 0.0], 1.0), ValueError, r"n=0 must be >= 1"),
        (lambda: von_mises_fisher(3, [1.0, 0.0], -1.0), ValueError, r"kappa=-1.0 must be >= 0"),
        (
            lambda: von_mises_fisher(3, [0.0, 0.0], 1.0),
            ValueError,
            r"mean_direction must be nonzero",
        ),
        (lambda: von_mises_fisher(3, [1.0], 1.0), ValueError, r"R\^1; the sphere needs d >= 2"),
        (
            lambda: von_mises_fisher(3, [[1.0, 0.0]], 1.0),
            ValueError,
            r"mean_direction has shape \(1, 2\)",
        ),
        (lambda: von_mises_fisher(3, "north", 1.0), TypeError, r"mean_direction='north'"),
        (
            lambda: von_mises_fisher(3, [1.0, math.nan], 1.0),
            ValueError,
            r"mean_direction must be finite",
        ),
        (lambda: von_mises_fisher(3, [1.0, 0.0], 1.0, batch_shape=2), TypeError, r"batch_shape=2"),
        (
            lambda: sphere_mixture(3, torch.eye(2), [1.0], None),
            ValueError,
            r"kappas must be one real >= 0 or 2",
        ),
        (
            lambda: sphere_mixture(3, torch.eye(2), 1.0, torch.tensor([0.5, 0.6])),
            ValueError,
            r"weights must sum to 1",
        ),
        (
            lambda: sphere_mixture(3, torch.eye(2), 1.0, torch.tensor([1.5, -0.5])),
            ValueError,
            r"weights must be finite and >= 0",
        ),
        (
            lambda: sphere_mixture(3, torch.eye(2), 1.0, torch.ones(3) / 3),
            ValueError,
            r"weights has shape \(3,\); expected \(..., 2\)",
        ),
        (
            lambda: gaussian(3, torch.zeros(2), torch.eye(3)),
            ValueError,
            r"covariance has shape \(3, 3\); expected \(2, 2\)",
        ),
        (
            lambda: gaussian(3, torch.zeros(2), torch.tensor([[1.0, 0.5], [0.0, 1.0]])),
            ValueError,
            r"covariance must be symmetric",
        ),
        (
            lambda: gaussian(3, torch.zeros(2), -torch.eye(2)),
            ValueError,
            r"positive semi-definite, got eigenvalue -1",
        ),
        (
            lambda: separated_groups(3, 4, 3, spread=0.1),
            ValueError,
            r"k=4 groups need at least k tokens, got n=3",
        ),
        (lambda: separated_groups(8, 2, 3, spread=0.0), ValueError, r"spread=0.0 must be > 0"),
        (lambda: spread_directions(3, 1), ValueError, r"d=1 must be >= 2"),
    ],
)
def test_bad_arguments_are_refused(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# Issue 14: every sampler refuses a non-floating dtype, a negative batch size and a generator
# that is not one, in one line naming the argument, instead of a raw torch error.
SAMPLERS = {
    "uniform_sphere": lambda **kw: uniform_sphere(4, 3, **kw),
    "von_mises_fisher": lambda **kw: von_mises_fisher(4, [1.0, 0.0, 0.0], 1.0, **kw),
    "sphere_mixture": lambda **kw: sphere_mixture(4, torch.eye(3), 1.0, **kw),
    "gaussian": lambda **kw: gaussian(4, torch.zeros(3), torch.eye(3), **kw),
    "separated_groups": lambda **kw: separated_groups(4, 2, 3, spread=0.1, **kw),
}


@pytest.mark.parametrize("sampler", SAMPLERS.values(), ids=SAMPLERS)
@pytest.mark.parametrize(
    ("argument", "error", "pattern"),
    [
        ({"dtype": torch.int64}, TypeError, r"dtype=torch.int64 must be a real floating"),
        ({"dtype": torch.complex64}, TypeError, r"dtype=torch.complex64 must be a real floating"),
        ({"dtype": "float32"}, TypeError, r"dtype='float32' must be a real floating"),
        ({"batch_shape": (-1,)}, ValueError, r"batch_shape=\(-1,\) must hold integers >= 0"),
        ({"batch_shape": (2.5,)}, TypeError, r"batch_shape=\(2.5,\) must hold integers >= 0"),
        ({"generator": 3}, TypeError, r"generator=3 must be a torch.Generator or None"),
    ],
)
def test_every_sampler_refuses_a_bad_dtype_batch_shape_or_generator(
    sampler, argument, error, pattern
):
    with pytest.raises(error, match=pattern):
        sampler(**argument)


def test_spread_directions_refuses_an_integer_dtype():
    with pytest.raises(TypeError, match=r"dtype=torch.int64 must be a real floating"):
        spread_directions(4, 3, dtype=torch.int64)
