"""Wasserstein distances against closed forms and each other."""

from __future__ import annotations

import math

import pytest
import torch

from dynamics import (
    sliced_wasserstein2,
    w1_particles_grid,
    wasserstein1,
    wasserstein2,
    wasserstein_circle,
)
from tests.reference import F64


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_circle_distance_between_point_masses_is_the_arc(p):
    """W_p(delta_a, delta_b) = geodesic distance, across 0 = 2 pi and for any representative."""
    a = torch.tensor([[0.1], [1.0], [-7.0]], dtype=F64)
    b = torch.tensor([[2 * math.pi - 0.2], [4.0], [-7.0 + 2 * math.pi + 0.5]], dtype=F64)
    expected = torch.tensor([0.3, 3.0, 0.5], dtype=F64)
    torch.testing.assert_close(wasserstein_circle(a, b, p), expected, rtol=1e-9, atol=1e-10)


def test_circle_distance_of_a_rotation_and_of_weights(generator):
    """Rotating every point by delta moves W1 by exactly |delta| (delta <= pi / n for n equally
    spaced points); weights move mass as in the closed form sum of |shifts| for two points."""
    n = 8
    theta = 2 * math.pi * torch.arange(n, dtype=F64) / n
    rotated = theta + 0.2
    assert float(wasserstein_circle(theta, rotated)) == pytest.approx(0.2, abs=1e-9)
    # delta_0 against (1/2)(delta_{-0.3} + delta_{0.4}): W1 = 0.35, W2 = sqrt(0.125)
    a = torch.zeros(1, dtype=F64)
    b = torch.tensor([-0.3, 0.4], dtype=F64)
    weights = torch.tensor([0.5, 0.5], dtype=F64)
    assert float(wasserstein_circle(a, b, weights_b=weights)) == pytest.approx(0.35, abs=1e-9)
    assert float(wasserstein_circle(a, b, 2.0)) == pytest.approx(math.sqrt(0.125), abs=1e-9)


def test_particles_against_a_grid_density_closed_forms():
    """A point mass against the uniform density: W1 = E|U|, U uniform on [-pi, pi], = pi / 2. A
    point mass at a cell centre against that cell's uniform mass: h / 4."""
    uniform = torch.full((1, 64), 1 / (2 * math.pi), dtype=F64)
    point = torch.tensor([[1.234]], dtype=F64)
    assert float(w1_particles_grid(point, uniform)) == pytest.approx(math.pi / 2, abs=1e-12)
    cells = 16
    h = 2 * math.pi / cells
    one_cell = torch.zeros(cells, dtype=F64)
    one_cell[5] = 1 / h
    centre = torch.tensor([5.5 * h], dtype=F64)
    assert float(w1_particles_grid(centre, one_cell)) == pytest.approx(h / 4, abs=1e-14)


def test_particles_against_a_grid_density_match_pot_with_refined_cells(generator):
    """Replacing each cell by s equal point masses at its sub-cell centres moves mass by at most
    h / (4 s) in W1: POT on the refined measure converges to the exact value at that rate."""
    cells = 32
    theta = 2 * math.pi * torch.rand(3, 400, generator=generator, dtype=F64)
    rho = torch.rand(3, cells, generator=generator, dtype=F64)
    exact = w1_particles_grid(theta, rho)
    h = 2 * math.pi / cells
    for refine in (4, 64):
        points = (torch.arange(cells * refine, dtype=F64) + 0.5) * h / refine
        weights = rho.repeat_interleave(refine, -1)
        weights = weights / weights.sum(-1, keepdim=True)
        refined = wasserstein_circle(theta, points.expand(3, -1), weights_b=weights)
        assert float((refined - exact).abs().max()) <= h / (4 * refine) + 1e-9


