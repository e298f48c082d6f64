"""Hamiltonian momentum attention: the closed-form gradient, conservation and dissipation of H."""

from __future__ import annotations

import pytest
import torch

from dynamics import HamiltonianAttention
from solvers import integrate
from tests.reference import F64


def random_field(generator, d=3, k=2, dtype=F64, **options):
    """Random Q, K of shape (k, d) and a random symmetric positive definite V = B."""
    query = torch.randn(k, d, generator=generator, dtype=dtype)
    key = torch.randn(k, d, generator=generator, dtype=dtype)
    root = torch.randn(d, d, generator=generator, dtype=dtype)
    value = root @ root.T / d + 0.5 * torch.eye(d, dtype=dtype)
    return HamiltonianAttention(d, query=query, key=key, value=value, **options)


def random_state(generator, shape, scale=1.0, dtype=F64):
    x = scale * torch.randn(*shape, generator=generator, dtype=dtype)
    return x, torch.randn(*shape, generator=generator, dtype=dtype)


@pytest.mark.parametrize("scale", [1.0, 4.0])
@pytest.mark.parametrize("heads", [1, 2])
def test_closed_form_gradient_equals_autograd(scale, heads, generator):
    """scale 4 gives logits of size ~20, where a naive sum of exponentials loses digits."""
    field = random_field(generator, d=4, k=4, heads=heads)
    x, p = random_state(generator, (2, 5, 4), scale)
    closed, autograd = field.grad_x(x, p), field.grad_x_autograd(x, p)
    relative = (closed - autograd).abs().max() / autograd.abs().max()
    assert relative < 1e-10
    assert autograd.abs().max() > 1e-3  # a non-trivial gradient


def test_multi_head_normaliser_averages_the_heads_kernels(generator):
    """z_i = (1/n) sum_j (1/H) sum_h exp(<Q_h x_i, K_h x_j> / sqrt(d / H)), written out."""
    field = random_field(generator, d=4, k=6, heads=2)
    x, _ = random_state(generator, (7, 4))
    kernels = [
        torch.exp((x @ field.query[rows].T) @ (x @ field.key[rows].T).T / 2**0.5)
        for rows in (slice(0, 3), slice(3, 6))
    ]
    naive_z = (sum(kernels) / 2).mean(-1)
    torch.testing.assert_close(field.log_normalizer(x).exp(), naive_z, rtol=1e-13, atol=0)


def test_grad_p_is_b_p_over_z_and_autograd_field_matches(generator):
    field = random_field(generator)
    x, p = random_state(generator, (6, 3))
    z = field.log_normalizer(x).exp()
    naive_z = torch.exp((x @ field.query.T) @ (x @ field.key.T).T / 3**0.5).mean(-1)
    torch.testing.assert_close(z, naive_z, rtol=1e-13, atol=0)
    torch.testing.assert_close(field.grad_p(x, p), (p @ field.value) / z[:, None])
    twin = random_field(torch.Generator().manual_seed(1234), gradient="autograd")
    state = (x, p)
    for a, b in zip(
        random_field(torch.Generator().manual_seed(1234))(1.0, state), twin(1.0, state), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_float32_follows_the_input(generator):
    field = random_field(generator)
    x, p = random_state(generator, (5, 3))
    grad_x, grad_p = field.gradients(x.float(), p.float())
    assert grad_x.dtype == grad_p.dtype == torch.float32
    torch.testing.assert_close(grad_x.double(), field.grad_x(x, p), rtol=1e-5, atol=1e-5)


def test_undamped_exact_flow_conserves_h(generator):
    """Over a horizon where the logits stay O(1): later, tokens escape and z_i grows like
    e^{S_ii}, so H is a difference of two large terms (the undamped flow in R^d is unbounded)."""
    field = random_field(generator, c_log=0.0, c_lin=0.0)
    x0, p0 = random_state(generator, (4, 3), scale=0.5)
    t = torch.linspace(0.0, 1.5, 16, dtype=F64)
    xs, ps = integrate(field, (x0, p0), t, rtol=1e-12, atol=1e-13)
    drift = (field.hamiltonian(xs, ps) - field.hamiltonian(x0, p0)).abs().max()
    assert drift < 1e-9
    assert (xs[-1] - x0).abs().max() > 0.1  # it moved


def test_damped_flow_dissipates_h_at_the_stated_rate(generator):
    """dH/dt = <grad H, (x', p')> = -alpha(t) sum_i p_i^T B p_i / z_i: grad H by autograd,
    (x', p') by the closed-form field, at points of a dopri5 trajectory from t0 = 1."""
    field = random_field(generator, c_log=3.0, c_lin=0.5)
    x0, p0 = random_state(generator, (4, 3), scale=0.5)
    t = torch.linspace(1.0, 4.0, 31, dtype=F64)
    xs, ps = integrate(field, (x0, p0), t, rtol=1e-12, atol=1e-13)
    energies = field.hamiltonian(xs, ps)
    for time, x, p in zip(t, xs, ps, strict=True):
        velocity = field(time, (x, p))
        _, rate = torch.func.jvp(field.hamiltonian, (x, p), velocity)
        bp = p @ field.value
        expected = -field.friction(time) * ((bp * p).sum(-1) / field.log_normalizer(x).exp()).sum()
        assert float(rate) == pytest.approx(float(expected), abs=1e-10)
        assert float(expected) < 0
    assert bool((energies[1:] < energies[:-1]).all())  # monotone decrease
    assert float(energies[0] - energies[-1]) > 0.1


def test_damping_factor_is_the_exact_friction_flow():
    """exp(-(eta(t + h) - eta(t))) = (t / (t + h))^c_log e^{-c_lin h}; stepping back undoes it."""
    field = HamiltonianAttention(2, c_log=3.0, c_lin=0.5, t0=2.0)
    t, h = torch.tensor(1.5, dtype=F64), torch.tensor(0.25, dtype=F64)
    expected = (1.5 / 1.75) ** 3 * torch.exp(torch.tensor(-0.125, dtype=F64))
    torch.testing.assert_close(field.damping_factor(t, h), expected)
    torch.testing.assert_close(
        field.damping_factor(t, h) * field.damping_factor(t + h, -h), 1.0 + 0 * t
    )
    assert field.friction(2.0) == pytest.approx(3.0 / 2.0 + 0.5)


def test_bad_arguments_are_refused_clearly(generator):
    with pytest.raises(ValueError, match=r"value must be symmetric positive definite.*eigenvalue"):
        HamiltonianAttention(2, value=torch.diag(torch.tensor([1.0, -1.0])))
    with pytest.raises(ValueError, match=r"value must be symmetric positive definite.*M - M\^T"):
        HamiltonianAttention(2, value=torch.tensor([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"value has shape \(2, 3\); expected \(3, 3\)"):
        HamiltonianAttention(3, value=torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"query has 2 rows and key has 3"):
        HamiltonianAttention(3, query=torch.ones(2, 3), key=torch.ones(3, 3))
    with pytest.raises(ValueError, match=r"heads=2 must divide the token dimension d=3"):
        HamiltonianAttention(3, heads=2)
    with pytest.raises(ValueError, match=r"heads=0 must be >= 1"):
        HamiltonianAttention(2, heads=0)
    with pytest.raises(ValueError, match=r"c_log=-1.0 must be >= 0"):
        HamiltonianAttention(2, c_log=-1.0)
    with pytest.raises(ValueError, match=r"t0=0.0 must be > 0"):
        HamiltonianAttention(2, t0=0.0)
    with pytest.raises(ValueError, match=r"gradient='finite'.*closed_form, autograd"):
        HamiltonianAttention(2, gradient="finite")
