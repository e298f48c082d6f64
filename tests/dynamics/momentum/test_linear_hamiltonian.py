"""Linear Hamiltonian attention (accelerated Stein flow, bilinear kernel) against its exact moment
ODE, its affine flow map, its Hamiltonian and its closed-form gradients."""

from __future__ import annotations

import math

import pytest
import torch

from dynamics import (
    HamiltonianAttention,
    LinearAttention,
    LinearHamiltonianAttention,
    LinearHamiltonianMoments,
    phase_space_moments,
)
from solvers import integrate
from tests.reference import F64, fitted_slope

# Q = K = ROOT, so W = ROOT^T ROOT is symmetric positive definite; V negative definite confines.
ROOT = torch.tensor([[0.8, 0.2, 0.0], [0.0, 0.6, -0.3], [0.1, 0.0, 0.7]], dtype=F64)
VALUE = -torch.tensor([[1.0, 0.3, 0.0], [0.3, 0.8, -0.2], [0.0, -0.2, 1.2]], dtype=F64)
# The law: x0 ~ N(MEAN, CHOL CHOL^T), momenta p0 = SLOPE x0 + OFFSET (affine in x0).
MEAN = torch.tensor([0.5, -0.3, 0.2], dtype=F64)
CHOL = 0.8 * torch.tensor([[1.0, 0.0, 0.0], [0.4, 0.8, 0.0], [-0.2, 0.3, 0.6]], dtype=F64)
SLOPE = 0.5 * torch.tensor([[0.2, -0.3, 0.1], [0.4, 0.1, 0.0], [0.0, 0.2, -0.3]], dtype=F64)
OFFSET = torch.tensor([0.3, 0.1, -0.2], dtype=F64)

UNDAMPED = {"c_log": 0.0, "c_lin": 0.0}
DAMPED = {"c_log": 3.0, "c_lin": 0.5}


def make_field(bias: float = 0.5, **damping: float) -> LinearHamiltonianAttention:
    return LinearHamiltonianAttention(3, query=ROOT, key=ROOT, value=VALUE, bias=bias, **damping)


