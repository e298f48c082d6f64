"""The kinetic energy carried by the solver: closed form, Riemann sums and quadrature."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dynamics import SelfAttention
from solvers import integrate
from solvers.kinetic import KineticAugmented, integrate_with_kinetic, kinetic_rate
from tests.reference import F64, fitted_slope


class Linear(nn.Module):
    """x_i' = A x_i for every token."""

    def __init__(self, matrix: torch.Tensor) -> None:
        super().__init__()
        self.matrix = nn.Parameter(matrix)

    def forward(self, t, x):
        return x @ self.matrix.T


def attention_field(d: int = 3) -> SelfAttention:
    return SelfAttention(d, beta=2.0, manifold="euclidean", heads=1)


@pytest.mark.parametrize(("a", "b"), [(0.4, 1.3), (-0.7, 0.0)])
def test_linear_field_has_the_closed_form_energy(generator, a, b):
    """A = a I + b J, J skew and orthogonal: |e^{tA} x0| = e^{at} |x0| and A^T A = (a^2 + b^2) I,
    so K(t) = (a^2 + b^2) (1/n) sum_i |x0_i|^2 (e^{2at} - 1) / (2a), for every system of a batch."""
    d = 4
    rotation = torch.zeros(d, d, dtype=F64)
    rotation[0, 1], rotation[1, 0], rotation[2, 3], rotation[3, 2] = 1.0, -1.0, -1.0, 1.0
    field = Linear(a * torch.eye(d, dtype=F64) + b * rotation)
    x0 = torch.randn(2, 3, 5, d, generator=generator, dtype=F64)
    t = torch.linspace(0, 2.0, 9, dtype=F64)
    xs, energy = integrate_with_kinetic(field, x0, t, rtol=1e-12, atol=1e-13)
    assert energy.shape == (9, 2, 3)
    growth = (a * a + b * b) * torch.expm1(2 * a * t)[:, None, None] / (2 * a)
    expected = x0.pow(2).sum(-1).mean(-1) * growth
    assert ((energy - expected).abs() / expected.abs().clamp_min(1e-300))[1:].max() < 1e-9
    assert energy[0].abs().max() == 0
    assert (xs - integrate(field, x0, t, rtol=1e-12, atol=1e-13)).abs().max() < 1e-10


def test_euler_energy_is_the_left_riemann_sum_along_the_euler_trajectory(generator):
    field = attention_field()
    x0 = torch.randn(4, 6, 3, generator=generator, dtype=F64)
    t = torch.linspace(0, 1.5, 13, dtype=F64)
    xs, energy = integrate_with_kinetic(field, x0, t, method="euler")
    plain = integrate(field, x0, t, method="euler")
    assert (xs - plain).abs().max() == 0
    rates = torch.stack(
        [field(s, x).pow(2).sum(-1).mean(-1) for s, x in zip(t[:-1], plain[:-1], strict=True)]
    )
    riemann = torch.cat([torch.zeros(1, 4, dtype=F64), torch.cumsum(rates * (1.5 / 12), 0)])
    assert (energy - riemann).abs().max() < 1e-13


def test_euler_energy_converges_at_order_one(generator):
    """As the step h shrinks, the Riemann sum tends to the exact energy with error O(h)."""
    field = attention_field()
    x0 = torch.randn(6, 3, generator=generator, dtype=F64)
    exact = integrate_with_kinetic(field, x0, [0.0, 2.0], rtol=1e-12, atol=1e-13)[1][-1]
    steps = [2.0 / 16, 2.0 / 32, 2.0 / 64, 2.0 / 128]
    errors = [
        float(
            (
                integrate_with_kinetic(field, x0, [0.0, 2.0], method="euler", step_size=h)[1][-1]
                - exact
            ).abs()
        )
        for h in steps
    ]
    assert fitted_slope(steps, errors) == pytest.approx(1.0, abs=0.1)


def test_adaptive_energy_equals_a_separate_quadrature_of_the_speed(generator):
    """The augmented dopri5 solve against composite Simpson on |f|^2 along a dense trajectory."""
    field = attention_field()
    x0 = torch.randn(3, 7, 3, generator=generator, dtype=F64)
    T, intervals = 2.0, 400
    t = torch.linspace(0, T, intervals + 1, dtype=F64)
    xs = integrate(field, x0, t, rtol=1e-12, atol=1e-13)
    rates = torch.stack([kinetic_rate(field(s, x))[..., 0, 0] for s, x in zip(t, xs, strict=True)])
    simpson = torch.ones(intervals + 1, dtype=F64)
    simpson[1:-1:2], simpson[2:-1:2] = 4.0, 2.0
    quadrature = (simpson[:, None] * rates).sum(0) * (T / intervals) / 3
    energy = integrate_with_kinetic(field, x0, [0.0, T], rtol=1e-12, atol=1e-13)[1][-1]
    assert (energy - quadrature).abs().max() < 1e-9 * quadrature.abs().max()


def test_float32_and_adjoint_gradients(generator):
    matrix = 0.5 * torch.randn(3, 3, generator=generator)
    x0 = torch.randn(5, 3, generator=generator)
    grads = []
    for adjoint in (False, True):
        field = Linear(matrix.clone())
        _, energy = integrate_with_kinetic(
            field, x0, [0.0, 1.0], rtol=1e-6, atol=1e-7, adjoint=adjoint
        )
        assert energy.dtype == torch.float32
        (gradient,) = torch.autograd.grad(energy[-1], field.matrix)
        grads.append(gradient)
    assert (grads[0] - grads[1]).abs().max() < 1e-4 * grads[0].abs().max()


def test_bad_states_are_refused():
    with pytest.raises(TypeError, match=r"tuple \(x, k\)"):
        KineticAugmented(attention_field())(0.0, torch.zeros(4, 3))
    with pytest.raises(TypeError, match=r"x0 must be a torch\.Tensor"):
        integrate_with_kinetic(attention_field(), (torch.zeros(4, 3),), [0.0, 1.0])
    with pytest.raises(ValueError, match="method='projected_euler'"):
        integrate_with_kinetic(
            attention_field(), torch.ones(4, 3), [0.0, 1.0], method="projected_euler"
        )
    with pytest.raises(TypeError, match="vector field"):
        KineticAugmented(3)


def test_kinetic_rate_is_the_mean_squared_speed_per_system():
    velocity = torch.arange(24, dtype=F64).reshape(2, 4, 3)
    rate = kinetic_rate(velocity)
    assert rate.shape == (2, 1, 1)
    assert rate.flatten().tolist() == [
        sum(v * v for v in range(12)) / 4,
        sum(v * v for v in range(12, 24)) / 4,
    ]
