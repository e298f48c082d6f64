"""Causal self-attention against mathematics: the fixed first token, the two-token ODE and the
prefix identity with the full field."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.integrate import quad

from dynamics import SelfAttention, interaction_energy, softmax_attention, uniform_sphere
from solvers import integrate
from tests.reference import F64


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("d", [2, 3, 5])
def test_first_token_is_stationary_to_machine_precision(normalization, dtype, d, generator):
    """x_1' = P_{x_1}(w_11 x_1) = 0 for any Q, K (V = I): the first token attends to itself only.
    In floating point |x_1'| is the rounding of 1 - |u_1|^2 times the weight: a few ulps of the
    weight, which is 1 for SA and e^{beta <Q x_1, K x_1>} / n for USA."""
    n, beta = 50, 9.0
    x = uniform_sphere(n, d, batch_shape=(3,), generator=generator, dtype=F64).to(dtype)
    query, key = (torch.randn(d, d, generator=generator, dtype=F64).to(dtype) for _ in range(2))
    for matrices in ({}, {"query": query, "key": key}):
        field = SelfAttention(d, beta=beta, normalization=normalization, causal=True, **matrices)
        velocity = field(0.0, x)
        q1 = x[:, 0] if not matrices else x[:, 0] @ query.T
        k1 = x[:, 0] if not matrices else x[:, 0] @ key.T
        weight = 1.0 if normalization == "softmax" else torch.exp(beta * (q1 * k1).sum(-1)) / n
        eps = torch.finfo(dtype).eps
        bound = 4 * eps * torch.as_tensor(weight, dtype=dtype)
        assert (torch.linalg.vector_norm(velocity[:, 0], dim=-1) <= bound).all()
        assert torch.linalg.vector_norm(velocity[:, 1:], dim=-1).amax() > 1e3 * bound.max()


def two_token_rate(theta: float, beta: float, normalization: str) -> float:
    """theta' of the second token at angle theta from the first (fixed) one on S^1:
    SA: -sin(theta) / (1 + e^{beta (1 - cos theta)}); USA (Z = n = 2): -sin(theta)
    e^{beta cos theta} / 2."""
    if normalization == "softmax":
        return -math.sin(theta) / (1 + math.exp(beta * (1 - math.cos(theta))))
    return -math.sin(theta) * math.exp(beta * math.cos(theta)) / 2


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0])
def test_two_tokens_follow_the_closed_form_ode(normalization, beta):
    """x_1 = (1, 0) stays; x_2 = (cos theta, sin theta) with theta' = two_token_rate(theta): the
    field agrees pointwise, and along the solved trajectory the time to go from theta_0 to
    theta(t) is t = int_{theta(t)}^{theta_0} du / |theta'(u)| (quadrature)."""
    theta0 = 2.5
    x0 = torch.tensor([[1.0, 0.0], [math.cos(theta0), math.sin(theta0)]], dtype=F64)
    field = SelfAttention(2, beta=beta, normalization=normalization, causal=True)
    for theta in (0.3, 1.4, 2.9):
        x = torch.tensor([[1.0, 0.0], [math.cos(theta), math.sin(theta)]], dtype=F64)
        velocity = field(0.0, x)[1]
        tangent = torch.tensor([-math.sin(theta), math.cos(theta)], dtype=F64)
        assert float(velocity @ tangent) == pytest.approx(
            two_token_rate(theta, beta, normalization), rel=1e-11
        )
    times = torch.tensor([0.0, 0.5, 2.0, 6.0], dtype=F64)
    xs = integrate(field, x0, times, rtol=1e-11, atol=1e-13)
    angles = torch.atan2(xs[:, 1, 1], xs[:, 1, 0])
    for t, theta in zip(times[1:].tolist(), angles[1:].tolist(), strict=True):
        elapsed, _ = quad(
            lambda u: -1 / two_token_rate(u, beta, normalization), theta, theta0, epsabs=1e-13
        )
        assert elapsed == pytest.approx(t, rel=1e-8)
    if beta == 0.0:  # theta' = -sin(theta) / 2: tan(theta / 2) = tan(theta_0 / 2) e^{-t / 2}
        exact = 2 * torch.atan(math.tan(theta0 / 2) * torch.exp(-times / 2))
        torch.testing.assert_close(angles, exact, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("normalization", ["softmax", "uniform"])
@pytest.mark.parametrize("manifold", ["sphere", "euclidean"])
def test_causal_token_sees_the_full_field_of_its_prefix(normalization, manifold, generator):
    """Token k of the causal field is token k of the full field on x_1..x_k (the mask is full
    on a prefix). SA is exactly that; USA keeps Z = n, so the prefix field (Z = k) is rescaled
    by k / n. On the whole cloud the last token's velocity is the full field's."""
    n, d = 12, 3
    x = uniform_sphere(n, d, batch_shape=(2,), generator=generator, dtype=F64)
    query, key, value = (torch.randn(d, d, generator=generator, dtype=F64) for _ in range(3))
    options = {
        "beta": 2.0,
        "query": query,
        "key": key,
        "value": value,
        "normalization": normalization,
        "manifold": manifold,
    }
    causal = SelfAttention(d, causal=True, **options)(0.0, x)
    full = SelfAttention(d, **options)
    for k in range(1, n + 1):
        prefix = full(0.0, x[:, :k])[:, -1]
        scale = 1.0 if normalization == "softmax" else k / n
        torch.testing.assert_close(causal[:, k - 1], scale * prefix, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(causal[:, -1], full(0.0, x)[:, -1], rtol=1e-12, atol=1e-14)


def test_causal_softmax_at_zero_scale_is_the_running_mean(generator):
    """scale 0: token i takes the mean of v_1..v_i (the fused kernel must not meet 0 * -inf)."""
    q, k, v = (torch.randn(2, 1, 7, 3, generator=generator, dtype=F64) for _ in range(3))
    expected = v.cumsum(-2) / torch.arange(1, 8, dtype=F64)[:, None]
    torch.testing.assert_close(softmax_attention(q, k, v, scale=0.0, causal=True), expected)


def energy_rate(x: torch.Tensor, beta: float, causal: bool) -> float:
    """dE_beta/dt = <grad E_beta(x), f(x)> under the SA field."""
    x = x.clone().requires_grad_()
    (gradient,) = torch.autograd.grad(interaction_energy(x, beta), x)
    return float((gradient * SelfAttention(2, beta=beta, causal=causal)(0.0, x.detach())).sum())


def test_causal_sa_can_lower_the_energy_that_full_sa_raises(generator):
    """Full SA (Q = K = V = I) is a gradient ascent of E_beta on the sphere, so dE/dt >= 0;
    the causal field is not: x_1 at angle 0, x_2 at 1, eight tokens at 1.5. Token 2 sees only
    x_1 and itself and leaves the heavy group behind it, which lowers E (beta = 4)."""
    angles = torch.tensor([0.0, 1.0] + [1.5] * 8, dtype=F64)
    x = torch.stack([angles.cos(), angles.sin()], -1)
    assert energy_rate(x, 4.0, causal=True) < -0.02
    assert energy_rate(x, 4.0, causal=False) > 0
    cloud = uniform_sphere(30, 2, generator=generator, dtype=F64)
    assert energy_rate(cloud, 4.0, causal=False) > 0
