"""The particle-in-cell velocity on the circle: deposit, masses, and convergence to the exact
O(n^2) particle field."""

from __future__ import annotations

import math

import pytest
import torch

from dynamics import ParticleInCellVelocity, SelfAttention, deposit
from tests.reference import F64, fitted_slope


def clustered_angles(n: int, generator: torch.Generator) -> torch.Tensor:
    """Two Gaussian bumps of angles, 60% around 1.0 and 40% around 3.5."""
    centres = torch.where(torch.rand(n, generator=generator, dtype=F64) < 0.6, 1.0, 3.5)
    return centres + 0.6 * torch.randn(n, generator=generator, dtype=F64)


def exact_angle_velocity(theta: torch.Tensor, beta: float, normalization: str) -> torch.Tensor:
    """SelfAttention(2)'s field at (cos theta, sin theta), as d theta / dt = <x', e_theta>."""
    x = torch.stack([theta.cos(), theta.sin()], -1)
    velocity = SelfAttention(2, beta=beta, normalization=normalization)(0.0, x)
    return -theta.sin() * velocity[..., 0] + theta.cos() * velocity[..., 1]


def test_deposit_conserves_mass_and_splits_linearly(generator):
    cells = 16
    h = 2 * math.pi / cells
    theta = 20 * torch.randn(2, 500, generator=generator, dtype=F64)
    rho = deposit(theta, cells)
    torch.testing.assert_close(rho.sum(-1) * h, torch.ones(2, dtype=F64), rtol=0, atol=1e-14)
    # at a cell centre: all in that cell; a quarter cell right of it: 3/4 and 1/4; across 2 pi
    one = deposit(torch.tensor([5.5 * h, 7.75 * h, -0.25 * h], dtype=F64), cells) * h * 3
    expected = torch.zeros(cells, dtype=F64)
    expected[5], expected[7], expected[8] = 1.0, 0.75, 0.25
    expected[15], expected[0] = 0.75, 0.25
    torch.testing.assert_close(one, expected, rtol=0, atol=1e-14)


def test_masses_weigh_the_deposit_and_duplicates_split_evenly(generator):
    """A particle of mass 2/(n+1) deposits like two unit particles at the same angle."""
    theta = 2 * math.pi * torch.rand(9, generator=generator, dtype=F64)
    doubled = torch.cat([theta, theta[:1]])
    masses = torch.full((9,), 1 / 10, dtype=F64)
    masses[0] = 2 / 10
    torch.testing.assert_close(deposit(theta, 32, masses), deposit(doubled, 32), atol=1e-14, rtol=0)
    field = ParticleInCellVelocity(2.0, 64, masses=masses)
    torch.testing.assert_close(
        field(0.0, theta), ParticleInCellVelocity(2.0, 64)(0.0, doubled)[:9], atol=1e-14, rtol=0
    )


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
def test_velocity_converges_to_the_exact_particle_field_at_second_order(normalization, generator):
    """n = 2000 clustered tokens, beta = 2: max error over the particles, M = 64 .. 1024.
    Measured errors relative to max|v|: SA 5.3e-3, 1.4e-3, 3.5e-4, 9.0e-5, 3.4e-5; USA likewise;
    fitted rate 2.0."""
    theta = clustered_angles(2000, generator)
    exact = exact_angle_velocity(theta, 2.0, normalization)
    cells_list = [64, 128, 256, 512, 1024]
    errors = [
        float((ParticleInCellVelocity(2.0, m, normalization)(0.0, theta) - exact).abs().max())
        for m in cells_list
    ]
    slope = fitted_slope([1 / m for m in cells_list], errors)
    assert 1.85 < slope < 2.15, (errors, slope)
    assert errors[-1] < 5e-5 * exact.abs().max()
