"""Particle-in-cell trajectories on the circle against the exact O(n^2) particle system."""

from __future__ import annotations

import math

import pytest
import torch

from dynamics import SelfAttention, deposit
from solvers import integrate, particle_in_cell_circle
from tests.dynamics.mean_field.test_particle_in_cell import clustered_angles
from tests.reference import F64, fitted_slope


def test_trajectories_follow_the_exact_particle_system(generator):
    """n = 300 tokens, SA beta = 4 to t = 2 (they cluster): PIC paths within O(h^2) of the exact
    ones; RK4 with step 0.05 keeps the time error far below."""
    theta0 = clustered_angles(300, generator)
    t = torch.tensor([0.0, 1.0, 2.0], dtype=F64)
    x0 = torch.stack([theta0.cos(), theta0.sin()], -1)
    x = integrate(SelfAttention(2, beta=4.0), x0, t, rtol=1e-10, atol=1e-12)
    exact = (
        theta0
        + torch.remainder(torch.atan2(x[..., 1], x[..., 0]) - theta0 + math.pi, 2 * math.pi)
        - math.pi
    )
    errors = []
    for cells in (256, 1024):
        paths = particle_in_cell_circle(theta0, t, 4.0, cells=cells, step_size=0.05, stepper="rk4")
        errors.append(float((paths - exact).abs().max()))
    assert float((exact[-1] - theta0).abs().max()) > 0.5  # the tokens moved
    assert errors[1] < 2e-4 and errors[0] / errors[1] > 10, errors


def test_time_steps_converge(generator):
    """Same grid, halving steps against a fine RK4 reference. RK2 shows order 2 (measured errors
    2.0e-3, 5.1e-4, 1.3e-4, 3.4e-5). The PIC velocity is continuous but only piecewise smooth in
    the positions (linear deposit and interpolation), so RK4 has no clean order 4 (measured ratios
    1.7, 4.5, 6.4) but is far more accurate than RK2 at equal steps."""
    theta0 = clustered_angles(200, generator)
    t, steps = [0.0, 1.0], (0.2, 0.1, 0.05, 0.025)

    def error(step: float, stepper: str) -> float:
        paths = particle_in_cell_circle(theta0, t, 3.0, cells=256, step_size=step, stepper=stepper)
        return float((paths - reference).abs().max())

    reference = particle_in_cell_circle(theta0, t, 3.0, cells=256, step_size=0.005, stepper="rk4")
    rk2 = [error(step, "rk2") for step in steps]
    assert 1.9 < fitted_slope(list(steps), rk2) < 2.1, rk2
    rk4 = [error(step, "rk4") for step in steps[:2]]
    assert rk4[0] < rk2[0] / 50 and rk4[1] < rk2[1] / 20, (rk2, rk4)


def test_batches_and_float32_follow_the_input(generator):
    theta0 = torch.stack([clustered_angles(100, generator) for _ in range(3)])
    paths = particle_in_cell_circle(theta0, [0.0, 0.5], 1.0, cells=128, step_size=0.1)
    assert paths.shape == (2, 3, 100)
    alone = particle_in_cell_circle(theta0[1], [0.0, 0.5], 1.0, cells=128, step_size=0.1)
    torch.testing.assert_close(paths[:, 1], alone, rtol=0, atol=1e-14)
    single = particle_in_cell_circle(theta0.float(), [0.0, 0.5], 1.0, cells=128, step_size=0.1)
    assert single.dtype == torch.float32
    torch.testing.assert_close(single, paths.float(), rtol=0, atol=1e-5)


def test_bad_arguments_are_refused():
    theta = torch.zeros(4, dtype=F64)
    with pytest.raises(TypeError, match="theta0 must have a floating dtype"):
        particle_in_cell_circle(torch.zeros(4, dtype=torch.int64), [0.0, 1.0], 1.0)
    with pytest.raises(ValueError, match="theta0 contains NaN"):
        particle_in_cell_circle(torch.full((4,), math.nan), [0.0, 1.0], 1.0)
    with pytest.raises(ValueError, match="masses must sum to 1"):
        particle_in_cell_circle(theta, [0.0, 1.0], 1.0, masses=torch.ones(4, dtype=F64))
    with pytest.raises(ValueError, match=r"masses has shape \(3,\)"):
        particle_in_cell_circle(theta, [0.0, 1.0], 1.0, masses=torch.ones(3, dtype=F64) / 3)
    with pytest.raises(ValueError, match="stepper='euler' is not accepted"):
        particle_in_cell_circle(theta, [0.0, 1.0], 1.0, stepper="euler")
    with pytest.raises(ValueError, match=r"step_size=-0.1 must be > 0"):
        particle_in_cell_circle(theta, [0.0, 1.0], 1.0, step_size=-0.1)
    with pytest.raises(ValueError, match="cells=1 must be >= 2"):
        deposit(theta, 1)
