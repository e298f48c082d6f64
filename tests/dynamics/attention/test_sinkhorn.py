"""Sinkhorn (doubly stochastic) attention against POT, a dense formula and its gradient flow."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch

from dynamics import SelfAttention, project_tangent, uniform_sphere
from dynamics.attention.sinkhorn import sinkhorn_attention, sinkhorn_matrix, sinkhorn_potentials
from solvers import integrate
from tests.reference import F64

# functorch's vmap of the CPU flash-attention backward falls back to a loop (correct, slower).
pytestmark = pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")


def symmetric_matrix(d: int, generator: torch.Generator) -> torch.Tensor:
    a = torch.randn(d, d, generator=generator, dtype=F64)
    return (a + a.T) / 4


def entropic_energy(x: torch.Tensor, w: torch.Tensor, beta: float) -> torch.Tensor:
    """F(X) = (1/2) [sum_ij pi_ij c_ij + sum_ij pi_ij log(n^2 pi_ij)], c_ij = -beta <x_i, W x_j>,
    pi = P / n the entropic optimal plan of the empirical measure with itself (dense, small n)."""
    n = x.shape[-2]
    pi = sinkhorn_matrix(x @ w.T, x, scale=beta, tol=1e-14) / n
    cost = -beta * x @ w @ x.transpose(-1, -2)
    return 0.5 * ((pi * cost).sum((-1, -2)) + (pi * torch.log(n * n * pi)).sum((-1, -2)))


@pytest.mark.parametrize("beta", [0.5, 5.0])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rows_and_columns_sum_to_one(beta, dtype, generator):
    x = uniform_sphere(40, 4, batch_shape=(2, 3), generator=generator, dtype=dtype)
    query = torch.randn(4, 4, generator=generator, dtype=dtype)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    p = sinkhorn_matrix(x @ query.T, x, scale=beta)  # default tolerance of the dtype
    assert p.shape == (2, 3, 40, 40)
    assert bool((p > 0).all())
    rounding = 40 * torch.finfo(dtype).eps
    assert float((p.sum(-1) - 1).abs().max()) <= rounding  # rows: exact after the last update
    assert float((p.sum(-2) - 1).abs().max()) <= tol + rounding


@pytest.mark.parametrize("beta", [0.5, 5.0])
def test_matches_pot_sinkhorn(beta, generator):
    n, d = 12, 3
    x = uniform_sphere(n, d, generator=generator, dtype=F64)
    query = torch.randn(d, d, generator=generator, dtype=F64)
    p = sinkhorn_matrix(x @ query.T, x, scale=beta, tol=1e-14)
    # P / n is the entropic plan between uniform marginals for the cost -beta <Q x_i, x_j>, reg 1.
    uniform = np.full(n, 1.0 / n)
    cost = (-beta * (x @ query.T) @ x.T).numpy()
    plan = ot.sinkhorn(uniform, uniform, cost, reg=1.0, method="sinkhorn_log", stopThr=1e-15,
                       numItermax=100_000)  # fmt: skip
    torch.testing.assert_close(p, torch.from_numpy(n * plan), rtol=0, atol=1e-12)


@pytest.mark.parametrize("manifold", ["sphere", "euclidean"])
def test_field_matches_dense_formula(manifold, generator):
    d, n = 4, 23
    x = uniform_sphere(n, d, batch_shape=(2,), generator=generator, dtype=F64)
    query, key, value = (torch.randn(2, d, d, generator=generator, dtype=F64) for _ in range(3))
    field = SelfAttention(
        d, beta=0.7, query=query, key=key, value=value, heads=2, normalization="sinkhorn",
        manifold=manifold, sinkhorn_tol=1e-13,
    )  # fmt: skip
    expected = 0
    for h in range(2):
        p = sinkhorn_matrix(x @ query[h].T, x @ key[h].T, scale=0.7, tol=1e-13)
        expected = expected + p @ x @ value[h].T
    if manifold == "sphere":
        expected = project_tangent(x, expected)
    torch.testing.assert_close(field(0.0, x), expected, rtol=1e-11, atol=1e-11)


def test_potentials_batch_and_attention_agree(generator):
    q = torch.randn(3, 15, 2, generator=generator, dtype=F64)
    k = torch.randn(15, 2, generator=generator, dtype=F64)  # broadcast against q's batch
    v = torch.randn(3, 15, 5, generator=generator, dtype=F64)
    f, g = sinkhorn_potentials(q, k, scale=0.5)
    assert f.shape == g.shape == (3, 15)
    for b in range(3):
        f_b, g_b = sinkhorn_potentials(q[b], k, scale=0.5)
        torch.testing.assert_close(f[b], f_b, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(g[b], g_b, rtol=1e-9, atol=1e-9)
    expected = sinkhorn_matrix(q, k, scale=0.5) @ v
    torch.testing.assert_close(sinkhorn_attention(q, k, v, scale=0.5), expected)


@pytest.mark.parametrize("beta", [1.0, 2.0])
@pytest.mark.parametrize("manifold", ["euclidean", "sphere"])
def test_gradient_flow_identity(beta, manifold, generator):
    """x_i' = -(n / beta) grad_{x_i} F on R^d (its tangent part on the sphere), hence
    dF/dt = <grad F, x'> = -(beta / n) sum_i |x_i'|^2, checked by autograd at random points."""
    d, n = 3, 9
    w = symmetric_matrix(d, generator)
    field = SelfAttention(
        d, beta=beta, query=w, value=w, normalization="sinkhorn", manifold=manifold,
        sinkhorn_tol=1e-14,
    )  # fmt: skip
    for _ in range(3):
        if manifold == "sphere":
            x = uniform_sphere(n, d, generator=generator, dtype=F64)
        else:
            x = 0.7 * torch.randn(n, d, generator=generator, dtype=F64)
        velocity = field(0.0, x)
        point = x.clone().requires_grad_()
        (grad,) = torch.autograd.grad(entropic_energy(point, w, beta), point)
        rate = float((grad * velocity).sum())
        expected = -beta / n * float((velocity * velocity).sum())
        assert expected < 0
        assert abs(rate - expected) <= 1e-12 * abs(expected)
        if manifold == "euclidean":
            torch.testing.assert_close(velocity, -(n / beta) * grad, rtol=1e-11, atol=1e-13)


def test_entropic_energy_decreases_along_trajectory(generator):
    d, n = 3, 8
    w = symmetric_matrix(d, generator)
    field = SelfAttention(
        d, query=w, value=w, normalization="sinkhorn", manifold="euclidean", sinkhorn_tol=1e-12
    )
    x0 = 0.7 * torch.randn(n, d, generator=generator, dtype=F64)
    times = torch.linspace(0.0, 2.0, 11, dtype=F64)
    path = integrate(field, x0, times, method="dopri5", rtol=1e-9, atol=1e-11)
    energy = entropic_energy(path, w, 1.0)
    steps = energy.diff()
    assert bool((steps < 0).all()), energy
    assert float(energy[0] - energy[-1]) > 1e-2


def test_jacobian_symmetric_for_sinkhorn_not_for_softmax(generator):
    d, n = 3, 6
    w = symmetric_matrix(d, generator)
    x = 0.7 * torch.randn(n, d, generator=generator, dtype=F64)

    def asymmetry(normalization):
        field = SelfAttention(
            d, query=w, value=w, normalization=normalization, manifold="euclidean",
            sinkhorn_tol=1e-14,
        )  # fmt: skip
        jac = torch.func.jacrev(lambda y: field(0.0, y))(x).reshape(n * d, n * d)
        return float((jac - jac.T).abs().max())

    assert asymmetry("sinkhorn") <= 1e-8
    assert asymmetry("softmax") > 1e-3


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sinkhorn_tol": 0.0}, ValueError, "sinkhorn_tol=0.0 must be > 0"),
        ({"sinkhorn_tol": -1e-3}, ValueError, "sinkhorn_tol"),
        ({"sinkhorn_tol": float("nan")}, ValueError, "sinkhorn_tol=nan must be finite"),
        ({"sinkhorn_tol": "1e-9"}, TypeError, "sinkhorn_tol"),
        ({"sinkhorn_iters": 0}, ValueError, "sinkhorn_iters=0 must be >= 1"),
        ({"sinkhorn_iters": 10.5}, TypeError, "sinkhorn_iters"),
        ({"causal": True}, ValueError, "causal=True is not accepted with normalization='sinkhorn'"),
    ],
)
def test_bad_options_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        SelfAttention(3, normalization="sinkhorn", **kwargs)


def test_unconverged_sinkhorn_raises(generator):
    x = uniform_sphere(20, 3, generator=generator, dtype=F64)
    field = SelfAttention(3, beta=8.0, normalization="sinkhorn", sinkhorn_iters=2)
    with pytest.raises(ValueError, match="sinkhorn_iters=2: Sinkhorn did not reach"):
        field(0.0, x)


@pytest.mark.parametrize("bad", [0.0, float("nan")])
def test_a_token_without_a_direction_stops_sinkhorn_at_once_with_the_cause(bad, generator):
    """A zero token on the sphere (0 / 0) or a NaN one makes the scaling NaN: one iteration, and
    an error naming the input, not the iteration budget."""
    x = uniform_sphere(6, 3, generator=generator, dtype=F64)
    x[2] = bad
    field = SelfAttention(3, normalization="sinkhorn", sinkhorn_iters=10**6)
    with pytest.raises(ValueError, match=r"NaN or infinite entries .* give finite tokens"):
        field(0.0, x)


def test_unequal_query_and_key_counts_refused(generator):
    q = torch.randn(4, 2, generator=generator, dtype=F64)
    with pytest.raises(ValueError, match="as many queries as keys"):
        sinkhorn_potentials(q, q[:3], scale=1.0)
