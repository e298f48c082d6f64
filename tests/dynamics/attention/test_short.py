"""The short-sequence attention kernel against a dense computation, and where it serves."""

from __future__ import annotations

import pytest
import torch

from dynamics import short_attention, short_attention_serves, softmax_attention
from dynamics.attention import short
from tests.reference import F64


def dense(q, k, v, scale, causal=False, key_bias=None):
    logits = scale * q @ k.transpose(-1, -2)
    if key_bias is not None:
        logits = logits + key_bias[..., None, :]
    if causal:
        n_q, n_k = logits.shape[-2:]
        logits = logits.masked_fill(torch.ones(n_q, n_k, dtype=torch.bool).triu(1), -torch.inf)
    return torch.softmax(logits, -1) @ v


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("dtype", [F64, torch.float32])
def test_tiles_give_the_dense_answer(causal, biased, dtype, generator, monkeypatch):
    """Keys broadcast over the batch, a key bias with a removed key (-inf), 40 systems in tiles
    of 3 (the last one short)."""
    monkeypatch.setattr(short, "TILE_ELEMENTS", 3 * 7 * 9)
    q = torch.randn(5, 8, 7, 4, generator=generator, dtype=dtype)
    k = torch.randn(5, 1, 9, 4, generator=generator, dtype=dtype)
    v = torch.randn(5, 8, 9, 3, generator=generator, dtype=dtype)
    bias = None
    if biased:
        bias = torch.randn(5, 8, 9, generator=generator, dtype=dtype)
        bias[..., 3] = -torch.inf
    out = short_attention(q, k, v, scale=0.7, causal=causal, key_bias=bias)
    tolerance = 1e-12 if dtype == F64 else 1e-5
    expected = dense(q, k, v, 0.7, causal, bias)
    torch.testing.assert_close(out, expected, rtol=tolerance, atol=tolerance)


def test_huge_logits_stay_finite(generator):
    """At scale 1e4 each token's self term dominates: the output is the token itself."""
    x = torch.randn(64, 32, 8, generator=generator, dtype=F64)
    x = x / torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    out = short_attention(x, x, x, scale=1e4)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, x, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("n", "width", "dtype", "grad", "serves"),
    [
        (64, 16, F64, False, True),
        (65, 16, F64, False, False),
        (64, 17, F64, False, False),
        (8, 32, torch.float32, False, True),
        (9, 32, torch.float32, False, False),
        (8, 33, torch.float32, False, False),
        (8, 8, torch.bfloat16, False, False),
        (32, 2, F64, True, True),
        (33, 2, F64, True, False),
        (32, 3, F64, True, False),
        (8, 2, torch.float32, True, True),
        (9, 2, torch.float32, True, False),
        (8, 3, torch.float32, True, False),
    ],
)
def test_it_serves_where_it_was_measured_faster(n, width, dtype, grad, serves):
    q = torch.zeros(2, n, width, dtype=dtype, requires_grad=grad)
    assert short_attention_serves(q, q, q, None) is serves
    if grad:  # with no derivative tracked the wider limits apply
        keys, widest = short.SHORT_LIMITS[dtype]
        with torch.no_grad():
            assert short_attention_serves(q, q, q, None) is (n <= keys and width <= widest)


def test_its_derivatives_are_the_fused_kernels(generator):
    """It is differentiable, with the fused kernel's gradient (which ``softmax_attention`` takes
    when a derivative is tracked)."""
    q, k, v = (torch.randn(3, 20, 5, generator=generator, dtype=F64) for _ in range(3))
    q.requires_grad_(True)
    assert not short_attention_serves(q, k, v, None)  # heads 5 wide
    out = short_attention(q, k, v, scale=1.3)
    (gradient,) = torch.autograd.grad(out.square().sum(), q)
    (expected,) = torch.autograd.grad(softmax_attention(q, k, v, scale=1.3).square().sum(), q)
    torch.testing.assert_close(gradient, expected, rtol=1e-12, atol=1e-12)


def test_an_empty_batch_gives_an_empty_answer():
    q = torch.zeros(0, 4, 3, dtype=F64)
    assert short_attention(q, q, q, scale=1.0).shape == (0, 4, 3)


def test_a_key_bias_of_another_dtype_is_taken_in_the_queries_dtype(generator):
    """Every kernel of ``softmax_attention`` takes a float32 bias with float64 tokens: the short
    one (n = 9) as the fused one (n = 80) does."""
    for n in (9, 80):
        q, k, v = (torch.randn(2, n, 3, generator=generator, dtype=F64) for _ in range(3))
        bias = torch.randn(2, n, generator=generator, dtype=torch.float32)
        assert short_attention_serves(q, k, v, bias) is (n == 9)
        out = softmax_attention(q, k, v, scale=0.5, key_bias=bias)
        expected = dense(q, k, v, 0.5, key_bias=bias.double())
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
