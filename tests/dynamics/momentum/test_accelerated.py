"""Momentum dynamics: conserved and dissipated energies, the sphere, the high-friction limit."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dynamics import EUCLIDEAN, SPHERE, Accelerated, SelfAttention, uniform_sphere
from solvers import integrate
from tests.reference import F64


class Pendulums(nn.Module):
    """F = grad E with E(x) = sum cos(x): a bounded potential, so long runs stay bounded."""

    geometry = EUCLIDEAN

    def forward(self, t, x):
        return -torch.sin(x)


def pendulum_energy(x, v):
    """H = |v|^2 / 2 - E(x), per system."""
    return 0.5 * v.pow(2).sum((-1, -2)) - torch.cos(x).sum((-1, -2))


def pendulum_state(generator):
    x = 2.0 * torch.randn(5, 2, generator=generator, dtype=F64)
    return x, torch.randn(5, 2, generator=generator, dtype=F64)


def test_undamped_flow_conserves_the_energy(generator):
    x0, v0 = pendulum_state(generator)
    field = Accelerated(Pendulums(), damping="none")
    xs, vs = integrate(
        field, (x0, v0), torch.linspace(0, 20, 41, dtype=F64), rtol=1e-11, atol=1e-12
    )
    energy = pendulum_energy(xs, vs)
    assert (energy - energy[0]).abs().max() < 1e-8
    assert (xs[-1] - x0).abs().max() > 0.5  # it moved


@pytest.mark.parametrize(("damping", "options"), [("heavy_ball", {"gamma": 0.7}), ("nesterov", {})])
def test_friction_dissipates_the_energy_at_the_predicted_rate(damping, options, generator):
    """dH/dt = <v, F> - gamma |v|^2 - <grad E, v> = -gamma(t) |v|^2 <= 0: checked as an identity
    at points of the trajectory, and as a monotone decrease along it."""
    x0, v0 = pendulum_state(generator)
    field = Accelerated(Pendulums(), damping=damping, **options)
    t = torch.linspace(0, 10, 101, dtype=F64)
    xs, vs = integrate(field, (x0, v0), t, rtol=1e-11, atol=1e-12)
    energy = pendulum_energy(xs, vs)
    assert (energy[1:] - energy[:-1]).max() <= 1e-10
    assert energy[-1] < energy[0] - 0.1
    for k in (0, 17, 60):
        x, v = xs[k].clone().requires_grad_(True), vs[k].clone().requires_grad_(True)
        grad_x, grad_v = torch.autograd.grad(pendulum_energy(x, v), (x, v))
        dx, dv = field(t[k], (xs[k], vs[k]))
        rate = (grad_x * dx).sum() + (grad_v * dv).sum()
        expected = -field.friction(t[k]) * vs[k].pow(2).sum()
        torch.testing.assert_close(rate, torch.as_tensor(expected, dtype=F64), rtol=1e-12, atol=0)


def test_velocity_stays_tangent_on_the_sphere(generator):
    x0 = uniform_sphere(12, 3, generator=generator, dtype=F64)
    v0 = torch.zeros_like(x0)
    field = Accelerated(SelfAttention(3, beta=2.0), damping="heavy_ball", gamma=0.5)
    assert field.geometry is SPHERE
    xs, vs = integrate(field, (x0, v0), torch.linspace(0, 8, 9, dtype=F64), rtol=1e-10, atol=1e-12)
    assert (torch.linalg.vector_norm(xs, dim=-1) - 1).abs().max() < 1e-8
    assert (xs * vs).sum(-1).abs().max() < 1e-8
    assert vs.abs().max() > 0.1  # it is not trivially at rest


def test_high_friction_recovers_the_first_order_flow(generator):
    """With gamma -> infinity, x(gamma s) -> y(s) where y' = F(y).

    Starting on the slow manifold v0 = F(x0) / gamma avoids an initial layer; there
    v = F / gamma - DF F / gamma^3 + ..., so dx/ds = gamma v = F - DF F / gamma^2: the error falls
    like 1 / gamma^2 (4x when gamma doubles).
    """
    x0 = uniform_sphere(6, 3, generator=generator, dtype=F64)
    force = SelfAttention(3, beta=1.0, manifold="euclidean")
    first_order = integrate(force, x0, [0.0, 1.0], rtol=1e-10, atol=1e-12)[-1]
    errors = []
    for gamma in (20.0, 40.0):
        field = Accelerated(force, damping="heavy_ball", gamma=gamma)
        state = (x0, force(0.0, x0) / gamma)
        xs, _ = integrate(field, state, [0.0, gamma], rtol=1e-9, atol=1e-11)
        errors.append((xs[-1] - first_order).abs().max().item())
    assert errors[0] < 0.01
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.15)


def test_damping_factor_is_the_exact_friction_flow():
    nesterov = Accelerated(Pendulums(), damping="nesterov", r=3.0, t0=0.5)
    t, h = torch.tensor(1.2, dtype=F64), torch.tensor(0.3, dtype=F64)
    exact = torch.tensor(((1.2 + 0.5) / (1.5 + 0.5)) ** 3, dtype=F64)
    torch.testing.assert_close(nesterov.damping_factor(t, h), exact)
    by_callable = Accelerated(Pendulums(), damping=lambda s: 3.0 / (s + 0.5))
    torch.testing.assert_close(
        by_callable.damping_factor(t, h), nesterov.damping_factor(t, h), rtol=1e-5, atol=0
    )  # Gauss-Legendre: O(h^5) per step
    heavy = Accelerated(Pendulums(), damping="heavy_ball", gamma=2.0)
    torch.testing.assert_close(heavy.damping_factor(t, h), torch.tensor(math.exp(-0.6), dtype=F64))


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"damping": "fast"}, ValueError, r"damping='fast'.*nesterov, heavy_ball, none"),
        ({"gamma": -1.0}, ValueError, r"gamma=-1.0 must be >= 0"),
        ({"t0": 0.0}, ValueError, r"t0=0.0 must be > 0"),
        ({"manifold": "torus"}, ValueError, r"manifold='torus'"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        Accelerated(Pendulums(), **kwargs)


def test_state_must_be_a_pair_of_one_shape(generator):
    with pytest.raises(TypeError, match=r"tuple \(x, v\)"):
        Accelerated(Pendulums())(0.0, torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"x has shape \(4, 2\) and v has shape \(5, 2\)"):
        Accelerated(Pendulums())(0.0, (torch.zeros(4, 2), torch.zeros(5, 2)))