def sample(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x0 = MEAN + torch.randn(n, 3, generator=generator, dtype=F64) @ CHOL.T
    return x0, x0 @ SLOPE.T + OFFSET


def law_moments() -> tuple[torch.Tensor, ...]:
    """(m_x, m_p, S_xx, S_xp, S_pp) of the law of (x0, SLOPE x0 + OFFSET), in closed form."""
    s_xx = CHOL @ CHOL.T + torch.outer(MEAN, MEAN)
    mean_p = SLOPE @ MEAN + OFFSET
    s_xp = s_xx @ SLOPE.T + torch.outer(MEAN, OFFSET)
    cross = SLOPE @ torch.outer(MEAN, OFFSET)
    s_pp = SLOPE @ s_xx @ SLOPE.T + cross + cross.T + torch.outer(OFFSET, OFFSET)
    return MEAN, mean_p, s_xx, s_xp, s_pp


def random_state(generator, shape):
    return tuple(torch.randn(*shape, generator=generator, dtype=F64) for _ in range(2))


def test_field_is_the_pairwise_stein_formula(generator):
    """x_i' = (1/n) sum_j k_ij p_j, p_i' = V x_i - (1/n) sum_j <p_i, p_j> W x_j - alpha p_i."""
    field = make_field(**DAMPED)
    x, p = random_state(generator, (2, 7, 3))
    kernel = x @ ROOT.T @ ROOT @ x.transpose(-1, -2) + 0.5
    velocity, force = field(torch.tensor(2.0, dtype=F64), (x, p))
    torch.testing.assert_close(velocity, kernel @ p / 7)
    expected = x @ VALUE - (p @ p.transpose(-1, -2)) @ (x @ ROOT.T @ ROOT) / 7 - (1.5 + 0.5) * p
    torch.testing.assert_close(force, expected)


def test_stein_velocity_at_p_equal_minus_grad_f_is_linear_attention(generator):
    """With bias 0 and p_j = -grad f(x_j) = V x_j the velocity is LinearAttention's."""
    field = make_field(bias=0.0)
    attention = LinearAttention(3, query=ROOT, key=ROOT, value=VALUE)
    x = torch.randn(4, 9, 3, generator=generator, dtype=F64)
    velocity, _ = field(torch.tensor(1.0, dtype=F64), (x, x @ VALUE))
    torch.testing.assert_close(velocity, attention(0.0, x), rtol=1e-12, atol=1e-14)


def test_closed_form_gradients_equal_autograd(generator):
    field = make_field(bias=0.7)
    x, p = random_state(generator, (2, 6, 3))
    for closed, autograd in zip(field.gradients(x, p), field.gradients_autograd(x, p), strict=True):
        assert (closed - autograd).abs().max() / autograd.abs().max() < 1e-10
        assert autograd.abs().max() > 1e-2  # a non-trivial gradient


@pytest.mark.parametrize(
    ("damping", "start", "stop"),
    [(UNDAMPED, 0.0, 0.75), (DAMPED, 1.0, 3.0)],
    ids=["undamped", "damped"],
)
def test_particles_match_the_moment_ode(damping, start, stop, generator):
    """n = 2 10^4 Gaussian samples flowed by dopri5: within 4 / sqrt(n) of the moment ODE started
    from the law's moments (sampling error), and to solver tolerance of the ODE started from the
    sample's own moments (the closure is exact for any finite cloud)."""
    n = 20_000
    field = make_field(**damping)
    moments = LinearHamiltonianMoments(field)
    x0, p0 = sample(n, generator)
    t = torch.linspace(start, stop, 5, dtype=F64)
    xs, ps = integrate(field, (x0, p0), t, rtol=1e-8, atol=1e-10)
    observed = phase_space_moments(xs, ps)
    from_law = integrate(moments, law_moments(), t, rtol=1e-10, atol=1e-12)
    from_sample = integrate(moments, phase_space_moments(x0, p0), t, rtol=1e-10, atol=1e-12)
    bound = 4 / math.sqrt(n)
    for got, law, exact in zip(observed, from_law, from_sample, strict=True):
        assert (got - law).abs().max() < bound
        assert (got - exact).abs().max() < 1e-7
    change = max(float((law[-1] - law[0]).abs().max()) for law in from_law)
    assert change > 0.3  # the moments really moved ...
    assert max(float(law.abs().max()) for law in from_law) < 2.0  # ... and stayed bounded


def affine_fit_residual(start: torch.Tensor, end: torch.Tensor) -> float:
    """Relative residual of the least-squares fit end ~ [start, 1] @ Phi."""
    design = torch.cat([start, torch.ones_like(start[:, :1])], -1)
    phi = torch.linalg.lstsq(design, end).solution
    return ((design @ phi - end).norm() / end.norm()).item()


def test_flow_map_is_affine_so_elliptical_laws_stay_elliptical(generator):
    field = make_field(**DAMPED)
    x0, p0 = sample(2000, generator)
    xs, ps = integrate(field, (x0, p0), [1.0, 3.0], rtol=1e-10, atol=1e-12)
    assert affine_fit_residual(x0, xs[-1]) < 1e-9  # momenta affine in x0: x(t) affine in x0
    assert affine_fit_residual(x0, ps[-1]) < 1e-9
    assert affine_fit_residual(x0, xs[-1] - x0) > 0  # not the trivial (identity) map ...
    assert (xs[-1] - x0).abs().max() > 0.1
    # independent momenta: (x0, p0) -> (x(t), p(t)) is affine on phase space
    q0 = 0.5 * torch.randn(2000, 3, generator=generator, dtype=F64)
    ys, qs = integrate(field, (x0, q0), [1.0, 3.0], rtol=1e-10, atol=1e-12)
    assert affine_fit_residual(torch.cat([x0, q0], -1), torch.cat([ys[-1], qs[-1]], -1)) < 1e-9
    # the contrast: the exponential kernel of HamiltonianAttention is not affine
    contrast = HamiltonianAttention(3, query=ROOT, key=ROOT, c_log=3.0)
    zs, _ = integrate(contrast, (x0[:200], p0[:200]), [1.0, 3.0], rtol=1e-8, atol=1e-10)
    assert affine_fit_residual(x0[:200], zs[-1]) > 1e-3


def test_undamped_flow_conserves_h(generator):
    field = make_field(**UNDAMPED)
    x0, p0 = sample(50, generator)
    t = torch.linspace(0.0, 2.0, 11, dtype=F64)
    xs, ps = integrate(field, (x0, p0), t, rtol=1e-12, atol=1e-13)
    energies = field.hamiltonian(xs, ps)
    assert (energies - energies[0]).abs().max() < 1e-9 * energies[0].abs()
    assert (xs[-1] - x0).abs().max() > 0.1  # it moved
    # H / n is the moment ODE's mean-field energy of the empirical moments
    per_token = LinearHamiltonianMoments(field).energy(phase_space_moments(xs, ps))
    torch.testing.assert_close(per_token * 50, energies, rtol=1e-13, atol=0)


def test_damped_flow_dissipates_h_at_minus_two_alpha_t(generator):
    """dH/dt = <grad H, (x', p')> = -2 alpha(t) T: grad H by autograd (jvp), (x', p') by the
    closed-form field, at points of a dopri5 trajectory."""
    field = make_field(**DAMPED)
    x0, p0 = sample(40, generator)
    t = torch.linspace(1.0, 4.0, 16, dtype=F64)
    xs, ps = integrate(field, (x0, p0), t, rtol=1e-12, atol=1e-13)
    energies = field.hamiltonian(xs, ps)
    for time, x, p in zip(t, xs, ps, strict=True):
        _, rate = torch.func.jvp(field.hamiltonian, (x, p), field(time, (x, p)))
        expected = -2 * field.friction(time) * field.kinetic_energy(x, p)
        assert float(rate) == pytest.approx(float(expected), abs=1e-10)
        assert float(expected) < 0
    assert bool((energies[1:] < energies[:-1]).all())  # monotone decrease
    assert float(energies[0] - energies[-1]) > 0.1


def test_runs_with_the_hamiltonian_steppers_at_their_order(generator):
    """tao (order 2, copies carried as Tao analyses it) and presymplectic_euler (order 1): observed
    order against a dopri5 reference."""
    field = make_field(**DAMPED)
    x0, p0 = sample(30, generator)
    t = torch.tensor([1.0, 2.0], dtype=F64)
    reference = integrate(field, (x0, p0), t, rtol=1e-12, atol=1e-13)
    steps = [1 / 32, 1 / 64, 1 / 128]
    for method, start, order in (
        ("tao", (x0, p0, x0, p0), 2),
        ("presymplectic_euler", (x0, p0), 1),
    ):
        errors = []
        for h in steps:
            states = integrate(field, start, t, method=method, step_size=h)
            gaps = (s[-1] - r[-1] for s, r in zip(states[:2], reference, strict=True))
            errors.append(max(float(gap.abs().max()) for gap in gaps))
        assert fitted_slope(steps, errors) == pytest.approx(order, abs=0.1)


def test_float32_follows_the_input(generator):
    field = make_field()
    x, p = random_state(generator, (5, 3))
    grad_x, grad_p = field.gradients(x.float(), p.float())
    assert grad_x.dtype == grad_p.dtype == torch.float32
    torch.testing.assert_close(grad_x.double(), field.grad_x(x, p), rtol=1e-5, atol=1e-5)


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(ValueError, match=r"query\^T key must be symmetric.*M - M\^T"):
        LinearHamiltonianAttention(2, query=torch.tensor([[1.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"query\^T key must be .*semi-definite.*eigenvalue"):
        LinearHamiltonianAttention(2, query=torch.diag(torch.tensor([1.0, -1.0])))
    with pytest.raises(ValueError, match=r"value must be symmetric"):
        LinearHamiltonianAttention(2, value=torch.tensor([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"value has shape \(2, 3\); expected \(3, 3\)"):
        LinearHamiltonianAttention(3, value=torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"bias=-1.0 must be >= 0"):
        LinearHamiltonianAttention(2, bias=-1.0)
    with pytest.raises(TypeError, match=r"bias='1' must be a real number"):
        LinearHamiltonianAttention(2, bias="1")
    with pytest.raises(ValueError, match=r"c_lin=-0.5 must be >= 0"):
        LinearHamiltonianAttention(2, c_lin=-0.5)
    field, x = LinearHamiltonianAttention(2), torch.zeros(3, 2)
    with pytest.raises(TypeError, match=r"needs a LinearHamiltonianAttention field"):
        LinearHamiltonianMoments(HamiltonianAttention(2))
    moments = LinearHamiltonianMoments(field)
    with pytest.raises(TypeError, match=r"state \(m_x, m_p, S_xx, S_xp, S_pp\).*tuple of 2"):
        moments(torch.tensor(1.0), (x, x))
    state = phase_space_moments(x, x)
    with pytest.raises(ValueError, match=r"S_xp must have shape \(\.\.\., 2, 2\); got \(2,\)"):
        moments(torch.tensor(1.0), (*state[:3], torch.zeros(2), state[4]))
