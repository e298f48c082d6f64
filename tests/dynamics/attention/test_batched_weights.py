"""Self-attention with per-system weights: the field of SelfAttention with those weights, the
gradient structure of USA with V = +-A, tangency and large-beta stability."""

from __future__ import annotations

import math

import pytest
import torch

import dynamics


def cloud_and_weights(query_key, value, *, systems=3, n=6, d=4, dtype=torch.float64):
    generator = torch.Generator().manual_seed(0)
    x = dynamics.uniform_sphere(n, d, batch_shape=(systems,), generator=generator, dtype=dtype)
    w = dynamics.sample_weights(
        d, query_key, value, batch_shape=(systems,), generator=generator, dtype=dtype
    )
    return x, w


@pytest.mark.parametrize("normalization", dynamics.BATCHED_NORMALIZATIONS)
@pytest.mark.parametrize(("query_key", "value"), [("gaussian", "gaussian"), ("goe", "minus_ktq")])
def test_each_system_moves_as_self_attention_with_its_weights(normalization, query_key, value):
    """Q = A^T, K = I, V: logits <A^T x_i, x_j> = x_i^T A x_j, the same field."""
    x, w = cloud_and_weights(query_key, value)
    field = dynamics.BatchedWeightsAttention(beta=2.5, normalization=normalization)
    out = field(torch.zeros(()), x, w)
    eye = torch.eye(x.shape[-1], dtype=x.dtype)
    for s in range(len(x)):
        reference = dynamics.SelfAttention(
            x.shape[-1],
            beta=2.5,
            normalization=normalization,
            query=w[s, 0].T,
            key=eye,
            value=w[s, 1],
        )(torch.zeros(()), x[s])
        torch.testing.assert_close(out[s], reference, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(("value", "sign"), [("plus_ktq", 1.0), ("minus_ktq", -1.0)])
def test_usa_with_v_equal_to_plus_minus_a_is_the_energy_gradient(value, sign):
    """For symmetric A and V = +-A / c, USA is f_i = +-(n / c) P_{x_i} grad_{x_i} E with
    E(x) = (1 / (2 beta n^2)) sum_ij e^{beta x_i^T A x_j}: the field ascends (descends) E."""
    x, w = cloud_and_weights("goe", value)
    n, d, beta = x.shape[-2], x.shape[-1], 1.5
    c = math.sqrt(d * (d + 1) / d)
    field = dynamics.BatchedWeightsAttention(beta=beta, normalization="uniform")
    out = field(torch.zeros(()), x, w)
    a = w[:, 0]
    x_grad = x.clone().requires_grad_(True)
    energy = torch.exp(beta * x_grad @ a @ x_grad.transpose(-1, -2)).sum() / (2 * beta * n * n)
    (grad,) = torch.autograd.grad(energy, x_grad)
    expected = sign * (n / c) * dynamics.project_tangent(x, grad)
    torch.testing.assert_close(out, expected, rtol=1e-11, atol=1e-12)
    rate = (grad * out).sum((-1, -2))
    assert bool((sign * rate > 0).all())


def test_tangent_and_finite_at_large_beta_in_float32():
    x, w = cloud_and_weights("gaussian", "gaussian", dtype=torch.float32, d=8, n=16)
    out = dynamics.BatchedWeightsAttention(beta=500.0)(torch.zeros(()), x, w)
    assert out.dtype == torch.float32 and bool(torch.isfinite(out).all())
    assert float((out * x).sum(-1).abs().max()) < 1e-4 * float(out.abs().max())


def test_weights_broadcast_over_the_batch():
    """One set of weights (2, d, d) moves every system as its own copy would."""
    x, w = cloud_and_weights("wigner", "plus_ktq")
    field = dynamics.BatchedWeightsAttention(beta=1.0)
    shared = field(torch.zeros(()), x, w[0])
    torch.testing.assert_close(shared, field(torch.zeros(()), x, w[:1].expand_as(w)))


def test_bad_input_names_the_argument():
    x, w = cloud_and_weights("goe", "identity")
    field = dynamics.BatchedWeightsAttention()
    with pytest.raises(ValueError, match=r"weights must have shape \(\.\.\., 2, 4, 4\)"):
        field(torch.zeros(()), x, w[..., :3])
    with pytest.raises(ValueError, match="normalization"):
        dynamics.BatchedWeightsAttention(normalization="sinkhorn")
    with pytest.raises((TypeError, ValueError), match="beta"):
        dynamics.BatchedWeightsAttention(beta=float("nan"))
