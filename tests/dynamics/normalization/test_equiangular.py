"""The equiangular reductions (rho, r) of the normalization schemes against the particles, the
Post-LN reference, the Pre-LN radius quadrature, and the clustering rates near one cluster."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dynamics
import solvers
from dynamics.normalization import (
    EQUIANGULAR_SCHEMES,
    FLOWS,
    EquiangularFlow,
    attention_moments,
    clustering_rate,
    equiangular_cloud,
)
from tests.reference import equiangular_rho

F64 = torch.float64
NORMALIZATIONS = ("softmax", "uniform")


def solve_reduced(scheme, n, beta, normalization, rho0, r0, times, **tolerances):
    y0 = torch.tensor([rho0, r0], dtype=F64)
    field = EquiangularFlow(scheme, n, beta, normalization)
    return solvers.integrate(field, y0, times, **(tolerances or {"rtol": 1e-12, "atol": 1e-13}))


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("scheme", EQUIANGULAR_SCHEMES)
def test_reduced_ode_matches_the_particles_to_1e_6(scheme, normalization, generator):
    """n = 5 tokens in R^7 with cosines 0.2 and radius 1.3 (Post-LN and nGPT: radius 1), both
    solved by dopri5 at rtol 1e-12: every pairwise cosine equals rho(t) and every radius r(t)
    to 1e-6 (measured: 2e-11)."""
    n, d, beta, rho0 = 5, 7, 1.5, 0.2
    r0 = 1.0 if FLOWS[scheme].geometry is dynamics.SPHERE else 1.3
    x0 = equiangular_cloud(n, d, rho0, radius=r0, generator=generator)
    times = torch.linspace(0.0, 3.0, 7, dtype=F64)
    field = dynamics.SelfAttention(d, beta=beta, normalization=normalization, manifold="euclidean")
    particles = solvers.integrate(FLOWS[scheme](field), x0, times, rtol=1e-12, atol=1e-13)
    reduced = solve_reduced(scheme, n, beta, normalization, rho0, r0, times)
    cosines = dynamics.pairwise_cosines(particles)[:, ~torch.eye(n, dtype=torch.bool)]
    radii = torch.linalg.vector_norm(particles, dim=-1)
    assert float((cosines - reduced[:, :1]).abs().max()) < 1e-6
    assert float((radii - reduced[:, 1:]).abs().max()) < 1e-6
    assert float(reduced[-1, 0] - rho0) > 0.3  # the clouds did move


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_post_ln_reduction_is_the_known_equiangular_ode(normalization):
    n, beta = 6, 2.0
    times = torch.linspace(0.0, 2.0, 5, dtype=F64)
    reduced = solve_reduced("post_ln", n, beta, normalization, 0.1, 1.0, times)
    expected = equiangular_rho(n, beta, 0.1, times, normalization)
    torch.testing.assert_close(reduced[:, 0], expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_pre_ln_radius_is_the_quadrature_of_rho(normalization):
    """dr / drho = r m / (2 w (1 - rho)(1 + (n - 1) rho)), free of c: log(r / r0) equals the
    integral from rho0 to rho(t), by 64-point Gauss-Legendre, for SA and USA alike."""
    n, beta, rho0, r0 = 7, 1.2, 0.05, 0.9
    times = torch.tensor([0.0, 0.5, 1.5, 4.0], dtype=F64)
    reduced = solve_reduced("pre_ln", n, beta, normalization, rho0, r0, times)
    nodes, weights = np.polynomial.legendre.leggauss(64)
    for rho, radius in reduced[1:].tolist():
        points = torch.tensor(rho0 + (rho - rho0) * (nodes + 1) / 2, dtype=F64)
        _, w, m, _ = attention_moments(points, n, beta, normalization)
        slope = m / (2 * w * (1 - points) * (1 + (n - 1) * points))
        integral = (rho - rho0) / 2 * float((torch.tensor(weights) * slope).sum())
        assert math.log(radius / r0) == pytest.approx(integral, abs=1e-9)
    assert reduced[-1, 0] > 0.9


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("scheme", EQUIANGULAR_SCHEMES)
def test_clustering_rate_near_one_cluster(scheme, normalization):
    """eps = 1 - rho over the window 1e-7 < eps < 1e-3: -d log(eps)/dt (exponential law) or
    -d log(eps)/d log(t) (power law) fitted there equals ``clustering_rate`` within 2%
    (measured: 0.01% for the exponential laws, 0.2% to 1% for the power laws)."""
    n, beta = 8, 1.0
    expected = clustering_rate(scheme, n, beta, normalization)
    if expected.law == "exponential":  # eps ~ e^{-rate t} reaches 1e-8 near t = 18 / rate
        times = torch.linspace(0.0, 20.0 / expected.rate, 200, dtype=F64)
    else:  # eps ~ t^-2 reaches 1e-7 near t = 3e3
        times = torch.cat([torch.zeros(1, dtype=F64), torch.logspace(-2, 4, 300, dtype=F64)])
    reduced = solve_reduced(scheme, n, beta, normalization, 0.1, 1.0, times, rtol=1e-10, atol=1e-12)
    eps, t = (1 - reduced[:, 0]).numpy(), times.numpy()
    window = (eps > 1e-7) & (eps < 1e-3)
    assert window.sum() >= 5
    abscissa = t[window] if expected.law == "exponential" else np.log(t[window])
    fitted = -np.polyfit(abscissa, np.log(eps[window]), 1)[0]
    assert fitted == pytest.approx(expected.rate, rel=0.02)


def test_rates_of_the_composed_schemes():
    assert clustering_rate("mix_ln", 4, 1.0, "softmax").rate == 2.0
    depth_scaled = clustering_rate("depth_scaled", 4, 1.0, "uniform")
    assert (depth_scaled.law, depth_scaled.rate) == ("power", 1.0)
    assert clustering_rate("post_ln", 4, 1.0, "uniform").rate == pytest.approx(2 * math.e)


def test_equiangular_cloud_has_the_asked_cosines_and_radius(generator):
    x = equiangular_cloud(4, 6, 0.3, radius=2.0, generator=generator, dtype=torch.float32)
    assert x.dtype == torch.float32 and x.shape == (4, 6)
    torch.testing.assert_close(torch.linalg.vector_norm(x, dim=-1), torch.full((4,), 2.0))
    cosines = dynamics.pairwise_cosines(x)
    torch.testing.assert_close(cosines, 0.7 * torch.eye(4) + 0.3)


@pytest.mark.parametrize(
    ("arguments", "name"),
    [((4, 4, 0.3), "d"), ((4, 6, 1.0), "rho"), ((4, 6, -0.1), "rho"), ((1, 6, 0.1), "n")],
)
def test_equiangular_cloud_refuses_impossible_shapes(arguments, name):
    with pytest.raises(ValueError, match=f"{name}="):
        equiangular_cloud(*arguments)


def test_reduced_flow_refuses_unknown_scheme_and_normalization():
    with pytest.raises(ValueError, match="scheme="):
        EquiangularFlow("mix_ln", 4, 1.0)
    with pytest.raises(ValueError, match="normalization="):
        EquiangularFlow("pre_ln", 4, 1.0, "sinkhorn")


def test_softmax_reduction_is_finite_at_large_beta_and_uniform_overflow_is_refused():
    """SA's weights enter as w = e^{beta (rho - 1)} <= 1: finite at beta = 1e4 (where the cloud
    barely moves: rho' ~ e^{-beta (1 - rho)}); USA's e^beta overflows float64 past beta ~ 709."""
    y = torch.tensor([[0.3, 1.0], [0.99999, 2.0]], dtype=F64)
    for scheme in EQUIANGULAR_SCHEMES:
        rates = EquiangularFlow(scheme, 5, 1e4, "softmax")(torch.zeros(()), y)
        assert bool(torch.isfinite(rates).all())
        assert float(rates[0, 0]) == 0.0 and float(rates[1, 0]) > 0.0
    with pytest.raises(ValueError, match="beta="):
        EquiangularFlow("post_ln", 5, 800.0, "uniform")
    with pytest.raises(ValueError, match="beta="):
        clustering_rate("post_ln", 5, 800.0, "uniform")
