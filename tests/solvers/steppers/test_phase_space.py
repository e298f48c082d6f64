"""Symplectic steppers for momentum dynamics: orders, energy behaviour, reversibility."""

from __future__ import annotations

import pytest
import torch

from dynamics import (
    Accelerated,
    SelfAttention,
    interaction_energy,
    project_tangent,
    uniform_sphere,
)
from solvers import METHODS, integrate
from tests.dynamics.momentum.test_accelerated import Pendulums, pendulum_energy, pendulum_state
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


def sphere_state(generator, n=8):
    """n tokens on S^2 with random tangent velocities."""
    x0 = uniform_sphere(n, 3, generator=generator, dtype=F64)
    v0 = project_tangent(x0, 0.3 * torch.randn(n, 3, generator=generator, dtype=F64))
    return x0, v0


@pytest.mark.parametrize("manifold", ["euclidean", "sphere"])
@pytest.mark.parametrize("method", ["symplectic_euler", "leapfrog", "nesterov_layer"])
@pytest.mark.parametrize(("damping", "options"), [("heavy_ball", {"gamma": 0.7}), ("nesterov", {})])
def test_observed_order_with_attention_forces(method, damping, options, manifold, generator):
    state = sphere_state(generator)
    field = Accelerated(SelfAttention(3, beta=2.0, manifold=manifold), damping=damping, **options)
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


def sphere_hamiltonian(field, x, v):
    """H = (1/2) sum_i |v_i|^2 - n E_beta(x): conserved by the undamped USA momentum flow.

    E_beta = (1 / (2 beta n^2)) sum_ij e^{beta <x_i, x_j>} has grad_i E = (1/n^2) sum_j
    e^{beta <x_i, x_j>} x_j, so the USA force is F_i = n P_{x_i} grad_i E, and
    dH/dt = sum_i <v_i, P F_i - |v_i|^2 x_i> - n sum_i <grad_i E, v_i> = 0 for tangent v_i.
    """
    n = x.shape[-2]
    return 0.5 * v.pow(2).sum((-1, -2)) - n * interaction_energy(x, field.field.beta)


def sphere_energy_errors(step, generator, steps=10_000):
    x0, v0 = sphere_state(generator, n=4)
    field = Accelerated(SelfAttention(3, beta=1.0, normalization="uniform"), damping="none")
    t = torch.linspace(0, steps * step, steps + 1, dtype=F64)
    xs, vs = integrate(field, (x0, v0), t, method="leapfrog")
    return (sphere_hamiltonian(field, xs, vs) - sphere_hamiltonian(field, x0, v0)).abs()


def test_geodesic_leapfrog_conserves_the_energy_on_the_sphere(generator):
    errors = sphere_energy_errors(0.1, generator)
    halved = sphere_energy_errors(0.05, torch.Generator().manual_seed(1234))
    assert errors.max() <= 1.5 * errors[:1000].max()  # no drift over 10^4 steps
    assert errors.max() / halved.max() == pytest.approx(4.0, rel=0.15)  # O(h^2)


@pytest.mark.parametrize("method", ["symplectic_euler", "leapfrog", "nesterov_layer"])
def test_sphere_steps_keep_tokens_unit_and_velocities_tangent_in_float32(method, generator):
    x0, v0 = (part.float() for part in sphere_state(generator))
    field = Accelerated(SelfAttention(3, beta=4.0), damping="heavy_ball", gamma=0.1)
    xs, vs = integrate(field, (x0, v0), torch.linspace(0, 500, 11), method=method, step_size=0.05)
    assert (torch.linalg.vector_norm(xs, dim=-1) - 1).abs().max() < 1e-6
    assert (xs * vs).sum(-1).abs().max() < 1e-6
    assert (xs[-1] - x0).abs().max() > 0.1  # it moved


def test_geodesic_leapfrog_is_time_reversible(generator):
    x0, v0 = sphere_state(generator)
    field = Accelerated(SelfAttention(3, beta=2.0), damping="none")
    forward = integrate(field, (x0, v0), [0.0, 5.0], method="leapfrog", step_size=0.01)
    end = (forward[0][-1], forward[1][-1])
    back = integrate(field, end, [5.0, 0.0], method="leapfrog", step_size=0.01)
    torch.testing.assert_close(back[0][-1], x0, atol=1e-11, rtol=0)
    torch.testing.assert_close(back[1][-1], v0, atol=1e-11, rtol=0)


def test_momentum_steppers_refuse_what_they_cannot_integrate(generator):
    x0 = uniform_sphere(4, 3, generator=generator, dtype=F64)
    with pytest.raises(TypeError, match=r"x0 must be a tuple \(x, v\)"):
        integrate(Accelerated(Pendulums()), x0, [0.0, 1.0], method="leapfrog")
    with pytest.raises(TypeError, match=r"needs a momentum field.*Accelerated"):
        integrate(SelfAttention(3), (x0, x0), [0.0, 1.0], method="leapfrog")
    on_sphere = Accelerated(SelfAttention(3))
    with pytest.raises(ValueError, match=r"needs tangent velocities.*project_tangent"):
        integrate(on_sphere, (x0, x0), [0.0, 1.0], method="leapfrog")
    with pytest.raises(ValueError, match=r"rows must have norm 1"):
        integrate(on_sphere, (2 * x0, 0 * x0), [0.0, 1.0], method="nesterov_layer")
