"""The circle velocity against SelfAttention, the von Mises closed form and its invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dynamics import CircleVelocity, SelfAttention, circle_kernels, circle_velocity
from tests.reference import F64, fitted_slope


def angle_field(
    targets: torch.Tensor,
    sources: torch.Tensor,
    masses: torch.Tensor,
    beta: float,
    normalization: str,
) -> torch.Tensor:
    """The angle formula on a discrete measure, by dense sums:
    N = sum_j m_j e^{beta cos(phi_j - theta)} sin(phi_j - theta), D likewise without the sine."""
    gap = sources[None, :] - targets[:, None]
    weights = masses * torch.exp(beta * torch.cos(gap))
    numerator = (weights * torch.sin(gap)).sum(-1)
    return numerator / weights.sum(-1) if normalization == "softmax" else numerator


def von_mises_cells(cells: int, kappa: float, centre: float) -> torch.Tensor:
    """Cell averages of e^{kappa cos(phi - centre)} / (2 pi I_0(kappa)), 16-point Gauss-Legendre."""
    h = 2 * math.pi / cells
    nodes, weights = (torch.as_tensor(z, dtype=F64) for z in np.polynomial.legendre.leggauss(16))
    phi = h * torch.arange(cells, dtype=F64)[:, None] + 0.5 * h * (nodes + 1)
    density = torch.exp(kappa * (torch.cos(phi - centre) - 1))
    norm = 2 * math.pi * torch.special.i0e(torch.tensor(kappa, dtype=F64))
    return (density @ weights) * 0.5 / norm


def von_mises_velocity(
    theta: torch.Tensor, beta: float, kappa: float, centre: float, normalization: str
) -> torch.Tensor:
    """Closed form: with R e^{i psi} = beta e^{i theta} + kappa e^{i centre},
    N = I_1(R) sin(psi - theta) / I_0(kappa), D = I_0(R) / I_0(kappa)."""
    z = beta * torch.exp(1j * theta) + kappa * torch.exp(torch.tensor(1j * centre))
    radius, psi = z.abs(), z.angle()
    if normalization == "softmax":
        ratio = torch.special.i1e(radius) / torch.special.i0e(radius)
        return ratio * torch.sin(psi - theta)
    log_scale = radius - kappa  # I_1(R) / I_0(kappa) with exponential scaling
    i1e, i0e = torch.special.i1e(radius), torch.special.i0e(torch.tensor(kappa, dtype=F64))
    return i1e / i0e * torch.exp(log_scale) * torch.sin(psi - theta)


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
def test_angle_formula_is_self_attention_in_angles(normalization, generator):
    """theta_i' = <x_i', e_theta(theta_i)> for SelfAttention(2): fixes the sign and the 1/n."""
    theta = 2 * math.pi * torch.rand(50, generator=generator, dtype=F64)
    x = torch.stack([theta.cos(), theta.sin()], -1)
    velocity = SelfAttention(2, beta=3.0, normalization=normalization)(0.0, x)
    tangential = -theta.sin() * velocity[:, 0] + theta.cos() * velocity[:, 1]
    masses = torch.full_like(theta, 1 / 50)
    expected = angle_field(theta, theta, masses, 3.0, normalization)
    torch.testing.assert_close(tangential, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
@pytest.mark.parametrize("beta", [-2.0, 0.0, 1.5, 12.0])
def test_grid_formula_is_the_angle_formula_on_the_cell_measure(normalization, beta, generator):
    """The face velocities equal the dense formula on the piecewise-constant density (each cell
    resolved by 40 Gauss-Legendre points), evaluated at theta_j = j h."""
    cells = 24
    h = 2 * math.pi / cells
    rho = torch.rand(cells, generator=generator, dtype=F64)
    rho /= rho.sum() * h
    nodes, weights = (torch.as_tensor(z, dtype=F64) for z in np.polynomial.legendre.leggauss(40))
    sources = h * torch.arange(cells, dtype=F64)[:, None] + 0.5 * h * (nodes + 1)
    masses = rho[:, None] * 0.5 * h * weights
    faces = h * torch.arange(cells, dtype=F64)
    expected = angle_field(faces, sources.flatten(), masses.flatten(), beta, normalization)
    scale = 1.0 if normalization == "softmax" else math.exp(abs(beta))
    torch.testing.assert_close(
        circle_velocity(rho, beta, normalization), expected, rtol=0, atol=2e-14 * scale
    )


@pytest.mark.parametrize("beta", [-3.0, 0.0, 1.0, 64.0, 300.0])
def test_kernel_integrals_match_closed_forms(beta):
    """sum_m c_m = int e^{beta cos u - |beta|} du = 2 pi I_0(|beta|) e^{-|beta|}; sum_m s_m = 0;
    the Gauss-Legendre c_m against a 64-node rule."""
    cosine, sine = circle_kernels(beta, 32)
    exact = 2 * math.pi * torch.special.i0e(torch.tensor(abs(beta), dtype=F64))
    torch.testing.assert_close(cosine.sum(), exact, rtol=1e-14, atol=0)
    assert abs(float(sine.sum())) < 1e-15
    h = 2 * math.pi / 32
    nodes, weights = (torch.as_tensor(z, dtype=F64) for z in np.polynomial.legendre.leggauss(64))
    u = h * torch.arange(32, dtype=F64)[:, None] + 0.5 * h * (nodes + 1)
    kernel = torch.exp(beta * torch.cos(u) - abs(beta))
    torch.testing.assert_close(cosine, kernel @ weights * h / 2, rtol=1e-13, atol=1e-300)
    torch.testing.assert_close(sine, (kernel * torch.sin(u)) @ weights * h / 2, rtol=0, atol=1e-15)


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
def test_von_mises_velocity_converges_at_second_order(normalization):
    """Cell averages of a von Mises density: face velocities within O(h^2) of the closed form."""
    cells_list, errors = [32, 64, 128, 256], []
    for cells in cells_list:
        rho = von_mises_cells(cells, kappa=2.0, centre=1.0)
        faces = 2 * math.pi / cells * torch.arange(cells, dtype=F64)
        exact = von_mises_velocity(faces, 1.5, 2.0, 1.0, normalization)
        errors.append(float((circle_velocity(rho, 1.5, normalization) - exact).abs().max()))
    slope = fitted_slope([1 / m for m in cells_list], errors)
    assert 1.9 < slope < 2.1, (errors, slope)
    assert errors[-1] < 1e-4


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
def test_large_beta_is_accurate_and_finite(normalization):
    """beta = 64: no overflow, and the velocity of a peaked von Mises is right to O(h^2) wherever
    the kernel-weighted mass D(theta) exceeds 1e-12 of its maximum. Beyond that (about a third
    of the circle here) an FFT correlation resolves no more than 1e-16 of its largest value, and
    SA's N / D there is only bounded by the clamp, |v| <= 1; USA's N is absolutely accurate."""
    cells, beta, kappa, centre = 1024, 64.0, 20.0, 0.5
    rho = von_mises_cells(cells, kappa, centre)
    faces = 2 * math.pi / cells * torch.arange(cells, dtype=F64)
    exact = von_mises_velocity(faces, beta, kappa, centre, normalization)
    velocity = circle_velocity(rho, beta, normalization)
    assert bool(torch.isfinite(velocity).all())
    if normalization == "softmax":
        assert float(velocity.abs().max()) <= 1.0
        radius = (beta * torch.exp(1j * faces) + kappa * math.e ** (1j * centre)).abs()
        log_weight = torch.log(torch.special.i0e(radius)) + radius  # log D up to a constant
        resolved = log_weight > log_weight.max() + math.log(1e-12)
        assert 0.5 < float(resolved.double().mean()) < 0.9
        velocity, exact = velocity[resolved], exact[resolved]
    relative = (velocity - exact).abs().max() / exact.abs().max()
    assert relative < 5e-3, float(relative)


def test_far_from_the_mass_the_softmax_velocity_stays_bounded():
    """All mass in a few cells and beta = 200: opposite faces see only rounding noise, which the
    clamp |N| <= D keeps within |v| <= 1; the faces near the mass point toward it."""
    rho = torch.zeros(256, dtype=F64)
    rho[10:13] = 1.0
    rho /= rho.sum() * 2 * math.pi / 256
    velocity = circle_velocity(rho, 200.0)
    assert bool(torch.isfinite(velocity).all()) and float(velocity.abs().max()) <= 1.0
    assert float(velocity[8]) > 0 and float(velocity[15]) < 0


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
def test_uniform_density_is_stationary(normalization):
    rho = torch.full((128,), 1 / (2 * math.pi), dtype=F64)
    assert float(circle_velocity(rho, 5.0, normalization).abs().max()) < 1e-14


def test_batches_and_dtypes_follow_the_input(generator):
    rho = torch.rand(3, 2, 64, generator=generator, dtype=F64)
    batched = circle_velocity(rho, 2.0)
    for index in [(0, 0), (2, 1)]:
        torch.testing.assert_close(batched[index], circle_velocity(rho[index], 2.0))
    single = circle_velocity(rho.float(), 2.0)
    assert single.dtype == torch.float32
    torch.testing.assert_close(single, batched.float(), rtol=1e-5, atol=1e-6)
    reusable = CircleVelocity(2.0, 64)
    torch.testing.assert_close(reusable(rho), batched)


def test_bad_arguments_are_refused():
    rho = torch.ones(16)
    with pytest.raises(ValueError, match="normalization='sinkhorn' is not accepted"):
        circle_velocity(rho, 1.0, "sinkhorn")
    with pytest.raises(TypeError, match="rho must have a floating dtype"):
        circle_velocity(torch.ones(16, dtype=torch.int64), 1.0)
    with pytest.raises(ValueError, match=r"M >= 2 cells, got \(1,\)"):
        circle_velocity(torch.ones(1), 1.0)
    with pytest.raises(ValueError, match="expected M=32"):
        CircleVelocity(1.0, 32)(rho)
    with pytest.raises(ValueError, match=r"beta=100: .* beyond torch.float32"):
        circle_velocity(rho, 100.0, "uniform")
    with pytest.raises(TypeError, match="beta='1' must be a real number"):
        circle_velocity(rho, "1")
