"""Linear attention against its exact moment equations and its linear flow map."""

from __future__ import annotations

import math

import pytest
import torch

from dynamics import (
    Accelerated,
    AcceleratedLinearAttentionMoments,
    LinearAttention,
    LinearAttentionMoments,
    SelfAttention,
    second_moment,
)
from solvers import integrate
from tests.reference import F64


def attention(generator: torch.Generator) -> LinearAttention:
    """Random Q, K and a contracting V, so that the quadratic moment ODE stays bounded on [0, 1]."""
    query, key = (0.5 * torch.randn(3, 3, generator=generator, dtype=F64) for _ in range(2))
    value = -torch.eye(3, dtype=F64) + 0.3 * torch.randn(3, 3, generator=generator, dtype=F64)
    return LinearAttention(3, query=query, key=key, value=value)


def gaussian_cloud(
    n: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n samples of N(m, S) and the law's m and second moment S + m m^T."""
    mean = torch.tensor([0.5, -0.3, 0.2], dtype=F64)
    root = torch.tensor([[1.0, 0.0, 0.0], [0.4, 0.8, 0.0], [-0.2, 0.3, 0.6]], dtype=F64)
    x = mean + torch.randn(n, 3, generator=generator, dtype=F64) @ root.T
    return x, mean, root @ root.T + torch.outer(mean, mean)


def test_field_is_the_dense_formula(generator):
    field = attention(generator)
    x = torch.randn(2, 30, 3, generator=generator, dtype=F64)
    q, k, v = x @ field.query.T, x @ field.key.T, x @ field.value.T
    torch.testing.assert_close(field(0.0, x), (q @ k.transpose(-1, -2)) @ v / 30)


def test_empirical_moments_follow_the_moment_ode_exactly(generator):
    """For any finite cloud the empirical (m, M) solve the closed ODE: agreement to tolerance."""
    field = attention(generator)
    x0, _, _ = gaussian_cloud(500, generator)
    t = torch.linspace(0, 1, 5, dtype=F64)
    xs = integrate(field, x0, t, rtol=1e-10, atol=1e-12)
    means, moments = integrate(
        LinearAttentionMoments(field), (x0.mean(0), second_moment(x0)), t, rtol=1e-10, atol=1e-12
    )
    torch.testing.assert_close(xs.mean(1), means, atol=1e-8, rtol=0)
    torch.testing.assert_close(second_moment(xs), moments, atol=1e-8, rtol=0)
    assert (moments[-1] - moments[0]).abs().max() > 0.1  # the moments really moved


def test_law_moments_match_particles_within_sampling_error(generator):
    n = 20_000
    field = attention(generator)
    x0, mean, moment = gaussian_cloud(n, generator)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    xs = integrate(field, x0, t, rtol=1e-8, atol=1e-10)
    means, moments = integrate(
        LinearAttentionMoments(field), (mean, moment), t, rtol=1e-10, atol=1e-12
    )
    bound = 4 / math.sqrt(n)
    assert (xs[-1].mean(0) - means[-1]).abs().max() < bound
    assert (second_moment(xs[-1]) - moments[-1]).abs().max() < bound


def linear_fit_residual(start: torch.Tensor, end: torch.Tensor) -> float:
    """How far ``end`` is from a linear image start @ Phi^T (least squares, relative)."""
    phi = torch.linalg.lstsq(start, end).solution
    return ((start @ phi - end).norm() / end.norm()).item()


def test_flow_map_is_linear_so_elliptical_laws_stay_elliptical(generator):
    field = attention(generator)
    x0, _, _ = gaussian_cloud(2000, generator)
    xs = integrate(field, x0, [0.0, 1.0], rtol=1e-10, atol=1e-12)
    assert linear_fit_residual(x0, xs[-1]) < 1e-9
    softmax = SelfAttention(3, beta=1.0, manifold="euclidean")  # the contrast: not linear
    ys = integrate(softmax, x0, [0.0, 1.0], rtol=1e-8, atol=1e-10)
    assert linear_fit_residual(x0, ys[-1]) > 1e-3


@pytest.mark.parametrize(("damping", "options"), [("heavy_ball", {"gamma": 0.8}), ("nesterov", {})])
def test_accelerated_moments_follow_the_joint_moment_ode(damping, options, generator):
    field = Accelerated(attention(generator), damping=damping, **options)
    x0, _, _ = gaussian_cloud(400, generator)
    v0 = 0.3 * torch.randn(400, 3, generator=generator, dtype=F64)
    t = torch.linspace(0, 1, 3, dtype=F64)
    xs, vs = integrate(field, (x0, v0), t, rtol=1e-10, atol=1e-12)
    start = (x0.mean(0), v0.mean(0), second_moment(x0), second_moment(x0, v0), second_moment(v0))
    moments = integrate(AcceleratedLinearAttentionMoments(field), start, t, rtol=1e-10, atol=1e-12)
    observed = (xs.mean(1), vs.mean(1), second_moment(xs), second_moment(xs, vs), second_moment(vs))
    for got, expected in zip(observed, moments, strict=True):
        torch.testing.assert_close(got, expected, atol=1e-8, rtol=0)
    # (x, v) -> (x(t), v(t)) is linear as well
    assert linear_fit_residual(torch.cat([x0, v0], -1), torch.cat([xs[-1], vs[-1]], -1)) < 1e-9


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"value has shape \(2, 3\)"):
        LinearAttention(3, value=torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"they must match"):
        LinearAttention(3, query=torch.ones(2, 3), key=torch.ones(4, 3))
    with pytest.raises(TypeError, match=r"needs Accelerated\(LinearAttention"):
        AcceleratedLinearAttentionMoments(Accelerated(SelfAttention(3, manifold="euclidean")))
