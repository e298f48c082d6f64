"""The Gaussian closure of softmax attention against Monte-Carlo fields and particle solutions."""

from __future__ import annotations

import math

import pytest
import torch

from dynamics import GaussianAttentionMoments, SelfAttention
from solvers import integrate
from tests.reference import F64

MEAN = torch.tensor([0.5, -0.3, 0.2], dtype=F64)
ROOT = torch.tensor([[0.8, 0.0, 0.0], [0.3, 0.6, 0.0], [-0.2, 0.2, 0.5]], dtype=F64)


def attention(generator: torch.Generator, heads: int) -> SelfAttention:
    """Random Q, K per head, a contracting V, beta = 0.7: Euclidean softmax attention in R^3."""
    shape = (heads, 3, 3) if heads > 1 else (3, 3)
    query, key = (0.6 * torch.randn(*shape, generator=generator, dtype=F64) for _ in range(2))
    value = -torch.eye(3, dtype=F64) + 0.3 * torch.randn(3, 3, generator=generator, dtype=F64)
    return SelfAttention(
        3, beta=0.7, query=query, key=key, value=value, heads=heads, manifold="euclidean"
    )


def gaussian_samples(n: int, generator: torch.Generator) -> torch.Tensor:
    return MEAN + torch.randn(n, 3, generator=generator, dtype=F64) @ ROOT.T


def monte_carlo_field(
    field: SelfAttention, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The particle field of the samples y at the points x (the empirical measure's X(x)) and its
    delta-method standard error sqrt(sum_j w_j^2 (V y_j - X_h)^2) (w_j the softmax weights) per
    head and component, summed over heads (sd(X + Y) <= sd(X) + sd(Y): the heads share samples)."""
    query, key = field.query.expand(field.heads, 3, 3), field.key.expand(field.heads, 3, 3)
    logits = (
        field.beta * (x @ query.transpose(-1, -2)) @ (y @ key.transpose(-1, -2)).transpose(-1, -2)
    )
    weights = torch.softmax(logits, dim=-1)  # (heads, points, samples)
    values = y @ field.value.T
    estimate = weights @ values
    spread = (weights**2) @ values**2 - 2 * estimate * ((weights**2) @ values)
    spread = spread + estimate**2 * (weights**2).sum(-1, keepdim=True)
    return estimate.sum(0), spread.clamp_min(0).sqrt().sum(0)


@pytest.mark.parametrize("heads", [1, 2])
def test_field_is_the_mean_field_of_gaussian_samples(heads, generator):
    """X(x) = b + A x against the empirical field of n = 2 * 10^5 samples at 16 points: every
    component within 5 delta-method standard errors (each about 1/sqrt(n) = 2.2e-3)."""
    field = attention(generator, heads)
    closure = GaussianAttentionMoments(field)
    n = 200_000
    samples = gaussian_samples(n, generator)
    points = gaussian_samples(16, generator)
    estimate, error = monte_carlo_field(field, points, samples)
    exact = closure.velocity(points, MEAN, ROOT @ ROOT.T)
    assert float(error.max()) < 5 / math.sqrt(n)
    assert bool(((exact - estimate).abs() <= 5 * error).all()), (exact - estimate).abs() / error
    # the affine part is not negligible: the tilting S K^T Q x matters
    assert float((exact - exact.mean(0)).abs().max()) > 30 * float(error.max())


def test_self_attention_on_a_gaussian_cloud_is_near_the_closure(generator):
    """SelfAttention's field on 4000 samples of N(m, S), at the samples themselves, differs from
    the closure only by sampling error: mean absolute difference below 4 / sqrt(n)."""
    field = attention(generator, 1)
    x = gaussian_samples(4000, generator)
    closure = GaussianAttentionMoments(field).velocity(x, MEAN, ROOT @ ROOT.T)
    difference = (field(0.0, x) - closure).abs()
    assert float(difference.mean()) < 4 / math.sqrt(4000)


def moments_after(n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    field = attention(generator, 1)
    x0 = gaussian_samples(n, generator)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    xs = integrate(field, x0, t, rtol=1e-6, atol=1e-8)
    means, covariances = integrate(
        GaussianAttentionMoments(field), (MEAN, ROOT @ ROOT.T), t, rtol=1e-10, atol=1e-12
    )
    centred = xs[-1] - xs[-1].mean(0)
    return xs[-1].mean(0), centred.T @ centred / n, means[-1], covariances[-1], covariances[0]


def check_moments(n: int, generator: torch.Generator) -> None:
    mean, covariance, law_mean, law_covariance, start = moments_after(n, generator)
    bound = 4 / math.sqrt(n)
    assert float((mean - law_mean).abs().max()) < bound
    assert float((covariance - law_covariance).abs().max()) < bound
    assert float((law_covariance - start).abs().max()) > 2 * bound  # the covariance moved


def test_moment_ode_matches_particles(generator):
    """n = 2000 particles from N(m, S) to t = 1: mean and covariance within 4 / sqrt(n) (measured
    0.2 / sqrt(n) and 0.9 / sqrt(n); the covariance moves by 8.8 / sqrt(n))."""
    check_moments(2000, generator)


@pytest.mark.slow
def test_moment_ode_matches_many_particles(generator):
    """The issue's check at n = 2 * 10^4: within 4 / sqrt(n) = 0.028."""
    check_moments(20_000, generator)


def test_covariance_stays_symmetric_and_beta_scales_the_tilt(generator):
    field = attention(generator, 1)
    closure = GaussianAttentionMoments(field)
    covariance = ROOT @ ROOT.T
    _, rate = closure(0.0, (MEAN, covariance))
    torch.testing.assert_close(rate, rate.T, rtol=0, atol=1e-15)
    shift, matrix = closure.affine(MEAN, covariance)
    value = field.value
    torch.testing.assert_close(shift, value @ MEAN)
    expected = 0.7 * value @ covariance @ field.key.T @ field.query
    torch.testing.assert_close(matrix, expected)


def test_bad_attention_is_refused():
    with pytest.raises(ValueError, match="manifold='euclidean'"):
        GaussianAttentionMoments(SelfAttention(3))
    with pytest.raises(ValueError, match="normalization='softmax'"):
        GaussianAttentionMoments(SelfAttention(3, normalization="uniform", manifold="euclidean"))
    with pytest.raises(ValueError, match="causal=False"):
        GaussianAttentionMoments(SelfAttention(3, causal=True, manifold="euclidean"))
    with pytest.raises(TypeError, match="needs a SelfAttention"):
        GaussianAttentionMoments(torch.nn.Linear(3, 3))
