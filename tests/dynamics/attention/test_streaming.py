"""The streaming log-sum-exp kernel against a dense computation, across tilings."""

from __future__ import annotations

import pytest
import torch

from dynamics import (
    attention_with_lse,
    fused_kernel_serves,
    short_attention_serves,
    softmax_attention,
    streaming_attention,
)
from tests.reference import F64


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block_elements", [1, 64, 1000, 1 << 22])
def test_tiles_give_the_dense_answer(causal, block_elements, generator):
    q = torch.randn(2, 3, 45, 5, generator=generator, dtype=F64)
    k = torch.randn(2, 3, 45, 5, generator=generator, dtype=F64)
    v = torch.randn(2, 3, 45, 2, generator=generator, dtype=F64)
    logits = 0.7 * q @ k.transpose(-1, -2)
    if causal:
        logits = logits.masked_fill(torch.ones(45, 45, dtype=torch.bool).triu(1), -torch.inf)
    out, lse = streaming_attention(q, k, v, scale=0.7, causal=causal, block_elements=block_elements)
    torch.testing.assert_close(out, torch.softmax(logits, -1) @ v, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lse, torch.logsumexp(logits, -1), rtol=1e-12, atol=1e-12)


def test_huge_logits_stay_finite_in_float32(generator):
    q = torch.nn.functional.normalize(torch.randn(300, 3, generator=generator), dim=-1)
    out, lse = streaming_attention(q, q, q, scale=1e4, block_elements=6000)
    assert torch.isfinite(out).all() and torch.isfinite(lse).all()
    assert lse.min() >= 1e4 * (1 - 1e-6)  # the self term alone gives e^{scale}


def dense(q, k, v, scale, causal):
    logits = scale * q @ k.transpose(-1, -2)
    if causal:
        n = q.shape[-2]
        logits = logits.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), -torch.inf)
    return torch.softmax(logits, -1) @ v, torch.logsumexp(logits, -1)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("spread", "scale"), [(1.0, 0.8), (1.0, -6.0), (3.0, 40.0)])
def test_fused_log_sum_exp_matches_the_dense_answer(causal, spread, scale, generator):
    """The extra-key trick of attention_with_lse, without gradients; the (3, 40) case has a
    loose Cauchy-Schwarz bound and takes the streaming fallback."""
    q, k = (spread * torch.randn(2, 60, 4, generator=generator, dtype=F64) for _ in range(2))
    v = torch.randn(2, 60, 3, generator=generator, dtype=F64)
    out, lse = attention_with_lse(q, k, v, scale=scale, causal=causal)
    expected_out, expected_lse = dense(q, k, v, scale, causal)
    torch.testing.assert_close(out, expected_out, rtol=1e-11, atol=1e-11)
    torch.testing.assert_close(lse, expected_lse, rtol=1e-11, atol=1e-11)


def test_fused_and_differentiable_paths_agree(generator):
    q, k, v = (torch.randn(3, 50, 5, generator=generator, dtype=F64) for _ in range(3))
    fused = attention_with_lse(q, k, v, scale=1.3)
    q.requires_grad_(True)
    tracked = attention_with_lse(q, k, v, scale=1.3)
    for a, b in zip(fused, tracked, strict=True):
        torch.testing.assert_close(a, b.detach(), rtol=1e-12, atol=1e-12)
    (gradient,) = torch.autograd.grad(tracked[1].sum(), q)
    torch.testing.assert_close(gradient, 1.3 * torch.softmax(1.3 * q @ k.mT, -1) @ k)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n", [30, 70])
def test_softmax_attention_pads_unequal_widths(causal, n, generator):
    """n = 30 takes the short-sequence kernel, n = 70 the fused one (padded)."""
    q, k = (torch.randn(2, n, 5, generator=generator, dtype=F64) for _ in range(2))
    v = torch.randn(2, n, 3, generator=generator, dtype=F64)
    assert short_attention_serves(q, k, v, None) is (n == 30)
    expected, _ = dense(q, k, v, 0.7, causal)
    torch.testing.assert_close(softmax_attention(q, k, v, scale=0.7, causal=causal), expected)


def test_fused_kernels_are_used_only_where_they_exist():
    assert fused_kernel_serves(torch.zeros(1))
    assert fused_kernel_serves(torch.zeros(1, dtype=F64))
    assert not fused_kernel_serves(torch.zeros(1, dtype=torch.bfloat16))
