"""Symplectic steppers for momentum dynamics: orders, energy behaviour, reversibility."""

from __future__ import annotations

import pytest
import torch

from dynamics import Accelerated, SelfAttention, uniform_sphere
from solvers import METHODS, integrate
from tests.dynamics.test_accelerated import Pendulums, pendulum_energy, pendulum_state
from tests.reference import F64, fitted_slope


def energy_errors(method, step, generator, steps=10_000):
    x0, v0 = pendulum_state(generator)
    field = Accelerated(Pendulums(), damping="none")
    t = torch.linspace(0, steps * step, steps + 1, dtype=F64)
    xs, vs = integrate(field, (x0, v0), t, method=method)
    return (pendulum_energy(xs, vs) - pendulum_energy(x0, v0)).abs()


def test_leapfrog_energy_error_is_second_order_and_does_not_drift(generator):
    errors = energy_errors("leapfrog", 0.05, generator)
    halved = energy_errors("leapfrog", 0.025, torch.Generator().manual_seed(1234))
    assert errors[-1000:].max() <= 1.5 * errors[:1000].max()  # no drift over 10^4 steps
    assert errors.max() / halved.max() == pytest.approx(4.0, rel=0.15)  # O(h^2)


def test_symplectic_euler_stays_bounded_where_euler_drifts(generator):
    symplectic = energy_errors("symplectic_euler", 0.02, generator)
    explicit = energy_errors("euler", 0.02, torch.Generator().manual_seed(1234))
    assert symplectic[-1000:].max() <= 1.5 * symplectic[:1000].max()
    assert explicit[-1] > 10 * explicit[:1000].max()


def test_leapfrog_is_time_reversible(generator):
    x0, v0 = pendulum_state(generator)
    field = Accelerated(Pendulums(), damping="none")
    forward = integrate(field, (x0, v0), [0.0, 5.0], method="leapfrog", step_size=0.01)
    end = (forward[0][-1], forward[1][-1])
    back = integrate(field, end, [5.0, 0.0], method="leapfrog", step_size=0.01)
    torch.testing.assert_close(back[0][-1], x0, atol=1e-11, rtol=0)
    torch.testing.assert_close(back[1][-1], v0, atol=1e-11, rtol=0)


@pytest.mark.parametrize("method", ["symplectic_euler", "leapfrog", "nesterov_layer"])
@pytest.mark.parametrize(("damping", "options"), [("heavy_ball", {"gamma": 0.7}), ("nesterov", {})])
def test_observed_order_with_attention_forces(method, damping, options, generator):
    x0 = uniform_sphere(8, 3, generator=generator, dtype=F64)
    field = Accelerated(
        SelfAttention(3, beta=2.0, manifold="euclidean"), damping=damping, **options
    )
    state = (x0, torch.zeros_like(x0))
    t = [0.0, 1.0]
    exact = integrate(field, state, t, rtol=1e-13, atol=1e-14)
    steps = [1 / 8, 1 / 16, 1 / 32, 1 / 64]
    errors = []
    for h in steps:
        xs, vs = integrate(field, state, t, method=method, step_size=h)
        errors.append(
            max(
                (xs[-1] - exact[0][-1]).abs().max().item(),
                (vs[-1] - exact[1][-1]).abs().max().item(),
            )
        )
    assert fitted_slope(steps, errors) == pytest.approx(METHODS[method].order, abs=0.1)


def test_momentum_steppers_refuse_what_they_cannot_integrate(generator):
    x0 = uniform_sphere(4, 3, generator=generator, dtype=F64)
    with pytest.raises(TypeError, match=r"x0 must be a tuple \(x, v\)"):
        integrate(Accelerated(Pendulums()), x0, [0.0, 1.0], method="leapfrog")
    with pytest.raises(TypeError, match=r"needs a momentum field.*Accelerated"):
        integrate(SelfAttention(3), (x0, x0), [0.0, 1.0], method="leapfrog")
    with pytest.raises(ValueError, match=r"for the sphere use an adaptive method"):
        integrate(Accelerated(SelfAttention(3)), (x0, 0 * x0), [0.0, 1.0], method="leapfrog")