def test_translation_distance_and_sliced_bound(generator):
    """W2(mu, mu + a) = |a|; SW2 <= W2 for every draw, and for a translation SW2^2 is the mean of
    <theta_k, a>^2, whose expectation is |a|^2 / d."""
    x = torch.randn(300, 3, generator=generator, dtype=F64)
    shift = torch.tensor([0.3, -0.4, 1.2], dtype=F64)
    assert float(wasserstein2(x, x + shift)) == pytest.approx(1.3, abs=1e-10)
    sliced = sliced_wasserstein2(x, x + shift, projections=1000, seed=3)
    assert float(sliced) <= 1.3 + 1e-12
    assert float(sliced) == pytest.approx(1.3 / math.sqrt(3), rel=0.05)
    y = torch.randn(250, 3, generator=generator, dtype=F64) * 0.5 + 1.0
    assert float(sliced_wasserstein2(x, y, projections=64, seed=0)) <= float(wasserstein2(x, y))


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_a_measure_is_at_distance_zero_from_itself_exactly(scale, generator):
    """Costs from the differences x_i - y_j: coinciding points cost 0, not the rounding of
    |x|^2 + |y|^2 - 2 <x, y> (whose square root is ~1e-8 |x|); the squared loss's gradient there
    is 0, not NaN."""
    x = (scale * torch.randn(40, 5, generator=generator, dtype=F64)).requires_grad_()
    assert wasserstein2(x, x.detach()).item() == 0.0
    assert wasserstein1(x, x.detach()).item() == 0.0
    wasserstein2(x, x.detach(), squared=True).backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_masses_move_the_optimum(generator):
    """Two points each: masses (1, 0) and (0, 1) leave only the pair (x_0, y_1)."""
    x = torch.tensor([[0.0, 0.0], [5.0, 0.0]], dtype=F64)
    y = torch.tensor([[0.0, 1.0], [3.0, 4.0]], dtype=F64)
    one, other = torch.tensor([1.0, 0.0], dtype=F64), torch.tensor([0.0, 1.0], dtype=F64)
    assert float(wasserstein2(x, y, masses_x=one, masses_y=other)) == pytest.approx(5.0)


def test_dtypes_and_differentiability_follow_the_input(generator):
    x = torch.randn(50, 2, generator=generator).requires_grad_()
    distance = wasserstein2(x, x.detach() + 1.0)
    assert distance.dtype == torch.float32 and distance.ndim == 0
    distance.backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    theta = torch.rand(2, 40, generator=generator)
    assert wasserstein_circle(theta, theta + 0.1).shape == (2,)
    assert w1_particles_grid(theta, torch.ones(2, 8)).dtype == torch.float32


def test_bad_input_is_refused():
    theta = torch.zeros(5, dtype=F64)
    with pytest.raises(ValueError, match=r"p=0.5 must be >= 1"):
        wasserstein_circle(theta, theta, 0.5)
    with pytest.raises(ValueError, match="same batch dimensions"):
        wasserstein_circle(theta, torch.zeros(2, 5, dtype=F64))
    with pytest.raises(ValueError, match="weights_a must sum to 1"):
        wasserstein_circle(theta, theta, weights_a=torch.ones(5, dtype=F64))
    with pytest.raises(ValueError, match=r"weights_b has shape \(4,\); expected \(5,\)"):
        wasserstein_circle(theta, theta, weights_b=torch.ones(4, dtype=F64) / 4)
    with pytest.raises(TypeError, match=r"angles_a must be a floating torch\.Tensor"):
        wasserstein_circle([0.0], theta)
    with pytest.raises(ValueError, match="rho must be nonnegative"):
        w1_particles_grid(theta, -torch.ones(8, dtype=F64))
    with pytest.raises(ValueError, match="batch dimensions of angles"):
        w1_particles_grid(theta, torch.ones(2, 8, dtype=F64))
    x = torch.zeros(4, 3, dtype=F64)
    with pytest.raises(ValueError, match="single clouds"):
        wasserstein2(x[None], x[None])
    with pytest.raises(ValueError, match="must share d and dtype"):
        wasserstein2(x, torch.zeros(4, 2, dtype=F64))
    with pytest.raises(ValueError, match="projections=0 must be >= 1"):
        sliced_wasserstein2(x, x, projections=0)
